-- app.subscription_periods: every member reads their organisation's subscription periods;
-- managers and above (and the scheduler, as the owner role of the organisation) add them and
-- link each to its invoice, once. No DELETE policy.
alter table app.subscription_periods enable row level security;
alter table app.subscription_periods force row level security;

create policy "members can read their organisation's subscription periods" on app.subscription_periods
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above add subscription periods" on app.subscription_periods
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

-- A period is written before its invoice (the exactly-once guard), then linked to it: once.
create policy "managers and above link a period to its invoice once" on app.subscription_periods
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager')
         and invoice_id is null)
  with check (org_id = (select auth.org_id()));
