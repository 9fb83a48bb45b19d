-- app.report_digests: the weekly summaries. They speak for the whole organisation, so managers
-- and above read them (staff see reports of their own bookings only, or none). The scheduler
-- writes them, acting as the organisation's owner role. Nobody changes or deletes one.
alter table app.report_digests enable row level security;
alter table app.report_digests force row level security;

create policy "managers and above read their organisation's digests" on app.report_digests
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "the scheduler writes its organisation's digests" on app.report_digests
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) = 'owner'
              and (select auth.claims()) ->> 'via' = 'scheduler');
