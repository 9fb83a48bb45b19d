-- app.memberships: members see their organisation's team.
alter table app.memberships enable row level security;
alter table app.memberships force row level security;

create policy "members can read their organisation's memberships" on app.memberships
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "the key lookup can read every membership" on app.memberships
  for select to favcrm_owner
  using (true);

create policy "the bootstrap entry point can add the first member" on app.memberships
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));
