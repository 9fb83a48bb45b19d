-- app.organisations, app.memberships and app.users: a member sees their own organisation,
-- its team and their own user; only owners and admins change the organisation.
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'Org A'), ('b0000000-0000-7000-8000-000000000000', 'Org B');
insert into app.users (id, email) values
  ('a1000000-0000-7000-8000-000000000000', 'owner-a@example.com'),
  ('a2000000-0000-7000-8000-000000000000', 'staff-a@example.com'),
  ('b1000000-0000-7000-8000-000000000000', 'owner-b@example.com');
insert into app.memberships (org_id, user_id, role, name, email) values
  ('a0000000-0000-7000-8000-000000000000', 'a1000000-0000-7000-8000-000000000000', 'owner', 'Owner A', 'owner-a@example.com'),
  ('a0000000-0000-7000-8000-000000000000', 'a2000000-0000-7000-8000-000000000000', 'staff', 'Staff A', 'staff-a@example.com'),
  ('b0000000-0000-7000-8000-000000000000', 'b1000000-0000-7000-8000-000000000000', 'owner', 'Owner B', 'owner-b@example.com');
set local session_replication_role = origin;
set local role favcrm_member;

select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a2000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
declare
  n int;
begin
  assert (select count(*) from app.organisations) = 1, 'a member sees only their organisation';
  assert (select count(*) from app.memberships) = 2, 'a member sees their own team, not B''s';
  assert (select count(*) from app.users) = 1, 'a member reads only their own user row';
  update app.organisations set name = 'Taken over';
  get diagnostics n = row_count;
  assert n = 0, 'staff cannot change the organisation';
  update app.memberships set role = 'owner';
  get diagnostics n = row_count;
  assert n = 0, 'staff cannot change memberships';
end
$$;

select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a1000000-0000-7000-8000-000000000000", "role": "owner", "scopes": []}');
do $$
declare
  n int;
begin
  update app.organisations set name = 'Org A2';
  get diagnostics n = row_count;
  assert n = 1, 'the owner changes their organisation, and only it';
  update app.memberships set name = name || ' (checked)';
  get diagnostics n = row_count;
  assert n = 2, 'the owner changes their own team''s memberships, not B''s';
  begin
    update app.memberships set org_id = 'b0000000-0000-7000-8000-000000000000';
    assert false, 'a membership cannot move to another organisation';
  exception when insufficient_privilege or foreign_key_violation or unique_violation then null;
  end;
  begin
    update app.organisations set id = 'b0000000-0000-7000-8000-000000000000';
    assert false, 'an organisation cannot take another''s id';
  exception when insufficient_privilege or unique_violation then null;
  end;
end
$$;
rollback;
