-- app.oauth_tokens: access and refresh tokens of grants. No runtime role reaches them; key
-- authentication and the token entry points (SECURITY DEFINER, as favcrm_owner) find a token
-- by its digest, and write only in the organisation they claimed for the grant.
alter table app.oauth_tokens enable row level security;
alter table app.oauth_tokens force row level security;

create policy "authentication and the token entry points can find tokens by digest" on app.oauth_tokens
  for select to favcrm_owner
  using (true);

create policy "the token entry points can issue tokens in the claimed organisation" on app.oauth_tokens
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));

create policy "the token entry points can rotate tokens in the claimed organisation" on app.oauth_tokens
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));

create policy "revocation and the purge can forget tokens" on app.oauth_tokens
  for delete to favcrm_owner
  using (org_id = (select auth.org_id()) or expires_at < now() - interval '1 day');
