-- app.customer_imports: importing customers is for managers and above, who see and commit
-- their organisation's imports; staff see none. Nobody deletes one through the API (expired
-- previews are purged by auth.purge_expired).
alter table app.customer_imports enable row level security;
alter table app.customer_imports force row level security;

create policy "managers and above read their organisation's imports" on app.customer_imports
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above start imports" on app.customer_imports
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above preview and commit imports" on app.customer_imports
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "the purge entry point can see expired previews" on app.customer_imports
  for select to favcrm_owner
  using (status <> 'committed' and expires_at < now());

create policy "the purge entry point can forget expired previews" on app.customer_imports
  for delete to favcrm_owner
  using (status <> 'committed' and expires_at < now());
