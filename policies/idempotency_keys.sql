-- app.idempotency_keys: a key sees only the idempotency records it made.
alter table app.idempotency_keys enable row level security;
alter table app.idempotency_keys force row level security;

create policy "keys can read their own idempotency records" on app.idempotency_keys
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and key_id = (select auth.key_id()));

create policy "keys can create their own idempotency records" on app.idempotency_keys
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and key_id = (select auth.key_id()));

create policy "keys can update their own idempotency records" on app.idempotency_keys
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and key_id = (select auth.key_id()))
  with check (org_id = (select auth.org_id()) and key_id = (select auth.key_id()));

create policy "the purge entry point can forget expired idempotency records" on app.idempotency_keys
  for delete to favcrm_owner
  using (created_at < now() - interval '24 hours');

create policy "the purge entry point can see expired idempotency records" on app.idempotency_keys
  for select to favcrm_owner
  using (created_at < now() - interval '24 hours');
