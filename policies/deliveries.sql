-- app.deliveries: the outbox. Managers and above see their organisation's deliveries (a
-- message that did not go out is theirs to deal with), but only admins and owners see webhook
-- deliveries, as they do endpoints; staff see none. Any member's operation may write a message
-- or an email to the outbox (a booking's confirmation, an invitation); webhook deliveries are
-- written only with their event, by auth.emit_webhook_event. Managers and above send a delivery
-- again; the outbox worker acts as the organisation's owner role. Nobody deletes one.
alter table app.deliveries enable row level security;
alter table app.deliveries force row level security;

create policy "managers and above read their organisation's deliveries" on app.deliveries
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager')
         and (kind <> 'webhook' or (select auth.role()) in ('owner', 'admin')));

create policy "operations write messages to the outbox" on app.deliveries
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and kind <> 'webhook');

create policy "managers and above and the worker update deliveries" on app.deliveries
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager')
         and (kind <> 'webhook' or (select auth.role()) in ('owner', 'admin')))
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

-- A booking cancelled by any member cancels its reminders' deliveries not yet sent.
create policy "operations cancel messages not yet sent" on app.deliveries
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and kind <> 'webhook' and status = 'pending')
  with check (org_id = (select auth.org_id()) and status = 'cancelled');

-- auth.emit_webhook_event (as the owner role) writes an event's deliveries; a booking made from
-- a web page (auth.publishable_call, as the owner role) writes its confirmation's.
create policy "entry points write the claimed organisation's deliveries" on app.deliveries
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));

-- auth.due_deliveries (as the owner role) answers the worker: which deliveries are due, in any
-- organisation? Organisation and id only.
create policy "the outbox worker sees which deliveries are due" on app.deliveries
  for select to favcrm_owner
  using (status in ('pending', 'sending'));
