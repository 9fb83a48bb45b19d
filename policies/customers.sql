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
