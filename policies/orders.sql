-- app.orders: every member reads their organisation's orders (staff serve at the counter);
-- managers and above make, fulfil and cancel them. No DELETE policy: orders are cancelled.
alter table app.orders enable row level security;
alter table app.orders force row level security;

create policy "members can read their organisation's orders" on app.orders
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above make orders" on app.orders
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above change orders" on app.orders
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));
