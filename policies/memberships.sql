-- app.memberships: members see their organisation's team; owners and admins change it.
alter table app.memberships enable row level security;
alter table app.memberships force row level security;

create policy "members can read their organisation's memberships" on app.memberships
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "owners and admins can update their organisation's memberships" on app.memberships
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'))
  with check (org_id = (select auth.org_id()));

create policy "the key lookup can read every membership" on app.memberships
  for select to favcrm_owner
  using (true);

create policy "the entry points can add members to the claimed organisation" on app.memberships
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));

create policy "the entry points can update members of the claimed organisation" on app.memberships
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));
