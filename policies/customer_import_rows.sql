-- app.customer_import_rows: the rows of an import, under the same rule as the import: managers
-- and above of its organisation stage, preview and read them; staff see none.
alter table app.customer_import_rows enable row level security;
alter table app.customer_import_rows force row level security;

create policy "managers and above read their organisation's import rows" on app.customer_import_rows
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above stage import rows" on app.customer_import_rows
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above preview import rows" on app.customer_import_rows
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));
