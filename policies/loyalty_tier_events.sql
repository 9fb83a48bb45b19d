-- app.loyalty_tier_events: every member reads their organisation's tier changes; they are
-- written by the earning entry points (as the owner role) and by the scheduler (as the
-- organisation's owner role). Append-only: no UPDATE or DELETE policy.
alter table app.loyalty_tier_events enable row level security;
alter table app.loyalty_tier_events force row level security;

create policy "members can read their organisation's tier changes" on app.loyalty_tier_events
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above record tier changes" on app.loyalty_tier_events
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "earning entry points record tier changes" on app.loyalty_tier_events
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));
