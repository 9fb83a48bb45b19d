-- app.services: every member reads their organisation's services; managers and above change them.
-- The availability entry point (auth.open_slots) reads them for the claimed organisation.
alter table app.services enable row level security;
alter table app.services force row level security;

create policy "members can read their organisation's services" on app.services
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above can add services" on app.services
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can change services" on app.services
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

create policy "availability reads the claimed organisation's services" on app.services
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));

-- A new organisation's example services are written by the entry point that creates it.
create policy "new organisations get example services" on app.services
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));
