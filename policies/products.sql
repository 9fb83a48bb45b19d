-- app.products: every member reads their organisation's products; managers and above add and
-- change them. No DELETE policy: products are archived, never erased.
alter table app.products enable row level security;
alter table app.products force row level security;

create policy "members can read their organisation's products" on app.products
  for select to favcrm_member
  using (org_id = (select auth.org_id()));

create policy "managers and above can add products" on app.products
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can change products" on app.products
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

-- Web pages (auth.publishable_call, as the owner role) list the claimed organisation's active,
-- listed products (app.public_catalog shows a hidden price as null).
create policy "web pages read the claimed organisation's listed products" on app.products
  for select to favcrm_owner
  using (org_id = (select auth.org_id()) and archived_at is null and web_listing <> 'unlisted');
