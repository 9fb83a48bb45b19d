-- app.messages: the organisation's conversations with its customers. Every member reads them
-- (the desk sees what a customer was told); any member's operation may write one (a booking a
-- staff member makes sends its confirmation) and move it on (a cancelled booking cancels its
-- reminder); the outbox worker and the providers' callbacks act as the organisation's owner
-- role. Nobody deletes one.
alter table app.messages enable row level security;
alter table app.messages force row level security;

create policy "members read their organisation's messages" on app.messages
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "operations write their organisation's messages" on app.messages
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()));

create policy "operations move their organisation's messages on" on app.messages
  for update to favcrm_member
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));

-- A booking made from a web page (auth.publishable_call, as the owner role) writes the messages
-- its organisation's rules ask for, for the claimed organisation only.
create policy "the web booking entry point reads the claimed organisation's messages" on app.messages
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));

create policy "the web booking entry point writes the claimed organisation's messages" on app.messages
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));
