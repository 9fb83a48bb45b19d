-- app.document_counters: the numbers of finalised invoices and credit notes. Only those who
-- finalise (managers and above) read or move them; staff never do.
alter table app.document_counters enable row level security;
alter table app.document_counters force row level security;

create policy "managers and above can read their organisation's counters" on app.document_counters
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can start a counter" on app.document_counters
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can move a counter" on app.document_counters
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));
