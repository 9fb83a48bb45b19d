-- app.credit_grants: every member reads their organisation's credit grants (is this customer's
-- class paid for?); managers and above give them (a pack sold, a period, an adjustment).
-- Append-only: no UPDATE or DELETE policy.
alter table app.credit_grants enable row level security;
alter table app.credit_grants force row level security;

create policy "members can read their organisation's credit grants" on app.credit_grants
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above give credits" on app.credit_grants
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

-- auth.lapsed_credit_grants (as the owner role) answers the scheduler: which grants have an
-- expiry? It returns only ids; the expiry is written for each organisation as that organisation.
create policy "the scheduler can see which grants expire" on app.credit_grants
  for select to favcrm_owner
  using (expires_at is not null);
