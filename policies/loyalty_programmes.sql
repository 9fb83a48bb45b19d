-- app.loyalty_programmes: every member reads their organisation's programme (what a visit
-- earns); owners and admins set it. No DELETE policy: a programme is switched off.
alter table app.loyalty_programmes enable row level security;
alter table app.loyalty_programmes force row level security;

create policy "members can read their organisation's loyalty programme" on app.loyalty_programmes
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "owners and admins set up the loyalty programme" on app.loyalty_programmes
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'));

create policy "owners and admins change the loyalty programme" on app.loyalty_programmes
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'))
  with check (org_id = (select auth.org_id()));

-- The earning entry points (auth.earn_loyalty_*, as the owner role) read the claimed
-- organisation's rules: staff complete bookings and Stripe's events record payments.
create policy "earning entry points read the claimed organisation's programme" on app.loyalty_programmes
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
