-- app.customer_balance_entries: managers and above read and add their organisation's customer balance entries; staff never see
-- them. Append-only: no UPDATE or DELETE policy.
alter table app.customer_balance_entries enable row level security;
alter table app.customer_balance_entries force row level security;

create policy "managers and above read customer balance entries" on app.customer_balance_entries
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above add customer balance entries" on app.customer_balance_entries
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

-- Stripe's events (auth.record_stripe_event, as the owner role) record payments and refunds for
-- the claimed organisation.
create policy "stripe webhooks read the claimed organisation's customer balance entries" on app.customer_balance_entries
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));

create policy "stripe webhooks add to the claimed organisation's customer balance entries" on app.customer_balance_entries
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));
