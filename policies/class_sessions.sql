-- app.class_sessions: every member reads the class timetable; managers and above schedule
-- and cancel; seat counts change with bookings, so staff may update their own sessions.
-- The availability entry point reads them for the claimed organisation.
alter table app.class_sessions enable row level security;
alter table app.class_sessions force row level security;

create policy "members can read their organisation's class sessions" on app.class_sessions
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above can schedule class sessions" on app.class_sessions
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "members change sessions they teach (managers: all)" on app.class_sessions
  for update to favcrm_member
  using (org_id = (select auth.org_id())
         and ((select auth.role()) <> 'staff' or staff_user_id = (select auth.user_id())))
  with check (org_id = (select auth.org_id()));

create policy "availability reads the claimed organisation's class sessions" on app.class_sessions
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));


-- Web pages (auth.publishable_call, as the owner role) book for the key's organisation.

create policy "web bookings update the claimed organisation's class sessions" on app.class_sessions
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));
