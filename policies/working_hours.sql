-- app.working_hours: every member reads their organisation's working hours; managers and above change them.
-- The availability entry point (auth.open_slots) reads them for the claimed organisation.
alter table app.working_hours enable row level security;
alter table app.working_hours force row level security;

create policy "members can read their organisation's working hours" on app.working_hours
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above can add working hours" on app.working_hours
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can remove working hours" on app.working_hours
  for delete to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "availability reads the claimed organisation's working hours" on app.working_hours
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
