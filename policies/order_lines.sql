-- app.order_lines: read with their orders; written when the order is made, by managers and
-- above (a promotion's discount is set on them then; the column grant allows no other change).
-- No DELETE policy.
alter table app.order_lines enable row level security;
alter table app.order_lines force row level security;

create policy "members can read their organisation's order lines" on app.order_lines
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above add order lines" on app.order_lines
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above set a promotion's discount on order lines" on app.order_lines
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));
