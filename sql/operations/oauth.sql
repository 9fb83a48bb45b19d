-- OAuth 2.1 for MCP clients, and people signed in to the server's pages (V31).
--
-- Rules:
-- * A client is registered (RFC 7591: fav_client_…) or named by the URL of its metadata
--   document. Its redirect URIs match exactly, except that a loopback one over http
--   (127.0.0.1, [::1], localhost) matches on any port (RFC 8252 §7.3).
-- * A person signs in with a code mailed to them: the same code machinery and bounds as
--   registration (argon2id hash, 10 minutes, 5 attempts, per-email and per-IP limits). An
--   email no account has gets a notice instead, and no code signs it in. Signing in replaces
--   the browser's session secret (no fixation).
-- * Consent needs a sign-in of the last 15 minutes. It gives the client a code (5 minutes,
--   one use) for one organisation, bound to the client, the redirect URI, the PKCE S256
--   challenge, the resource and the scopes the person left ticked (within their role).
-- * Exchanging the code creates the grant: an API key of kind agent that nobody holds
--   (oauth_client_id set), so roles, scopes, removal and revocation work as for keys. A code
--   used twice revokes the grant it gave.
-- * Access tokens live an hour and are accepted only for their resource: a grant for the
--   server is good on REST and /mcp, one for /mcp only there. Refresh tokens live 30 days and
--   are used once: each refresh gives a new pair, and a used refresh token presented again
--   revokes the grant and every token of it.
-- * The token endpoint's refusals are answers ({error, error_description}), not exceptions,
--   so that what a refusal does (revoking a grant on reuse) is committed.

-- ---------------------------------------------------------------------------------------
-- Clients
-- ---------------------------------------------------------------------------------------
create function auth.oauth_client_json(c app.oauth_clients) returns jsonb
language sql stable set search_path = '' as $$
  select pg_catalog.jsonb_build_object(
    'client_id', c.client_id,
    'client_id_issued_at', extract(epoch from c.created_at)::bigint,
    'client_name', c.name,
    'redirect_uris', pg_catalog.to_jsonb(c.redirect_uris),
    'grant_types', pg_catalog.jsonb_build_array('authorization_code', 'refresh_token'),
    'response_types', pg_catalog.jsonb_build_array('code'),
    'token_endpoint_auth_method', c.auth_method)
  || case when c.client_uri is not null then pg_catalog.jsonb_build_object('client_uri', c.client_uri) else '{}' end
  || case when c.software_id is not null then pg_catalog.jsonb_build_object('software_id', c.software_id) else '{}' end
  || case when c.software_version is not null
          then pg_catalog.jsonb_build_object('software_version', c.software_version) else '{}' end
$$;
comment on function auth.oauth_client_json(app.oauth_clients) is 'A client''s registration as RFC 7591 returns it (without its secret).';
revoke all on function auth.oauth_client_json(app.oauth_clients) from public;

-- Registers a client (the server checked the URIs' shape). p: name, redirectUris,
-- authMethod, clientUri, softwareId, softwareVersion, clientIp, limits.perIpPerHour.
create function auth.register_oauth_client(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_ip inet := (p ->> 'clientIp')::inet;
  v_per_ip int := coalesce((p #>> '{limits,perIpPerHour}')::int, 0);
  v_method text := coalesce(p ->> 'authMethod', 'none');
  v_secret text;
  c app.oauth_clients;
begin
  perform auth.limit_recent(array(select created_at from app.oauth_clients
                                   where client_ip = v_ip and created_at > pg_catalog.now() - interval '1 hour'
                                   order by created_at desc limit v_per_ip),
                            v_per_ip, interval '1 hour', 'Too many client registrations from this address; wait before registering again.');
  if v_method <> 'none' then
    v_secret := auth.new_token('fav_cs_');
  end if;
  insert into app.oauth_clients (client_id, kind, name, redirect_uris, client_uri, auth_method, secret_digest,
                                 software_id, software_version, client_ip)
  values (auth.new_token('fav_client_'), 'registered', p ->> 'name',
          array(select pg_catalog.jsonb_array_elements_text(p -> 'redirectUris')), p ->> 'clientUri', v_method,
          case when v_secret is not null then auth.sha256(v_secret) end, p ->> 'softwareId', p ->> 'softwareVersion',
          v_ip)
  returning * into c;
  return auth.oauth_client_json(c)
      || case when v_secret is not null
              then pg_catalog.jsonb_build_object('client_secret', v_secret, 'client_secret_expires_at', 0)
              else '{}' end;
end
$$;
comment on function auth.register_oauth_client(jsonb) is 'Dynamic client registration (RFC 7591): a public client, or a confidential one with a secret shown once; bounded per client address an hour.';
revoke all on function auth.register_oauth_client(jsonb) from public;
grant execute on function auth.register_oauth_client(jsonb) to favcrm_anon;

-- Records (or refreshes) a client named by its metadata document, as the server read it.
-- p: clientId (the document's URL), name, redirectUris, clientUri.
create function auth.remember_metadata_client(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  c app.oauth_clients;
begin
  insert into app.oauth_clients (client_id, kind, name, redirect_uris, client_uri, fetched_at)
  values (p ->> 'clientId', 'metadata_document', p ->> 'name',
          array(select pg_catalog.jsonb_array_elements_text(p -> 'redirectUris')), p ->> 'clientUri', pg_catalog.now())
  on conflict (client_id) do update
     set name = excluded.name, redirect_uris = excluded.redirect_uris, client_uri = excluded.client_uri,
         fetched_at = excluded.fetched_at
   where app.oauth_clients.kind = 'metadata_document'
  returning * into c;
  if not found then
    raise exception using errcode = '22023', hint = 'invalid_client', column = 'client_id',
      message = 'This client_id belongs to a registered client.';
  end if;
  return auth.oauth_client_json(c) || pg_catalog.jsonb_build_object('fetched_at', app.ts(c.fetched_at));
end
$$;
comment on function auth.remember_metadata_client(jsonb) is 'Stores what a client ID metadata document said (name, redirect URIs), keyed by its URL.';
revoke all on function auth.remember_metadata_client(jsonb) from public;
grant execute on function auth.remember_metadata_client(jsonb) to favcrm_anon;

-- A client by its client_id, or NULL.
-- p: clientId.
create function auth.oauth_client(p jsonb) returns jsonb
language sql stable security definer set search_path = '' as $$
  select auth.oauth_client_json(c) || pg_catalog.jsonb_build_object('kind', c.kind, 'fetched_at', app.ts(c.fetched_at))
    from app.oauth_clients c where c.client_id = p ->> 'clientId'
$$;
comment on function auth.oauth_client(jsonb) is 'A client''s registration by its client_id (NULL when none).';
revoke all on function auth.oauth_client(jsonb) from public;
grant execute on function auth.oauth_client(jsonb) to favcrm_anon;

-- Whether a redirect URI is one the client registered: exactly, or a loopback http URI that
-- differs only in its port (RFC 8252 §7.3).
create function auth.oauth_redirect_allowed(p_registered text[], p_given text) returns boolean
language sql immutable parallel safe set search_path = '' as $$
  select p_given = any (p_registered)
      or exists (select from pg_catalog.unnest(p_registered) r
                  where r ~ '^http://(127\.0\.0\.1|\[::1\]|localhost)(:[0-9]+)?/'
                    and pg_catalog.regexp_replace(r, '^(http://[^/]+?)(:[0-9]+)?/', '\1/')
                        = pg_catalog.regexp_replace(p_given, '^(http://[^/]+?)(:[0-9]+)?/', '\1/')
                    and p_given ~ '^http://(127\.0\.0\.1|\[::1\]|localhost)(:[0-9]+)?/')
$$;
comment on function auth.oauth_redirect_allowed(text[], text) is 'Exact redirect URI matching, with any port allowed for loopback http URIs (RFC 8252).';
grant execute on function auth.oauth_redirect_allowed(text[], text) to favcrm_anon;

-- ---------------------------------------------------------------------------------------
-- Signing in to the pages
-- ---------------------------------------------------------------------------------------
-- Starts a sign-in: a session waiting for its code. p: email, tokenDigest (hex of the
-- cookie's SHA-256), codeHash, mail, clientIp, limits (perEmailPerHour, perIpPerDay).
create function auth.start_web_sign_in(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_email text := pg_catalog.lower(pg_catalog.btrim(p ->> 'email'));
  v_ip inet := (p ->> 'clientIp')::inet;
  v_per_email int := coalesce((p #>> '{limits,perEmailPerHour}')::int, 0);
  v_per_ip int := coalesce((p #>> '{limits,perIpPerDay}')::int, 0);
  v_user uuid;
  s app.web_sessions;
begin
  if v_email is null or v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or pg_catalog.char_length(v_email) > 254 then
    perform app.raise_invalid('email', 'invalid_email', 'The email is not a valid address.');
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('favcrm.sign_in.' || v_email, 0));
  perform auth.limit_recent(array(select created_at from app.web_sessions
                                   where email = v_email and created_at > pg_catalog.now() - interval '1 hour'
                                   order by created_at desc limit v_per_email),
                            v_per_email, interval '1 hour', 'Too many sign-in codes for this email; wait before asking again.');
  perform auth.limit_recent(array(select created_at from app.web_sessions
                                   where client_ip = v_ip and created_at > pg_catalog.now() - interval '1 day'
                                   order by created_at desc limit v_per_ip),
                            v_per_ip, interval '1 day', 'Too many sign-in codes from this address today.');
  -- Someone with a place in an organisation today.
  select u.id into v_user
    from app.users u
   where u.email = v_email
     and exists (select from app.memberships m where m.user_id = u.id and m.removed_at is null);
  -- A browser has one sign-in at a time.
  delete from app.web_sessions where token_digest = pg_catalog.decode(p ->> 'tokenDigest', 'hex');
  insert into app.web_sessions (token_digest, email, user_id, code_hash, code_expires_at, client_ip, expires_at)
  values (pg_catalog.decode(p ->> 'tokenDigest', 'hex'), v_email, v_user,
          case when v_user is not null then p ->> 'codeHash' end, pg_catalog.now() + interval '10 minutes', v_ip,
          pg_catalog.now() + interval '10 minutes')
  returning * into s;
  perform auth.queue_account_mail(p -> 'mail', case when v_user is null then 'sign_in_notice' else 'sign_in_code' end,
                                  v_email, '{}'::jsonb);
  return pg_catalog.jsonb_build_object('maskedEmail', auth.mask_email(v_email), 'expiresAt', app.ts(s.code_expires_at));
end
$$;
comment on function auth.start_web_sign_in(jsonb) is 'Starts a browser sign-in: mails a code (or, to an email no account has, a notice and no code), within the per-email and per-IP bounds.';
revoke all on function auth.start_web_sign_in(jsonb) from public;
grant execute on function auth.start_web_sign_in(jsonb) to favcrm_anon;

-- Takes one of the 5 attempts (committed whatever the outcome) and hands back the hash.
create function auth.begin_web_sign_in_attempt(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  s app.web_sessions;
begin
  select * into s from app.web_sessions
   where token_digest = pg_catalog.decode(p ->> 'tokenDigest', 'hex') and ended_at is null
   for update;
  if not found or s.signed_in_at is not null then
    perform auth.raise_gone('sign_in_not_started', 'Start again: enter your email to get a new code.');
  elsif s.code_expires_at <= pg_catalog.now() then
    perform auth.raise_gone('code_expired', 'The code expired (codes last 10 minutes). Ask for a new one.');
  elsif s.code_attempts >= 5 then
    perform auth.raise_gone('too_many_attempts', 'Too many wrong codes. Ask for a new one.');
  end if;
  update app.web_sessions set code_attempts = code_attempts + 1 where id = s.id;
  return pg_catalog.jsonb_build_object('codeHash', s.code_hash, 'attemptsRemaining', 4 - s.code_attempts,
                                       'maskedEmail', auth.mask_email(s.email));
end
$$;
comment on function auth.begin_web_sign_in_attempt(jsonb) is 'Uses up one of a sign-in''s 5 attempts and returns the code hash to check against (NULL for an email no account has); FV410 when expired or out of attempts.';
revoke all on function auth.begin_web_sign_in_attempt(jsonb) from public;
grant execute on function auth.begin_web_sign_in_attempt(jsonb) to favcrm_anon;

-- After the server checked the code: signed in for 12 hours under a new secret.
-- p: tokenDigest, newTokenDigest.
create function auth.complete_web_sign_in(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  s app.web_sessions;
begin
  update app.web_sessions
     set signed_in_at = pg_catalog.now(), token_digest = pg_catalog.decode(p ->> 'newTokenDigest', 'hex'),
         expires_at = pg_catalog.now() + interval '12 hours', code_hash = null,
         organisation_id = (select case when count(*) = 1 then min(m.org_id::text)::uuid end
                              from app.memberships m where m.user_id = web_sessions.user_id and m.removed_at is null)
   where token_digest = pg_catalog.decode(p ->> 'tokenDigest', 'hex') and ended_at is null and signed_in_at is null
     and user_id is not null and code_expires_at > pg_catalog.now()
  returning * into s;
  if not found then
    perform auth.raise_gone('sign_in_not_started', 'Start again: enter your email to get a new code.');
  end if;
  return pg_catalog.jsonb_build_object('email', s.email);
end
$$;
comment on function auth.complete_web_sign_in(jsonb) is 'Marks a sign-in whose code the server verified as signed in for 12 hours, under the new session secret; chooses the organisation when the person has one.';
revoke all on function auth.complete_web_sign_in(jsonb) from public;
grant execute on function auth.complete_web_sign_in(jsonb) to favcrm_anon;

-- A signed-in browser session, or NULL: the person, when they signed in, the organisation
-- chosen and every organisation they belong to.
-- p: tokenDigest.
create function auth.web_session(p jsonb) returns jsonb
language sql stable security definer set search_path = '' as $$
  select pg_catalog.jsonb_build_object(
           'sessionId', s.id, 'email', s.email, 'userId', s.user_id, 'signedInAt', app.ts(s.signed_in_at),
           'fresh', s.signed_in_at > pg_catalog.now() - interval '15 minutes',
           'organisationId', s.organisation_id,
           'organisations', coalesce((
             select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                      'id', o.id, 'name', o.name, 'role', m.role, 'memberName', m.name,
                      'scopes', pg_catalog.to_jsonb(auth.role_scopes(m.role))) order by o.name, o.id)
               from app.memberships m join app.organisations o on o.id = m.org_id
              where m.user_id = s.user_id and m.removed_at is null), '[]'))
    from app.web_sessions s
   where s.token_digest = pg_catalog.decode(p ->> 'tokenDigest', 'hex') and s.ended_at is null
     and s.signed_in_at is not null and s.expires_at > pg_catalog.now()
$$;
comment on function auth.web_session(jsonb) is 'The signed-in session a browser''s secret names (NULL when none): the person, whether the sign-in is fresh (15 minutes), the organisation chosen and their organisations (with the scopes their role there allows).';
revoke all on function auth.web_session(jsonb) from public;
grant execute on function auth.web_session(jsonb) to favcrm_anon;

-- Chooses the organisation the pages act in (one the person belongs to).
create function auth.choose_web_organisation(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
begin
  update app.web_sessions s set organisation_id = (p ->> 'organisationId')::uuid
   where s.token_digest = pg_catalog.decode(p ->> 'tokenDigest', 'hex') and s.ended_at is null
     and s.signed_in_at is not null and s.expires_at > pg_catalog.now()
     and exists (select from app.memberships m
                  where m.org_id = (p ->> 'organisationId')::uuid and m.user_id = s.user_id and m.removed_at is null);
  if not found then
    raise exception using errcode = '42501', hint = 'forbidden', column = 'organisationId',
      message = 'You are not signed in, or not a member of that organisation.';
  end if;
  return auth.web_session(p);
end
$$;
comment on function auth.choose_web_organisation(jsonb) is 'Sets the organisation a signed-in browser acts in, among the person''s memberships.';
revoke all on function auth.choose_web_organisation(jsonb) from public;
grant execute on function auth.choose_web_organisation(jsonb) to favcrm_anon;

create function auth.end_web_session(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
begin
  update app.web_sessions set ended_at = pg_catalog.now()
   where token_digest = pg_catalog.decode(p ->> 'tokenDigest', 'hex') and ended_at is null;
  return '{}'::jsonb;
end
$$;
comment on function auth.end_web_session(jsonb) is 'Signs a browser out.';
revoke all on function auth.end_web_session(jsonb) from public;
grant execute on function auth.end_web_session(jsonb) to favcrm_anon;

-- Sets a page's claims from a signed-in session with an organisation chosen: the person, with
-- every scope their role allows, as no key (key_kind person: they decide approvals). Returns
-- the claims as auth.authenticate does; 28000 when the session is not signed in any more.
create function auth.authenticate_session(p_token_digest bytea, p_context text) returns text
language plpgsql security definer set search_path = '' as $$
declare
  v_org uuid;
  v_user uuid;
  v_role text;
begin
  select s.organisation_id, s.user_id, m.role into v_org, v_user, v_role
    from app.web_sessions s
    join app.memberships m on m.org_id = s.organisation_id and m.user_id = s.user_id and m.removed_at is null
   where s.token_digest = p_token_digest and s.ended_at is null and s.signed_in_at is not null
     and s.expires_at > pg_catalog.now();
  if not found then
    raise exception using errcode = '28000', hint = 'not_signed_in', message = 'Sign in again.';
  end if;
  perform auth.set_claims(p_context::jsonb || pg_catalog.jsonb_build_object(
    'org_id', v_org, 'user_id', v_user, 'key_id', null, 'key_kind', 'person', 'role', v_role,
    'scopes', pg_catalog.to_jsonb(auth.role_scopes(v_role)), 'toolsets', null, 'read_only', false,
    'last_used_at', null));
  return pg_catalog.current_setting('request.claims');
end
$$;
comment on function auth.authenticate_session(bytea, text) is 'Sets request.claims for a signed-in browser''s person in the organisation chosen: their role and every scope it allows, no key. Raises 28000 not_signed_in otherwise.';
revoke all on function auth.authenticate_session(bytea, text) from public;
grant execute on function auth.authenticate_session(bytea, text) to favcrm_member, favcrm_authenticator;

-- ---------------------------------------------------------------------------------------
-- Consent: the authorization code
-- ---------------------------------------------------------------------------------------
-- p: tokenDigest (the session), clientId, redirectUri, codeChallenge, resource, scopes,
-- organisationId. Returns the code (shown once; only its SHA-256 is kept) and the scopes granted.
create function auth.issue_oauth_code(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  s app.web_sessions;
  c app.oauth_clients;
  v_role text;
  v_scopes text[];
  v_code text := auth.new_token('fav_oac_');
begin
  select * into s from app.web_sessions
   where token_digest = pg_catalog.decode(p ->> 'tokenDigest', 'hex') and ended_at is null
     and signed_in_at is not null and expires_at > pg_catalog.now();
  if not found or s.signed_in_at <= pg_catalog.now() - interval '15 minutes' then
    raise exception using errcode = '28000', hint = 'sign_in_required',
      message = 'Consenting needs a sign-in of the last 15 minutes: sign in again.';
  end if;
  select * into c from app.oauth_clients where client_id = p ->> 'clientId';
  if not found or not auth.oauth_redirect_allowed(c.redirect_uris, p ->> 'redirectUri') then
    raise exception using errcode = '22023', hint = 'invalid_request', column = 'redirect_uri',
      message = 'The client or its redirect URI is not registered.';
  end if;
  select m.role into v_role from app.memberships m
   where m.org_id = (p ->> 'organisationId')::uuid and m.user_id = s.user_id and m.removed_at is null;
  if not found then
    raise exception using errcode = '42501', hint = 'forbidden', column = 'organisation',
      message = 'You are not a member of that organisation.';
  end if;
  v_scopes := array(select x from pg_catalog.jsonb_array_elements_text(p -> 'scopes') x
                     where x = any (auth.role_scopes(v_role)) order by x);
  if pg_catalog.cardinality(v_scopes) = 0 then
    raise exception using errcode = '22023', hint = 'no_scopes', column = 'scope',
      message = 'Tick at least one thing the app may do.';
  end if;
  perform auth.set_claims(pg_catalog.jsonb_build_object('org_id', (p ->> 'organisationId')::uuid, 'user_id', s.user_id,
                                                         'via', 'web', 'op', 'consent'));
  insert into app.oauth_codes (org_id, code_digest, client_id, user_id, redirect_uri, code_challenge, resource,
                               scopes, expires_at)
  values ((p ->> 'organisationId')::uuid, auth.sha256(v_code), c.id, s.user_id,
          p ->> 'redirectUri', p ->> 'codeChallenge', p ->> 'resource', v_scopes,
          pg_catalog.now() + interval '5 minutes');
  return pg_catalog.jsonb_build_object('code', v_code, 'scopes', pg_catalog.to_jsonb(v_scopes));
end
$$;
comment on function auth.issue_oauth_code(jsonb) is 'Records the person''s consent as an authorization code (5 minutes, one use) bound to the client, redirect URI, PKCE challenge, resource, organisation and the scopes they left ticked within their role.';
revoke all on function auth.issue_oauth_code(jsonb) from public;
grant execute on function auth.issue_oauth_code(jsonb) to favcrm_anon;

-- ---------------------------------------------------------------------------------------
-- The token endpoint
-- ---------------------------------------------------------------------------------------
create function auth.oauth_refusal(p_error text, p_description text) returns jsonb
language sql immutable parallel safe as $$
  select pg_catalog.jsonb_build_object('error', p_error, 'error_description', p_description)
$$;
comment on function auth.oauth_refusal(text, text) is 'A token endpoint refusal as RFC 6749 §5.2 writes it.';
grant execute on function auth.oauth_refusal(text, text) to favcrm_anon;

-- How the client presenting itself stands to the one a code or token was issued to: NULL when
-- it is that client (and, being confidential, carries its secret); else the refusal.
create function auth.oauth_client_refusal(c app.oauth_clients, p jsonb, p_what text) returns jsonb
language sql stable set search_path = '' as $$
  select case
    when c.client_id is distinct from p ->> 'clientId'
      then auth.oauth_refusal('invalid_grant', pg_catalog.format('The %s was issued to another client.', p_what))
    when c.secret_digest is not null and c.secret_digest <> auth.sha256(coalesce(p ->> 'clientSecret', ''))
      then auth.oauth_refusal('invalid_client', 'The client''s secret is missing or wrong.')
  end
$$;
comment on function auth.oauth_client_refusal(app.oauth_clients, jsonb, text) is 'NULL when the request names the client a code or token was issued to (with its secret, for a confidential one); else the refusal: invalid_grant for another client, invalid_client for a wrong secret.';
revoke all on function auth.oauth_client_refusal(app.oauth_clients, jsonb, text) from public;

-- A new access token (an hour) and refresh token (30 days) for a grant.
create function auth.oauth_token_pair(k app.api_keys) returns jsonb
language plpgsql volatile set search_path = '' as $$
declare
  v_access text := auth.new_token('fav_oat_');
  v_refresh text := auth.new_token('fav_ort_');
begin
  insert into app.oauth_tokens (org_id, key_id, kind, token_digest, expires_at)
  values (k.org_id, k.id, 'access', auth.sha256(v_access), pg_catalog.now() + interval '1 hour'),
         (k.org_id, k.id, 'refresh', auth.sha256(v_refresh), pg_catalog.now() + interval '30 days');
  return pg_catalog.jsonb_build_object('access_token', v_access, 'token_type', 'Bearer', 'expires_in', 3600,
                                       'refresh_token', v_refresh, 'scope', pg_catalog.array_to_string(k.scopes, ' '));
end
$$;
comment on function auth.oauth_token_pair(app.api_keys) is 'Issues an access token (1 hour) and a refresh token (30 days) for a grant; returns them as the token endpoint answers.';
revoke all on function auth.oauth_token_pair(app.api_keys) from public;

-- Revokes a grant and forgets its tokens (reuse detected, or revoked by the client).
create function auth.revoke_oauth_grant(p_org uuid, p_key uuid, p_op text) returns void
language plpgsql volatile set search_path = '' as $$
begin
  perform auth.set_claims(pg_catalog.jsonb_build_object('org_id', p_org, 'via', 'oauth', 'op', p_op));
  update app.api_keys set revoked_at = pg_catalog.now()
   where org_id = p_org and id = p_key and revoked_at is null;
  delete from app.oauth_tokens where org_id = p_org and key_id = p_key;
end
$$;
comment on function auth.revoke_oauth_grant(uuid, uuid, text) is 'Revokes a grant (its key) and deletes every token of it.';
revoke all on function auth.revoke_oauth_grant(uuid, uuid, text) from public;

-- grant_type=authorization_code. p: code, clientId, clientSecret, redirectUri, codeVerifier,
-- resource (canonical, or absent), requestId.
create function auth.exchange_oauth_code(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_code app.oauth_codes;
  c app.oauth_clients;
  k app.api_keys;
  v_verifier text := p ->> 'codeVerifier';
  v_refusal jsonb;
begin
  -- Found first (any organisation's), then locked in its organisation: a locking read needs
  -- the update policy too, which holds only in the claimed organisation.
  select * into v_code from app.oauth_codes where code_digest = auth.sha256(coalesce(p ->> 'code', ''));
  if not found then
    return auth.oauth_refusal('invalid_grant', 'The authorization code is not valid.');
  end if;
  perform auth.set_claims(pg_catalog.jsonb_build_object(
    'org_id', v_code.org_id, 'user_id', v_code.user_id, 'via', 'oauth', 'op', 'exchange_oauth_code',
    'request_id', p ->> 'requestId'));
  select * into v_code from app.oauth_codes where org_id = v_code.org_id and id = v_code.id for update;
  select * into c from app.oauth_clients where id = v_code.client_id;
  v_refusal := auth.oauth_client_refusal(c, p, 'authorization code');
  if v_refusal is not null then
    return v_refusal;
  end if;
  if v_code.used_at is not null then
    -- A code used twice: whoever holds it may be an attacker; what it gave is revoked.
    if v_code.key_id is not null then
      perform auth.revoke_oauth_grant(v_code.org_id, v_code.key_id, 'exchange_oauth_code');
    end if;
    return auth.oauth_refusal('invalid_grant', 'The authorization code was already used; the tokens it gave are revoked.');
  end if;
  if v_code.expires_at <= pg_catalog.now() then
    return auth.oauth_refusal('invalid_grant', 'The authorization code expired (codes last 5 minutes).');
  end if;
  if v_code.redirect_uri is distinct from p ->> 'redirectUri' then
    return auth.oauth_refusal('invalid_grant', 'redirect_uri differs from the one the code was issued for.');
  end if;
  if v_verifier is null or v_verifier !~ '^[A-Za-z0-9._~-]{43,128}$' then
    return auth.oauth_refusal('invalid_grant', 'code_verifier is missing or malformed (PKCE: 43 to 128 characters).');
  end if;
  if pg_catalog.rtrim(pg_catalog.translate(pg_catalog.encode(ext.digest(v_verifier, 'sha256'), 'base64'), '+/', '-_'), '=')
     <> v_code.code_challenge then
    return auth.oauth_refusal('invalid_grant', 'code_verifier does not match the code_challenge (PKCE S256).');
  end if;
  if p ->> 'resource' is not null and p ->> 'resource' <> v_code.resource then
    return auth.oauth_refusal('invalid_target', 'resource differs from the one consented to.');
  end if;
  if not exists (select from app.memberships m
                  where m.org_id = v_code.org_id and m.user_id = v_code.user_id and m.removed_at is null) then
    return auth.oauth_refusal('invalid_grant', 'The person who consented is no longer a member.');
  end if;
  insert into app.api_keys (org_id, user_id, name, kind, key_prefix, key_digest, scopes, oauth_client_id, oauth_resource)
  values (v_code.org_id, v_code.user_id, pg_catalog.left(c.name, 100), 'agent', 'oauth',
          ext.digest(ext.gen_random_bytes(32), 'sha256'), v_code.scopes, c.id, v_code.resource)
  returning * into k;
  update app.oauth_codes set used_at = pg_catalog.now(), key_id = k.id
   where org_id = v_code.org_id and id = v_code.id;
  return auth.oauth_token_pair(k);
end
$$;
comment on function auth.exchange_oauth_code(jsonb) is 'The authorization code grant: checks the client, the code (one use, 5 minutes; a second use revokes what it gave), the redirect URI, PKCE S256 and the resource; creates the grant and its first tokens. Refusals are returned as {error, error_description}.';
revoke all on function auth.exchange_oauth_code(jsonb) from public;
grant execute on function auth.exchange_oauth_code(jsonb) to favcrm_anon;

-- grant_type=refresh_token. p: refreshToken, clientId, clientSecret, scope, resource.
create function auth.refresh_oauth_token(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  t app.oauth_tokens;
  k app.api_keys;
  c app.oauth_clients;
  v_refusal jsonb;
begin
  select * into t from app.oauth_tokens
   where token_digest = auth.sha256(coalesce(p ->> 'refreshToken', '')) and kind = 'refresh';
  if not found then
    return auth.oauth_refusal('invalid_grant', 'The refresh token is not valid.');
  end if;
  -- Locked in its organisation (see exchange_oauth_code): two refreshes with one token are
  -- one rotation and one reuse, never two rotations.
  perform auth.set_claims(pg_catalog.jsonb_build_object('org_id', t.org_id, 'via', 'oauth', 'op', 'refresh_oauth_token'));
  select * into t from app.oauth_tokens where org_id = t.org_id and id = t.id for update;
  select * into k from app.api_keys where org_id = t.org_id and id = t.key_id;
  select * into c from app.oauth_clients where id = k.oauth_client_id;
  v_refusal := auth.oauth_client_refusal(c, p, 'refresh token');
  if v_refusal is not null then
    return v_refusal;
  end if;
  if t.rotated_at is not null then
    perform auth.revoke_oauth_grant(t.org_id, t.key_id, 'refresh_oauth_token');
    return auth.oauth_refusal('invalid_grant',
      'The refresh token was already used. Someone else may hold it, so the whole grant is revoked: authorize again.');
  end if;
  if t.expires_at <= pg_catalog.now() or k.revoked_at is not null
     or not exists (select from app.memberships m
                     where m.org_id = k.org_id and m.user_id = k.user_id and m.removed_at is null) then
    return auth.oauth_refusal('invalid_grant', 'The refresh token expired or its grant was revoked: authorize again.');
  end if;
  if p ->> 'resource' is not null and p ->> 'resource' <> k.oauth_resource then
    return auth.oauth_refusal('invalid_target', 'resource differs from the one consented to.');
  end if;
  if p ->> 'scope' is not null
     and not (pg_catalog.string_to_array(pg_catalog.btrim(p ->> 'scope'), ' ') operator(pg_catalog.<@) k.scopes) then
    return auth.oauth_refusal('invalid_scope', 'scope asks for more than the person consented to.');
  end if;
  update app.oauth_tokens set rotated_at = pg_catalog.now() where org_id = t.org_id and id = t.id;
  return auth.oauth_token_pair(k);
end
$$;
comment on function auth.refresh_oauth_token(jsonb) is 'The refresh token grant with rotation: a refresh token is good once; presented again it revokes the grant (reuse detection). Refusals are returned as {error, error_description}.';
revoke all on function auth.refresh_oauth_token(jsonb) from public;
grant execute on function auth.refresh_oauth_token(jsonb) to favcrm_anon;

-- RFC 7009. A refresh token revokes its grant; an access token only itself. An unknown token,
-- or another client's, changes nothing (and the answer is the same).
create function auth.revoke_oauth_token(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  t app.oauth_tokens;
  c app.oauth_clients;
begin
  select * into t from app.oauth_tokens where token_digest = auth.sha256(coalesce(p ->> 'token', ''));
  if not found then
    return '{}'::jsonb;
  end if;
  select c2.* into c from app.oauth_clients c2
    join app.api_keys k on k.oauth_client_id = c2.id
   where k.org_id = t.org_id and k.id = t.key_id;
  if auth.oauth_client_refusal(c, p, 'token') is not null then
    return '{}'::jsonb;
  end if;
  if t.kind = 'refresh' then
    perform auth.revoke_oauth_grant(t.org_id, t.key_id, 'revoke_oauth_token');
  else
    perform auth.set_claims(pg_catalog.jsonb_build_object('org_id', t.org_id, 'via', 'oauth', 'op', 'revoke_oauth_token'));
    delete from app.oauth_tokens where org_id = t.org_id and id = t.id;
  end if;
  return '{}'::jsonb;
end
$$;
comment on function auth.revoke_oauth_token(jsonb) is 'Token revocation (RFC 7009): a refresh token revokes its whole grant, an access token itself; unknown tokens change nothing.';
revoke all on function auth.revoke_oauth_token(jsonb) from public;
grant execute on function auth.revoke_oauth_token(jsonb) to favcrm_anon;

-- For auth.authenticate: the digest of the grant an access token belongs to, when the token is
-- live and its grant's resource covers the one the request is for (the context's resource:
-- equal, or below it). Raises 28000 otherwise.
create function auth.oauth_access_grant(p_token_digest bytea, p_context text) returns bytea
language plpgsql stable set search_path = '' as $$
declare
  v_digest bytea;
  v_resource text;
  v_wanted text := p_context::jsonb ->> 'resource';
begin
  select k.key_digest, k.oauth_resource into v_digest, v_resource
    from app.oauth_tokens t
    join app.api_keys k on k.org_id = t.org_id and k.id = t.key_id
   where t.token_digest = p_token_digest and t.kind = 'access' and t.expires_at > pg_catalog.now();
  if not found then
    raise exception using errcode = '28000', hint = 'invalid_api_key',
      message = 'The API key or access token is unknown, revoked or expired.';
  end if;
  if v_wanted is null or not (v_wanted = v_resource or pg_catalog.starts_with(v_wanted, v_resource || '/')) then
    raise exception using errcode = '28000', hint = 'invalid_token',
      message = pg_catalog.format('The access token was issued for %s, not for %s.', v_resource,
                                  coalesce(v_wanted, 'this surface'));
  end if;
  return v_digest;
end
$$;
comment on function auth.oauth_access_grant(bytea, text) is 'The key digest of the grant a live access token belongs to, if the grant''s resource covers the request''s; raises 28000 otherwise.';
revoke all on function auth.oauth_access_grant(bytea, text) from public;

-- ---------------------------------------------------------------------------------------
-- Connected apps (for the person, on the pages; in auth because the server prepares the
-- statement before it takes the member's role)
-- ---------------------------------------------------------------------------------------
create function auth.my_connected_apps() returns jsonb
language sql stable set search_path = '' as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', k.id, 'name', k.name, 'scopes', pg_catalog.to_jsonb(k.scopes), 'resource', k.oauth_resource,
           'createdAt', app.ts(k.created_at), 'lastUsedAt', app.ts(k.last_used_at)) order by k.created_at desc), '[]')
    from app.api_keys k
   where k.org_id = auth.org_id() and k.user_id = auth.user_id() and k.oauth_client_id is not null
     and k.revoked_at is null
$$;
comment on function auth.my_connected_apps() is 'The caller''s live grants to OAuth clients in their organisation.';
grant execute on function auth.my_connected_apps() to favcrm_member;

create function auth.revoke_my_connected_app(p_key_id uuid) returns jsonb
language plpgsql volatile set search_path = '' as $$
begin
  update app.api_keys set revoked_at = pg_catalog.now()
   where org_id = auth.org_id() and id = p_key_id and user_id = auth.user_id() and oauth_client_id is not null
     and revoked_at is null;
  if not found then
    perform app.not_found('connected app', 'id');
  end if;
  return pg_catalog.jsonb_build_object('id', p_key_id, 'status', 'revoked');
end
$$;
comment on function auth.revoke_my_connected_app(uuid) is 'Revokes one of the caller''s grants to an OAuth client: its tokens stop working on the next request.';
grant execute on function auth.revoke_my_connected_app(uuid) to favcrm_member;
