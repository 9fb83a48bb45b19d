-- app.webhook_events: what happened, as sent to endpoints. Admins and owners read their
-- organisation's events (with its webhook deliveries); only auth.emit_webhook_event writes
-- them, and nobody changes or removes one.
alter table app.webhook_events enable row level security;
alter table app.webhook_events force row level security;

create policy "admins and owners read their organisation's events" on app.webhook_events
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'));

create policy "the event entry point writes the claimed organisation's events" on app.webhook_events
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));
