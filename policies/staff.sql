-- app.staff: every member reads their organisation's staff profiles; managers and above change them.
-- The availability entry point (auth.open_slots) reads them for the claimed organisation.
alter table app.staff enable row level security;
alter table app.staff force row level security;

create policy "members can read their organisation's staff profiles" on app.staff
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above can add staff profiles" on app.staff
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can change staff profiles" on app.staff
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

create policy "availability reads the claimed organisation's staff profiles" on app.staff
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
