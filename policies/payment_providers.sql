-- app.payment_providers: the Stripe connection. Owners connect, replace and disconnect it;
-- managers and above read the row (the server needs the encrypted key to make payment links
-- and refunds; no operation returns the ciphertext); staff never. The webhook entry point
-- (auth.record_stripe_event, as the owner role) reads the claimed organisation's.
alter table app.payment_providers enable row level security;
alter table app.payment_providers force row level security;

create policy "managers and above read their organisation's payment provider" on app.payment_providers
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "owners connect a payment provider" on app.payment_providers
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) = 'owner');

create policy "owners replace a payment provider's secrets" on app.payment_providers
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) = 'owner')
  with check (org_id = (select auth.org_id()));

create policy "owners disconnect a payment provider" on app.payment_providers
  for delete to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) = 'owner');

create policy "stripe webhooks read the claimed organisation's provider" on app.payment_providers
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
