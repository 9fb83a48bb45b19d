-- app.campaigns: messages to a segment of customers. Managers and above see, make and send
-- campaigns (sending may wait for an approval). Nobody deletes one.
alter table app.campaigns enable row level security;
alter table app.campaigns force row level security;

create policy "managers and above read their organisation's campaigns" on app.campaigns
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above make campaigns" on app.campaigns
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above send campaigns" on app.campaigns
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));
