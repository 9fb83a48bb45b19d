-- app.invoices: managers and above read and write their organisation's invoices; staff read only
-- those of bookings assigned to them (staff_user_id), and only when the organisation lets staff
-- see billing (organisations.staff_billing_access); nobody another organisation's.
alter table app.invoices enable row level security;
alter table app.invoices force row level security;

create policy "members read invoices of their own bookings if allowed (managers: all)" on app.invoices
  for select to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) <> 'staff'
              or ((select auth.staff_billing_access()) and staff_user_id = (select auth.user_id()))));

create policy "managers and above add invoices" on app.invoices
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above change invoices" on app.invoices
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

-- The billing entry points (SECURITY DEFINER, as the owner role) act for the claimed
-- organisation only: Stripe's events (auth.record_stripe_event) record payments and refunds, and
-- auth.bill_booking starts the draft invoice a service asks for when staff complete a booking.
create policy "billing entry points read the claimed organisation's invoices" on app.invoices
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));

create policy "billing entry points add to the claimed organisation's invoices" on app.invoices
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));

create policy "billing entry points change the claimed organisation's invoices" on app.invoices
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));
