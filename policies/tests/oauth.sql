-- OAuth: no runtime role reads clients, sessions, codes or tokens (only the SECURITY DEFINER
-- entry points do, as favcrm_owner); those entry points write codes and tokens only in the
-- organisation they claimed; a person sees and revokes only their own connected apps.
begin;
set local session_replication_role = replica;
insert into app.organisations (id, name) values
  ('a0000000-0000-7000-8000-000000000000', 'Org A'), ('b0000000-0000-7000-8000-000000000000', 'Org B');
insert into app.users (id, email) values
  ('a1000000-0000-7000-8000-000000000001', 'ann@example.com'), ('a1000000-0000-7000-8000-000000000002', 'al@example.com'),
  ('b1000000-0000-7000-8000-000000000001', 'bea@example.com');
insert into app.memberships (org_id, user_id, role, name, email) values
  ('a0000000-0000-7000-8000-000000000000', 'a1000000-0000-7000-8000-000000000001', 'owner', 'Ann', 'ann@example.com'),
  ('a0000000-0000-7000-8000-000000000000', 'a1000000-0000-7000-8000-000000000002', 'staff', 'Al', 'al@example.com'),
  ('b0000000-0000-7000-8000-000000000000', 'b1000000-0000-7000-8000-000000000001', 'owner', 'Bea', 'bea@example.com');
insert into app.oauth_clients (id, client_id, kind, name, redirect_uris) values
  ('c0000000-0000-7000-8000-000000000001', 'fav_client_test', 'registered', 'Claude', array['https://claude.example/cb']);
insert into app.web_sessions (token_digest, email, code_expires_at, expires_at)
values (auth.sha256('session'), 'ann@example.com', now(), now() + interval '1 hour');
insert into app.api_keys (org_id, id, user_id, name, key_prefix, key_digest, scopes, oauth_client_id, oauth_resource) values
  ('a0000000-0000-7000-8000-000000000000', 'a2000000-0000-7000-8000-000000000001', 'a1000000-0000-7000-8000-000000000001',
   'Claude', 'oauth', auth.sha256('grant a1'), array['customers:read'], 'c0000000-0000-7000-8000-000000000001', 'http://x'),
  ('a0000000-0000-7000-8000-000000000000', 'a2000000-0000-7000-8000-000000000002', 'a1000000-0000-7000-8000-000000000002',
   'Claude', 'oauth', auth.sha256('grant a2'), array['customers:read'], 'c0000000-0000-7000-8000-000000000001', 'http://x'),
  ('b0000000-0000-7000-8000-000000000000', 'b2000000-0000-7000-8000-000000000001', 'b1000000-0000-7000-8000-000000000001',
   'Claude', 'oauth', auth.sha256('grant b'), array['customers:read'], 'c0000000-0000-7000-8000-000000000001', 'http://x');
insert into app.oauth_codes (org_id, code_digest, client_id, user_id, redirect_uri, code_challenge, resource, scopes, expires_at)
values ('b0000000-0000-7000-8000-000000000000', auth.sha256('code b'), 'c0000000-0000-7000-8000-000000000001',
        'b1000000-0000-7000-8000-000000000001', 'https://claude.example/cb', repeat('a', 43), 'http://x',
        array['customers:read'], now() + interval '5 minutes');
insert into app.oauth_tokens (org_id, key_id, kind, token_digest, expires_at) values
  ('b0000000-0000-7000-8000-000000000000', 'b2000000-0000-7000-8000-000000000001', 'access', auth.sha256('token b'),
   now() + interval '1 hour');
set local session_replication_role = origin;

-- The runtime roles reach none of it.
set local role favcrm_member;
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000", "user_id": "a1000000-0000-7000-8000-000000000001", "role": "owner", "scopes": []}');
do $$
declare
  t text;
begin
  foreach t in array array['app.oauth_clients', 'app.web_sessions', 'app.oauth_codes', 'app.oauth_tokens'] loop
    begin
      execute 'select count(*) from ' || t;
      assert false, 'a member reads ' || t;
    exception when insufficient_privilege then null;
    end;
  end loop;
end
$$;

-- A person's connected apps are their own.
do $$
begin
  assert (select pg_catalog.jsonb_agg(a ->> 'id') from pg_catalog.jsonb_array_elements(auth.my_connected_apps()) a)
         = '["a2000000-0000-7000-8000-000000000001"]', 'Ann sees her own grant only';
  begin
    perform auth.revoke_my_connected_app('a2000000-0000-7000-8000-000000000002');
    assert false, 'Ann revokes no other person''s connected app';
  exception when no_data_found then null;
  end;
  begin
    perform auth.revoke_my_connected_app('b2000000-0000-7000-8000-000000000001');
    assert false, 'nor one in another organisation';
  exception when no_data_found then null;
  end;
end
$$;
reset role;

-- The entry points' role writes only in the organisation it claimed.
set local role favcrm_owner;
select auth.set_claims('{"org_id": "a0000000-0000-7000-8000-000000000000"}');
do $$
begin
  assert (select count(*) from app.oauth_tokens) = 1, 'tokens are found by digest, in any organisation';
  begin
    insert into app.oauth_tokens (org_id, key_id, kind, token_digest, expires_at)
    values ('b0000000-0000-7000-8000-000000000000', 'b2000000-0000-7000-8000-000000000001', 'access',
            auth.sha256('planted'), now() + interval '1 hour');
    assert false, 'no token is issued in an organisation not claimed';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into app.oauth_codes (org_id, code_digest, client_id, user_id, redirect_uri, code_challenge, resource, scopes,
                                 expires_at)
    values ('b0000000-0000-7000-8000-000000000000', auth.sha256('planted'), 'c0000000-0000-7000-8000-000000000001',
            'b1000000-0000-7000-8000-000000000001', 'https://claude.example/cb', repeat('a', 43), 'http://x',
            array['customers:read'], now() + interval '5 minutes');
    assert false, 'no code is issued in an organisation not claimed';
  exception when insufficient_privilege then null;
  end;
  update app.oauth_codes set used_at = now();
  assert not found, 'no code of another organisation is used';
  update app.oauth_tokens set rotated_at = now();
  assert not found, 'no token of another organisation is rotated';
  delete from app.oauth_tokens;
  assert not found, 'no live token of another organisation is deleted';
  update app.oauth_clients set name = 'Renamed';
  assert not found, 'a registered client is never changed';
end
$$;
rollback;
