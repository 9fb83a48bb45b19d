-- app.api_keys: owners and admins see and revoke every key of their organisation; other
-- members only their own. Keys are minted for the caller's own user.
alter table app.api_keys enable row level security;
alter table app.api_keys force row level security;

create policy "owners and admins can read all keys, others their own" on app.api_keys
  for select to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) in ('owner', 'admin') or user_id = (select auth.user_id())));

create policy "members can create keys for themselves" on app.api_keys
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and user_id = (select auth.user_id()));

create policy "owners and admins can update all keys, others their own" on app.api_keys
  for update to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) in ('owner', 'admin') or user_id = (select auth.user_id())))
  with check (org_id = (select auth.org_id()));

create policy "the key lookup can read every key" on app.api_keys
  for select to favcrm_owner
  using (true);

create policy "the owner role can create keys in the claimed organisation" on app.api_keys
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));

create policy "the owner role can update keys in the claimed organisation" on app.api_keys
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));
