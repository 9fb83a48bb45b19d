-- app.tax_rates: every member reads their organisation's tax rates (they price lines); managers
-- and above add them and switch them on or off. No DELETE policy: lines keep pointing at them.
alter table app.tax_rates enable row level security;
alter table app.tax_rates force row level security;

create policy "members can read their organisation's tax rates" on app.tax_rates
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above can add tax rates" on app.tax_rates
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can change tax rates" on app.tax_rates
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

-- auth.bill_booking (SECURITY DEFINER, as the owner role) prices a line with the service's rate.
create policy "billing entry points read the claimed organisation's tax rates" on app.tax_rates
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
