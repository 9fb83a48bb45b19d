-- app.team_invites: managers and above see and manage their own organisation's invitations;
-- staff see none; nobody sees another organisation's; an invitation is sent in one's own name.
-- app.signup_requests: no runtime role reaches a registration, with or without claims.
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'Org A'), ('b0000000-0000-7000-8000-000000000000', 'Org B');
insert into app.users (id, email) values
  ('a1000000-0000-7000-8000-000000000000', 'manager-a@example.com'),
  ('a2000000-0000-7000-8000-000000000000', 'staff-a@example.com'),
  ('b1000000-0000-7000-8000-000000000000', 'owner-b@example.com');
insert into app.memberships (org_id, user_id, role, name, email) values
  ('a0000000-0000-7000-8000-000000000000', 'a1000000-0000-7000-8000-000000000000', 'manager', 'Manager A', 'manager-a@example.com'),
  ('a0000000-0000-7000-8000-000000000000', 'a2000000-0000-7000-8000-000000000000', 'staff', 'Staff A', 'staff-a@example.com'),
  ('b0000000-0000-7000-8000-000000000000', 'b1000000-0000-7000-8000-000000000000', 'owner', 'Owner B', 'owner-b@example.com');
insert into app.team_invites (org_id, id, email, name, role, token_digest, invited_by, expires_at) values
  ('a0000000-0000-7000-8000-000000000000', 'a1100000-0000-7000-8000-000000000000', 'new-a@example.com', 'New A',
   'staff', sha256('a'), 'a1000000-0000-7000-8000-000000000000', now() + interval '1 day'),
  ('b0000000-0000-7000-8000-000000000000', 'b1100000-0000-7000-8000-000000000000', 'new-b@example.com', 'New B',
   'staff', sha256('b'), 'b1000000-0000-7000-8000-000000000000', now() + interval '1 day');
insert into app.signup_requests (request_id, email, existing_owner, organisation_name, industry, code_hash, expires_at)
values ('signup_req_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'someone@example.com', false, 'Someone', 'other',
        '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', now() + interval '10 minutes');
set local session_replication_role = origin;
set local role favcrm_member;

-- Acting as A's staff member.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a2000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
declare
  n int;
begin
  assert (select count(*) from app.team_invites) = 0, 'staff see no invitations';
  update app.team_invites set revoked_at = now();
  get diagnostics n = row_count;
  assert n = 0, 'staff cannot revoke invitations';
  begin
    insert into app.team_invites (org_id, email, name, role, token_digest, invited_by, expires_at)
    values ('a0000000-0000-7000-8000-000000000000', 'x@example.com', 'X', 'staff', sha256('x'),
            'a2000000-0000-7000-8000-000000000000', now() + interval '1 day');
    assert false, 'staff cannot invite';
  exception when insufficient_privilege then null;
  end;
  begin
    perform count(*) from app.signup_requests;
    assert false, 'members have no access to registrations';
  exception when insufficient_privilege then null;
  end;
end
$$;

-- Acting as A's manager.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a1000000-0000-7000-8000-000000000000", "role": "manager", "scopes": []}');
do $$
declare
  n int;
begin
  assert (select count(*) from app.team_invites) = 1, 'a manager sees their own organisation''s invitations only';
  update app.team_invites set revoked_at = now();
  get diagnostics n = row_count;
  assert n = 1, 'a manager revokes only their own organisation''s invitations';
  begin
    insert into app.team_invites (org_id, email, name, role, token_digest, invited_by, expires_at)
    values ('a0000000-0000-7000-8000-000000000000', 'y@example.com', 'Y', 'staff', sha256('y'),
            'a2000000-0000-7000-8000-000000000000', now() + interval '1 day');
    assert false, 'an invitation cannot be sent in someone else''s name';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into app.team_invites (org_id, email, name, role, token_digest, invited_by, expires_at)
    values ('b0000000-0000-7000-8000-000000000000', 'z@example.com', 'Z', 'staff', sha256('z'),
            'a1000000-0000-7000-8000-000000000000', now() + interval '1 day');
    assert false, 'nobody invites into another organisation';
  exception when insufficient_privilege or foreign_key_violation then null;
  end;
end
$$;

-- The anonymous role sees neither table.
reset role;
set local role favcrm_anon;
select auth.set_claims('{}');
do $$
begin
  begin
    perform count(*) from app.signup_requests;
    assert false, 'the anonymous role has no access to registrations';
  exception when insufficient_privilege then null;
  end;
  begin
    perform count(*) from app.team_invites;
    assert false, 'the anonymous role has no access to invitations';
  exception when insufficient_privilege then null;
  end;
end
$$;
rollback;
