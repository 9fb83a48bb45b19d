-- app.booking_resources: managers and above see and change all of their organisation's booking resources; staff only
-- those assigned to them (staff_user_id is the team member behind the booking's staff profile).
-- No DELETE policy: bookings are cancelled, never erased.
alter table app.booking_resources enable row level security;
alter table app.booking_resources force row level security;

create policy "members read booking resources assigned to them (managers: all)" on app.booking_resources
  for select to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())));

create policy "members create booking resources they may see" on app.booking_resources
  for insert to favcrm_member
  with check (org_id = (select auth.org_id())
              and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())));

create policy "members change booking resources they may see" on app.booking_resources
  for update to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())))
  with check (org_id = (select auth.org_id())
              and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())));

create policy "availability reads the claimed organisation's booking resources" on app.booking_resources
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));


-- Web pages (auth.publishable_call, as the owner role) book for the key's organisation.

create policy "web bookings add booking resources to the claimed organisation" on app.booking_resources
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));
