-- app.organisations: a member sees and (owner/admin) changes only their own organisation.
alter table app.organisations enable row level security;
alter table app.organisations force row level security;

create policy "members can read their organisation" on app.organisations
  for select to favcrm_member
  using (id = (select auth.org_id()));

create policy "owners and admins can update their organisation" on app.organisations
  for update to favcrm_member
  using (id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'))
  with check (id = (select auth.org_id()));

-- The bootstrap entry point (SECURITY DEFINER, runs as favcrm_owner) sets the new
-- organisation's claims before inserting it.
create policy "the bootstrap entry point can create the claimed organisation" on app.organisations
  for insert to favcrm_owner
  with check (id = (select auth.org_id()));

-- Entry points list a user's organisations (list_my_organisations) across tenants.
create policy "the owner role can read organisations for the entry points" on app.organisations
  for select to favcrm_owner
  using (true);
