-- app.approvals: what agents asked for that waits for a person. Managers and above read their
-- organisation's approvals (they are the ones who decide, and an owner's or manager's agent
-- checks its own); any member's operation may write one, pending and undecided (an agent's
-- call of an approvable operation); managers and above decide (the operation's own role is
-- checked too). Column grants keep the snapshot and who asked from ever changing; nobody
-- deletes one.
alter table app.approvals enable row level security;
alter table app.approvals force row level security;

create policy "managers and above read their organisation's approvals" on app.approvals
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "operations ask for approval" on app.approvals
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and status = 'pending' and decided_at is null);

create policy "managers and above decide approvals" on app.approvals
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));
