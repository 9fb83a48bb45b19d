-- app.payment_links: managers and above make and read their organisation's payment links;
-- staff never. Stripe's events (auth.record_stripe_event, as the owner role) mark them paid.
alter table app.payment_links enable row level security;
alter table app.payment_links force row level security;

create policy "managers and above read payment links" on app.payment_links
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above make payment links" on app.payment_links
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above record what stripe answered" on app.payment_links
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

create policy "stripe webhooks read the claimed organisation's payment links" on app.payment_links
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));

create policy "stripe webhooks mark the claimed organisation's payment links" on app.payment_links
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));
