-- app.team_invites: managers and above see and manage their organisation's invitations;
-- staff see none. The acceptance entry points find an invitation by its token digest before
-- any organisation is known, then act with that organisation's claims.
alter table app.team_invites enable row level security;
alter table app.team_invites force row level security;

create policy "managers and above can read their organisation's invitations" on app.team_invites
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can invite in their own name" on app.team_invites
  for insert to favcrm_member
  with check (org_id = (select auth.org_id()) and invited_by = (select auth.user_id())
              and (select auth.role()) in ('owner', 'admin', 'manager'));

create policy "managers and above can update their organisation's invitations" on app.team_invites
  for update to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin', 'manager'))
  with check (org_id = (select auth.org_id()));

create policy "the acceptance entry points can find an invitation by token" on app.team_invites
  for select to favcrm_owner
  using (true);

create policy "the acceptance entry points can update a claimed invitation" on app.team_invites
  for update to favcrm_owner
  using (org_id = (select auth.org_id()))
  with check (org_id = (select auth.org_id()));
