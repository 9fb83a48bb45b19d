-- app.credit_entries: every member reads their organisation's credit ledger. Whoever takes
-- bookings spends a credit on one and gives it back on a free cancellation (use, return, with
-- the booking); only managers and above write the other entries (grant, expire, adjust).
-- Append-only: no UPDATE or DELETE policy, so no runtime role can rewrite the ledger.
alter table app.credit_entries enable row level security;
alter table app.credit_entries force row level security;

create policy "members can read their organisation's credit ledger" on app.credit_entries
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "bookings spend and return credits" on app.credit_entries
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and kind in ('use', 'return') and booking_id is not null);

create policy "managers and above write the other credit entries" on app.credit_entries
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

-- auth.lapsed_credit_grants (as the owner role) asks whether a grant's expiry is recorded.
create policy "the scheduler can see which expiries are recorded" on app.credit_entries
  for select to favcrm_owner
  using (kind = 'expire');
