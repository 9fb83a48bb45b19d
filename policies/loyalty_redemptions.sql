-- app.loyalty_redemptions: every member reads their organisation's redemptions; managers and
-- above redeem and reverse them. No DELETE policy.
alter table app.loyalty_redemptions enable row level security;
alter table app.loyalty_redemptions force row level security;

create policy "members can read their organisation's redemptions" on app.loyalty_redemptions
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above redeem rewards" on app.loyalty_redemptions
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above reverse redemptions" on app.loyalty_redemptions
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));
