-- app.oauth_clients: global (a client exists before anyone consents to it). No runtime role
-- reaches it; only the OAuth entry points (SECURITY DEFINER, as favcrm_owner) do.
alter table app.oauth_clients enable row level security;
alter table app.oauth_clients force row level security;

create policy "the oauth entry points can read clients" on app.oauth_clients
  for select to favcrm_owner
  using (true);

create policy "the oauth entry points can register clients" on app.oauth_clients
  for insert to favcrm_owner
  with check (true);

create policy "the oauth entry points can refresh metadata document clients" on app.oauth_clients
  for update to favcrm_owner
  using (kind = 'metadata_document')
  with check (kind = 'metadata_document');
