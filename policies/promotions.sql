-- app.promotions: every member reads their organisation's promotions (to apply a code at the
-- counter); managers and above create and deactivate them. No DELETE policy.
alter table app.promotions enable row level security;
alter table app.promotions force row level security;

create policy "members can read their organisation's promotions" on app.promotions
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above create promotions" on app.promotions
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above change promotions" on app.promotions
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));
