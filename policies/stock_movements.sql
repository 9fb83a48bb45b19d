-- app.stock_movements: every member reads their organisation's stock movements (staff sell at
-- the counter); managers and above record them. Append-only: no UPDATE or DELETE policy.
alter table app.stock_movements enable row level security;
alter table app.stock_movements force row level security;

create policy "members can read their organisation's stock movements" on app.stock_movements
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above record stock movements" on app.stock_movements
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));
