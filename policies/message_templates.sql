-- app.message_templates: every member reads their organisation's templates (what a booking's
-- confirmation says); managers and above make and change them.
alter table app.message_templates enable row level security;
alter table app.message_templates force row level security;

create policy "members read their organisation's templates" on app.message_templates
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above make templates" on app.message_templates
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above change templates" on app.message_templates
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

-- A booking made from a web page (as the owner role) renders its confirmation's template.
create policy "the web booking entry point reads the claimed organisation's templates" on app.message_templates
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
