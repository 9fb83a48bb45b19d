-- app.webhook_endpoints: where the organisation's events go. Only admins and owners see and
-- change endpoints (they decide where the organisation's data is sent); nobody deletes a row
-- (delete_webhook_endpoint marks it deleted, so its past deliveries stay explained).
alter table app.webhook_endpoints enable row level security;
alter table app.webhook_endpoints force row level security;

create policy "admins and owners read their organisation's webhook endpoints" on app.webhook_endpoints
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'));

create policy "admins and owners add webhook endpoints" on app.webhook_endpoints
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'));

create policy "admins and owners change webhook endpoints" on app.webhook_endpoints
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'))
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'));

-- auth.webhooks_wanted and auth.emit_webhook_event (as the owner role) look for the endpoints
-- that want an event, in the claimed organisation only, whoever's change made the event.
create policy "event entry points read the claimed organisation's endpoints" on app.webhook_endpoints
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
