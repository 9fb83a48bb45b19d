-- app.subscriptions: every member reads their organisation's subscriptions (a customer's
-- membership at the desk); managers and above start, change, pause and cancel them, and so does
-- the scheduler (which acts for the organisation as its owner role). No DELETE policy.
alter table app.subscriptions enable row level security;
alter table app.subscriptions force row level security;

create policy "members can read their organisation's subscriptions" on app.subscriptions
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above start subscriptions" on app.subscriptions
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above change subscriptions" on app.subscriptions
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

-- auth.due_subscriptions (as the owner role) answers the scheduler's one cross-organisation
-- question: which subscriptions need it? It sees those it may act on, and returns only ids.
create policy "the scheduler can see which subscriptions it may act on" on app.subscriptions
  for select to favcrm_owner
  using (status in ('scheduled', 'trialing', 'active', 'past_due'));
