-- app.hours_exceptions: every member reads their organisation's one-off hours; managers and above change them.
-- The availability entry point (auth.open_slots) reads them for the claimed organisation.
alter table app.hours_exceptions enable row level security;
alter table app.hours_exceptions force row level security;

create policy "members can read their organisation's one-off hours" on app.hours_exceptions
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above can add one-off hours" on app.hours_exceptions
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can remove one-off hours" on app.hours_exceptions
  for delete to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "availability reads the claimed organisation's one-off hours" on app.hours_exceptions
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
