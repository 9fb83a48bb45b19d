-- app.service_staff: every member reads their organisation's service assignments; managers and above change them.
-- The availability entry point (auth.open_slots) reads them for the claimed organisation.
alter table app.service_staff enable row level security;
alter table app.service_staff force row level security;

create policy "members can read their organisation's service assignments" on app.service_staff
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above can add service assignments" on app.service_staff
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can remove service assignments" on app.service_staff
  for delete to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "availability reads the claimed organisation's assignments" on app.service_staff
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
