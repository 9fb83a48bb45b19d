-- app.publishable_keys: every member may list their organisation's publishable keys; managers
-- and above create and revoke them. auth.publishable_call finds a key by digest before any
-- organisation is known.
alter table app.publishable_keys enable row level security;
alter table app.publishable_keys force row level security;

create policy "members can read their organisation's publishable keys" on app.publishable_keys
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above can create publishable keys" on app.publishable_keys
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and created_by = (select auth.user_id())
              and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can revoke publishable keys" on app.publishable_keys
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

create policy "the publishable key lookup can read every key" on app.publishable_keys
  for select to favcrm_owner
  using (true);
