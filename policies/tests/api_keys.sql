-- app.api_keys: owners and admins see and revoke every key of their organisation; staff
-- and managers only their own; nobody sees another organisation's keys.
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
insert into app.api_keys (org_id, id, user_id, name, key_prefix, key_digest, scopes) values
  ('a0000000-0000-7000-8000-000000000000', 'ae100000-0000-7000-8000-000000000000', 'a1000000-0000-7000-8000-000000000000',
   'owner key', 'fav_mcp_aaaa', sha256('owner'), '{customers:read}'),
  ('a0000000-0000-7000-8000-000000000000', 'ae200000-0000-7000-8000-000000000000', 'a2000000-0000-7000-8000-000000000000',
   'staff key', 'fav_mcp_bbbb', sha256('staff'), '{customers:read}'),
  ('b0000000-0000-7000-8000-000000000000', 'be100000-0000-7000-8000-000000000000', 'b1000000-0000-7000-8000-000000000000',
   'B key', 'fav_mcp_cccc', sha256('b'), '{customers:read}');
set local session_replication_role = origin;
set local role favcrm_member;

-- Acting as A's staff member.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a2000000-0000-7000-8000-000000000000", "role": "staff", "scopes": []}');
do $$
declare
  n int;
begin
  assert (select count(*) from app.api_keys) = 1, 'staff see only their own key';
  update app.api_keys set revoked_at = now() where id = 'ae100000-0000-7000-8000-000000000000';
  get diagnostics n = row_count;
  assert n = 0, 'staff cannot revoke the owner''s key';
  begin
    insert into app.api_keys (org_id, user_id, name, key_prefix, key_digest, scopes)
    values ('a0000000-0000-7000-8000-000000000000', 'a1000000-0000-7000-8000-000000000000', 'for the owner',
            'fav_mcp_dddd', sha256('x'), '{}');
    assert false, 'a key can only be minted for oneself';
  exception when insufficient_privilege then null;
  end;
end
$$;

-- Acting as A's owner.
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a1000000-0000-7000-8000-000000000000", "role": "owner", "scopes": []}');
do $$
declare
  n int;
begin
  assert (select count(*) from app.api_keys) = 2, 'the owner sees every key of A and none of B';
  update app.api_keys set revoked_at = now() where id = 'ae200000-0000-7000-8000-000000000000';
  get diagnostics n = row_count;
  assert n = 1, 'the owner can revoke a staff key';
  update app.api_keys set revoked_at = now() where id = 'be100000-0000-7000-8000-000000000000';
  get diagnostics n = row_count;
  assert n = 0, 'the owner of A cannot touch B''s key';
end
$$;

-- auth.authenticate: the claims are the request context, then the key's facts; a context that
-- names org_id, role, scopes or key_id cannot change them.
do $$
declare
  v_claims text;
begin
  v_claims := auth.authenticate(sha256('b'),
    '{"via": "rest", "op": "list_customers", "org_id": "a0000000-0000-7000-8000-000000000000", "role": "staff", "scopes": ["keys:write"], "key_id": "ae100000-0000-7000-8000-000000000000"}');
  assert auth.org_id() = 'b0000000-0000-7000-8000-000000000000', 'the key''s organisation, not the context''s';
  assert auth.role() = 'owner', 'the holder''s role, not the context''s';
  assert auth.key_id() = 'be100000-0000-7000-8000-000000000000', 'the key''s id, not the context''s';
  assert auth.has_scope('customers:read') and not auth.has_scope('keys:write'), 'the key''s scopes, not the context''s';
  assert auth.claims() ->> 'op' = 'list_customers', 'the context is kept';
  assert (v_claims::jsonb ->> 'org_id') = 'b0000000-0000-7000-8000-000000000000', 'the returned claims read the same';
  v_claims := auth.authenticate(sha256('b'), '{}');
  assert auth.org_id() = 'b0000000-0000-7000-8000-000000000000', 'an empty context still gives the key''s claims';
  begin
    perform auth.authenticate(sha256('revoked or unknown'), '{}');
    assert false, 'an unknown key is refused';
  exception when invalid_authorization_specification then null;
  end;
  begin
    perform auth.authenticate(sha256('b'), 'not an object');
    assert false, 'a context that is not an object is refused';
  exception when invalid_parameter_value then null;
  end;
end
$$;
rollback;
