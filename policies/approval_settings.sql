-- app.approval_settings: every member reads which operations need approval (their agents meet
-- it); admins and owners set it.
alter table app.approval_settings enable row level security;
alter table app.approval_settings force row level security;

create policy "members read their organisation's approval settings" on app.approval_settings
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "admins and owners set the approval settings" on app.approval_settings
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'));

create policy "admins and owners change the approval settings" on app.approval_settings
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'))
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'));
