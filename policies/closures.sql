-- app.closures: every member reads their organisation's closures; managers and above change them.
-- The availability entry point (auth.open_slots) reads them for the claimed organisation.
alter table app.closures enable row level security;
alter table app.closures force row level security;

create policy "members can read their organisation's closures" on app.closures
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above can add closures" on app.closures
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "availability reads the claimed organisation's closures" on app.closures
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
