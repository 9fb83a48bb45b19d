-- app.loyalty_entries: every member reads their organisation's loyalty ledger (the desk shows a
-- customer's points); managers and above adjust points, redeem rewards and reverse redemptions. Earnings and their
-- reversals are written only by the earning entry points, by the programme's rules, for the
-- event that earns. Append-only: no UPDATE or DELETE policy (and no such grant), so no runtime
-- role can rewrite the ledger.
alter table app.loyalty_entries enable row level security;
alter table app.loyalty_entries force row level security;

create policy "members can read their organisation's loyalty ledger" on app.loyalty_entries
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above adjust points and redeem rewards" on app.loyalty_entries
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager')
              and (kind in ('adjust', 'redeem', 'expire') or (kind = 'reverse' and source = 'redemption')));

-- auth.earn_loyalty_for_payment, auth.earn_loyalty_for_booking and auth.reverse_loyalty_for_refund
-- (as the owner role) write what an event earns or takes back, for the claimed organisation.
create policy "earning entry points read the claimed organisation's ledger" on app.loyalty_entries
  for select to favcrm_owner
  using (org_id = (select auth.org_id()));

create policy "earning entry points record earnings and reversals" on app.loyalty_entries
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()) and kind in ('earn', 'reverse'));

-- auth.lapsed_loyalty_lots (as the owner role) answers the scheduler: which lots have expired
-- without their expiry in the ledger? Organisation and id only.
create policy "the scheduler can see which lots expire and which expiries are recorded" on app.loyalty_entries
  for select to favcrm_owner
  using (expires_at is not null or kind = 'expire');
