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

-- The billing entry points (SECURITY DEFINER, as the owner role) act for the claimed
-- organisation only: Stripe's events (auth.record_stripe_event) record payments and refunds, and
-- auth.bill_booking starts the draft invoice a service asks for when staff complete a booking.
create policy "billing entry points read the claimed organisation's customer balance entries" on app.customer_balance_entries
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));

create policy "billing entry points add to the claimed organisation's customer balance entries" on app.customer_balance_entries
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));
