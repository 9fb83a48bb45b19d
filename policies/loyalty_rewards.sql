-- app.loyalty_rewards: every member reads their organisation's rewards catalogue; managers and
-- above add and archive rewards. No DELETE policy: rewards are archived.
alter table app.loyalty_rewards enable row level security;
alter table app.loyalty_rewards force row level security;

create policy "members can read their organisation's rewards" on app.loyalty_rewards
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above add rewards" on app.loyalty_rewards
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above archive rewards" on app.loyalty_rewards
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));
