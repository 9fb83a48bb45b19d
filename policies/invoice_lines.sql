-- app.invoice_lines: managers and above read and write their organisation's invoice lines; staff read only
-- those of bookings assigned to them (staff_user_id), and only when the organisation lets staff
-- see billing (organisations.staff_billing_access); nobody another organisation's.
alter table app.invoice_lines enable row level security;
alter table app.invoice_lines force row level security;

create policy "members read invoice lines of their own bookings if allowed (managers: all)" on app.invoice_lines
  for select to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) <> 'staff'
              or ((select auth.staff_billing_access()) and staff_user_id = (select auth.user_id()))));

create policy "managers and above add invoice lines" on app.invoice_lines
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above change invoice lines" on app.invoice_lines
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

create policy "managers and above remove invoice lines" on app.invoice_lines
  for delete to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

-- auth.bill_booking (SECURITY DEFINER, as the owner role) adds a booking's line to the draft
-- invoice its service asks for, for the claimed organisation only.
create policy "billing entry points read the claimed organisation's invoice lines" on app.invoice_lines
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));

create policy "billing entry points add to the claimed organisation's invoice lines" on app.invoice_lines
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));

create policy "billing entry points change the claimed organisation's invoice lines" on app.invoice_lines
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));
