-- app.messaging_settings: every member reads the organisation's messaging rules (their
-- messages follow them); admins and owners set them.
alter table app.messaging_settings enable row level security;
alter table app.messaging_settings force row level security;

create policy "members read their organisation's messaging settings" on app.messaging_settings
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "admins and owners set the messaging settings" on app.messaging_settings
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'));

create policy "admins and owners change the messaging settings" on app.messaging_settings
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'))
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'));

-- A booking made from a web page (as the owner role) follows the messaging settings.
create policy "the web booking entry point reads the claimed organisation's settings" on app.messaging_settings
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
