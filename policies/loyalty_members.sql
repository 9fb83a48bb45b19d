-- app.loyalty_members: every member reads their organisation's customers' tiers; the earning
-- entry points (as the owner role) and managers and above (the scheduler acts as the owner
-- role of the organisation) keep them. No DELETE policy.
alter table app.loyalty_members enable row level security;
alter table app.loyalty_members force row level security;

create policy "members can read their organisation's loyalty tiers" on app.loyalty_members
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above keep loyalty tiers" on app.loyalty_members
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above update loyalty tiers" on app.loyalty_members
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

create policy "earning entry points read the claimed organisation's tiers" on app.loyalty_members
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));

create policy "earning entry points keep the claimed organisation's tiers" on app.loyalty_members
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));

create policy "earning entry points update the claimed organisation's tiers" on app.loyalty_members
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));

-- auth.loyalty_reviews_due (as the owner role) answers the scheduler: whose tier must be looked
-- at again? Organisation and customer only.
create policy "the scheduler can see whose tier is due for review" on app.loyalty_members
  for select to favcrm_owner
  using (review_at is not null);
