-- app.waitlist_entries: managers and above see all of their organisation's waiting list entries; staff only those of
-- their own sessions and bookings (staff_user_id).
alter table app.waitlist_entries enable row level security;
alter table app.waitlist_entries force row level security;

create policy "members read waiting list entries of their own (managers: all)" on app.waitlist_entries
  for select to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())));

create policy "members add waiting list entries they may see" on app.waitlist_entries
  for insert to favcrm_member
  with check (org_id = (select auth.org_id())
              and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())));

create policy "members change waiting list entries they may see" on app.waitlist_entries
  for update to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())))
  with check (org_id = (select auth.org_id())
              and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())));
