-- app.bookings: managers and above see and change all of their organisation's bookings; staff only
-- those assigned to them (staff_user_id is the team member behind the booking's staff profile).
-- No DELETE policy: bookings are cancelled, never erased.
alter table app.bookings enable row level security;
alter table app.bookings force row level security;

create policy "members read bookings assigned to them (managers: all)" on app.bookings
  for select to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())));

create policy "members create bookings they may see" on app.bookings
  for insert to favcrm_member
  with check (org_id = (select auth.org_id())
              and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())));

create policy "members change bookings they may see" on app.bookings
  for update to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())))
  with check (org_id = (select auth.org_id())
              and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())));

create policy "availability reads the claimed organisation's bookings" on app.bookings
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));


-- Web pages (auth.publishable_call, as the owner role) book for the key's organisation.

create policy "web bookings add bookings to the claimed organisation" on app.bookings
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));

-- auth.bill_booking (as the owner role) links a booking to the draft invoice it started.
create policy "billing entry points link the claimed organisation's bookings to invoices" on app.bookings
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));
