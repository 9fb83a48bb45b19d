-- app.booking_message_rules: what a booking's events send. Every member reads them (a booking
-- any member makes follows them); managers and above set them. Nobody deletes a rule (removing
-- one marks it removed, so the messages it wrote stay explained).
alter table app.booking_message_rules enable row level security;
alter table app.booking_message_rules force row level security;

create policy "members read their organisation's booking message rules" on app.booking_message_rules
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above set booking message rules" on app.booking_message_rules
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above remove booking message rules" on app.booking_message_rules
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

-- A booking made from a web page (auth.publishable_call, as the owner role) follows the rules of
-- the claimed organisation.
create policy "the web booking entry point reads the claimed organisation's rules" on app.booking_message_rules
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
