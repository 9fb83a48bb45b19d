-- app.booking_events: managers and above see all of their organisation's booking events; staff only those of
-- their own bookings (staff_user_id). Append-only: no UPDATE or DELETE policy.
alter table app.booking_events enable row level security;
alter table app.booking_events force row level security;

create policy "members read booking events of their own (managers: all)" on app.booking_events
  for select to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())));

create policy "members add booking events they may see" on app.booking_events
  for insert to favcrm_member
  with check (org_id = (select auth.org_id())
              and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())));
