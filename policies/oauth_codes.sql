-- app.oauth_codes: authorization codes. No runtime role reaches them; the OAuth entry points
-- (SECURITY DEFINER, as favcrm_owner) find a code by its digest, and write only in the
-- organisation they claimed for the consent or the exchange.
alter table app.oauth_codes enable row level security;
alter table app.oauth_codes force row level security;

create policy "the oauth entry points can find codes by digest" on app.oauth_codes
  for select to favcrm_owner
  using (true);

create policy "the consent entry point can issue codes in the claimed organisation" on app.oauth_codes
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));

create policy "the token entry point can use codes in the claimed organisation" on app.oauth_codes
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));

create policy "the purge entry point can forget expired unused codes" on app.oauth_codes
  for delete to favcrm_owner
  using (key_id is null and expires_at < now() - interval '1 day');
