-- app.provider_events: the events Stripe sent, recorded once by the webhook entry point (as the
-- owner role, for the claimed organisation). Managers and above may read them. Append-only.
alter table app.provider_events enable row level security;
alter table app.provider_events force row level security;

create policy "managers and above read provider events" on app.provider_events
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "stripe webhooks read the claimed organisation's events" on app.provider_events
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));

create policy "stripe webhooks record the claimed organisation's events" on app.provider_events
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));
