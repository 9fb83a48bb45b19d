-- app.customers: every member of an organisation sees and changes its customers. No DELETE
-- policy: deletion is soft (deleted_at), so no runtime role can erase a customer.
alter table app.customers enable row level security;
alter table app.customers force row level security;

create policy "members can read their organisation's customers" on app.customers
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "members can create customers in their organisation" on app.customers
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()));

create policy "members can update their organisation's customers" on app.customers
  for update to favcrm_member
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));


-- Web pages (auth.publishable_call, as the owner role) book for the key's organisation.

create policy "web bookings add customers to the claimed organisation" on app.customers
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));

create policy "web bookings update the claimed organisation's customers" on app.customers
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));

create policy "web bookings read the claimed organisation's customers" on app.customers
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
