-- app.plans: every member reads their organisation's plans (to sell a membership at the desk);
-- managers and above create, change and archive them. No DELETE policy: plans are archived.
alter table app.plans enable row level security;
alter table app.plans force row level security;

create policy "members can read their organisation's plans" on app.plans
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above create plans" on app.plans
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above change plans" on app.plans
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

-- The owner-role entry points act for the claimed organisation: web pages
-- (auth.publishable_call, app.public_catalog lists only active plans not unlisted) and billing
-- (auth.bill_booking, whose lines take a member's plan discount).
create policy "entry points read the claimed organisation's plans" on app.plans
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));
