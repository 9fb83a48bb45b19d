-- audit.event: owners and admins read their organisation's log. Only the audit trigger
-- (SECURITY DEFINER, favcrm_owner) inserts; nobody has an UPDATE or DELETE policy, and
-- runtime roles hold only SELECT.
alter table audit.event enable row level security;
alter table audit.event force row level security;

create policy "owners and admins can read their organisation's audit log" on audit.event
  for select to favcrm_member
  using (org_id = (select auth.org_id()) and (select auth.role()) in ('owner', 'admin'));

create policy "the audit trigger can append events of the claimed org" on audit.event
  for insert to favcrm_owner
  with check (org_id = (select auth.org_id()));
