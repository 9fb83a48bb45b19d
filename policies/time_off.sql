-- app.time_off: every member reads their organisation's time off; managers and above change them.
-- The availability entry point (auth.open_slots) reads them for the claimed organisation.
alter table app.time_off enable row level security;
alter table app.time_off force row level security;

create policy "members can read their organisation's time off" on app.time_off
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above can add time off" on app.time_off
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can remove time off" on app.time_off
  for delete to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "availability reads the claimed organisation's time off" on app.time_off
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
