-- app.confirmations: a key sees and uses only the confirmation tokens issued to it.
alter table app.confirmations enable row level security;
alter table app.confirmations force row level security;

create policy "keys can read their own confirmations" on app.confirmations
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and key_id = (select auth.key_id()));

create policy "keys can be issued confirmations" on app.confirmations
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and key_id = (select auth.key_id()));

create policy "keys can use their own confirmations" on app.confirmations
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and key_id = (select auth.key_id()))
  with check (org_id = (select auth.org_id()) and key_id = (select auth.key_id()));

create policy "the purge entry point can forget long-expired confirmations" on app.confirmations
  for delete to favcrm_owner
  using (expires_at < now() - interval '1 hour');

create policy "the purge entry point can see long-expired confirmations" on app.confirmations
  for select to favcrm_owner
  using (expires_at < now() - interval '1 hour');
