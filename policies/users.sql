-- app.users: global identities. A member reads only their own user row; names and emails
-- of colleagues are on memberships.
alter table app.users enable row level security;
alter table app.users force row level security;

create policy "members can read their own user" on app.users
  for select to favcrm_member
  using (id = (select auth.user_id()));

create policy "the owner role can read users for sign-in and bootstrap" on app.users
  for select to favcrm_owner
  using (true);

create policy "the owner role can create users" on app.users
  for insert to favcrm_owner
  with check (true);

create policy "the owner role can update users" on app.users
  for update to favcrm_owner
  using (true)
  with check (true);
