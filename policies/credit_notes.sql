-- app.credit_notes: managers and above read and write their organisation's credit notes; staff read only
-- those of bookings assigned to them (staff_user_id), and only when the organisation lets staff
-- see billing (organisations.staff_billing_access); nobody another organisation's.
alter table app.credit_notes enable row level security;
alter table app.credit_notes force row level security;

create policy "members read credit notes of their own bookings if allowed (managers: all)" on app.credit_notes
  for select to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) <> 'staff'
              or ((select auth.staff_billing_access()) and staff_user_id = (select auth.user_id()))));

create policy "managers and above add credit notes" on app.credit_notes
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

-- What Stripe answered: a refund it refused moves that part of the credit note to the
-- customer's credit balance (the only change a credit note ever sees; the column grants allow
-- no other).
create policy "managers and above record a refused refund on a credit note" on app.credit_notes
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

-- auth.reverse_loyalty_for_credit_note (as the owner role) reads the claimed organisation's
-- credit note to take back the points of what it credited to the customer's balance.
create policy "loyalty entry points read the claimed organisation's credit notes" on app.credit_notes
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
