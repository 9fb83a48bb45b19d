-- app.delivery_attempts: what each attempt of a delivery came to. Managers and above read them
-- (of the deliveries they see: get_delivery reads the delivery first); the outbox worker,
-- acting as the organisation's owner role, writes them. Append-only.
alter table app.delivery_attempts enable row level security;
alter table app.delivery_attempts force row level security;

create policy "managers and above read their organisation's delivery attempts" on app.delivery_attempts
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "the outbox worker records attempts" on app.delivery_attempts
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) = 'owner');
