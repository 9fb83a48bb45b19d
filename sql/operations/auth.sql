-- What every call goes through: scopes and roles, key authentication, idempotency keys,
-- confirmation tokens, and the small refusal helpers of the no-key flows. The claim readers
-- that policies use (auth.claims, auth.org_id, auth.user_id, auth.key_id, auth.role) are
-- data's, so they live in the migrations.

-- ---------------------------------------------------------------------------------------
-- Scopes and roles
-- ---------------------------------------------------------------------------------------
create function auth.has_scope(p_scope text) returns boolean
language sql stable parallel safe as $$
  select coalesce((auth.claims() -> 'scopes') ? p_scope, false)
$$;
comment on function auth.has_scope(text) is 'Whether the current request holds the scope (already narrowed to what its role allows).';
grant execute on function auth.has_scope(text) to favcrm_member, favcrm_anon;

create function auth.require_scope(p_scope text) returns void
language plpgsql stable set search_path = '' as $$
begin
  if auth.org_id() is null then
    raise exception using errcode = '42501', hint = 'unauthenticated',
      message = 'This operation needs an authenticated caller.';
  end if;
  if not auth.has_scope(p_scope) then
    raise exception using errcode = '42501', hint = 'insufficient_scope',
      message = pg_catalog.format('This operation needs the scope %s, which the key or its role does not have.', p_scope);
  end if;
end
$$;
comment on function auth.require_scope(text) is 'Raises 42501 insufficient_scope unless the request holds the scope.';
grant execute on function auth.require_scope(text) to favcrm_member, favcrm_anon;

create function auth.role_rank(p_role text) returns int
language sql immutable parallel safe as $$
  select case p_role when 'owner' then 4 when 'admin' then 3 when 'manager' then 2 when 'staff' then 1 else 0 end
$$;
comment on function auth.role_rank(text) is 'Orders organisation roles: owner 4, admin 3, manager 2, staff 1.';
grant execute on function auth.role_rank(text) to favcrm_member, favcrm_anon;

-- The scopes each role may hold. Everyone can read and take bookings; staff only their own
-- (the policies on app.bookings). Staff hold billing:read, but see billing only where the
-- organisation allows it, and then only their own bookings' (the policies on the billing tables).
create function auth.role_scopes(p_role text) returns text[]
language sql immutable parallel safe as $$
  select case p_role
    when 'owner' then array['approvals:decide','approvals:read','approvals:write','audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write','content:read','content:write','customers:read','customers:write','keys:read','keys:write','loyalty:read','loyalty:write','messaging:read','messaging:write','organisation:read','organisation:write','reports:read','subscriptions:read','subscriptions:write','team:read','team:write','webhooks:read','webhooks:write']
    when 'admin' then array['approvals:decide','approvals:read','approvals:write','audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write','content:read','content:write','customers:read','customers:write','keys:read','keys:write','loyalty:read','loyalty:write','messaging:read','messaging:write','organisation:read','organisation:write','reports:read','subscriptions:read','subscriptions:write','team:read','team:write','webhooks:read','webhooks:write']
    when 'manager' then array['approvals:decide','approvals:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write','content:read','content:write','customers:read','customers:write','keys:read','keys:write','loyalty:read','loyalty:write','messaging:read','messaging:write','organisation:read','reports:read','subscriptions:read','subscriptions:write','team:read','team:write']
    when 'staff' then array['billing:read','bookings:read','bookings:write','commerce:read','content:read','customers:read','customers:write','loyalty:read','messaging:read','organisation:read','reports:read','subscriptions:read','team:read']
    else array[]::text[]
  end
$$;
comment on function auth.role_scopes(text) is 'The ceiling of scopes an organisation role may hold. A key''s effective scopes are its own scopes intersected with this.';
grant execute on function auth.role_scopes(text) to favcrm_member, favcrm_anon;

create function auth.all_scopes() returns text[]
language sql immutable parallel safe as $$
  select auth.role_scopes('owner')
$$;
comment on function auth.all_scopes() is 'Every scope that exists.';
grant execute on function auth.all_scopes() to favcrm_member, favcrm_anon;

-- The toolsets that exist: the domains of the scopes.
create function auth.all_toolsets() returns text[]
language sql immutable parallel safe as $$
  select array(select distinct pg_catalog.split_part(s, ':', 1) from pg_catalog.unnest(auth.all_scopes()) s order by 1)
$$;
comment on function auth.all_toolsets() is 'Every toolset name (the part of a scope before the colon).';
grant execute on function auth.all_toolsets() to favcrm_member, favcrm_anon;

-- Owners manage everyone; admins and managers only roles below their own.
create function auth.require_outranks(p_role text, p_field text) returns void
language plpgsql stable set search_path = '' as $$
begin
  if auth.role() <> 'owner' and auth.role_rank(p_role) >= auth.role_rank(auth.role()) then
    raise exception using errcode = '42501', hint = 'role_exceeds_caller', column = p_field,
      message = pg_catalog.format('A %s cannot grant or manage the role %s: only roles below their own.', auth.role(), p_role);
  end if;
end
$$;
comment on function auth.require_outranks(text, text) is 'Raises 42501 role_exceeds_caller unless the caller is an owner or outranks the role.';
grant execute on function auth.require_outranks(text, text) to favcrm_member;

-- Setting up what can be booked is for managers and above.
create function app.require_manager() returns void
language plpgsql stable set search_path = '' as $$
begin
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'Only managers and above can change services, staff, resources, hours and closures.';
  end if;
end
$$;
comment on function app.require_manager() is 'Raises 42501 forbidden unless the caller is a manager, admin or owner (setting up what can be booked).';
grant execute on function app.require_manager() to favcrm_member;

-- The server's own workers (the scheduler, the outbox) act for one organisation at a time as
-- its owner role would, with no user, under the same policies as a request: the server calls
-- these after switching to the member role.
create function auth.act_for_system(p_org uuid, p_via text, p_op text) returns void
language plpgsql volatile set search_path = '' as $$
begin
  perform auth.set_claims(pg_catalog.jsonb_build_object(
    'org_id', p_org, 'role', 'owner', 'scopes', pg_catalog.to_jsonb(auth.all_scopes()), 'key_kind', 'app',
    'via', p_via, 'op', p_op));
end
$$;
comment on function auth.act_for_system(uuid, text, text) is 'Sets the claims a worker of the server acts under for one organisation: its owner role, no user, via the worker (scheduler, outbox).';
revoke all on function auth.act_for_system(uuid, text, text) from public;
grant execute on function auth.act_for_system(uuid, text, text) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Keys
-- ---------------------------------------------------------------------------------------
-- The scopes a key holds: those it asks for that its holder's role has, only the reads if it
-- is read-only, only its toolsets' if it names some. A function of its own (not inlined, so
-- plpgsql) because auth.authenticate needs it only for narrowed keys, and a subquery there
-- cost every request its executor setup (about 3 us) even when not run.
create function auth.effective_scopes(p_scopes text[], p_role text, p_read_only boolean, p_toolsets text[])
returns text[]
language plpgsql immutable set search_path = '' as $$
begin
  return array(select s from pg_catalog.unnest(p_scopes) s
                where s = any (auth.role_scopes(p_role))
                  and (not p_read_only or s like '%:read')
                  and (p_toolsets is null or pg_catalog.split_part(s, ':', 1) = any (p_toolsets))
                order by s);
end
$$;
comment on function auth.effective_scopes(text[], text, boolean, text[]) is 'The scopes a key holds: those it asks for within its holder''s role, narrowed to reads if read-only and to its toolsets if it names some.';
grant execute on function auth.effective_scopes(text[], text, boolean, text[]) to favcrm_member;

-- What a key establishes, field by field as the claims name them (auth.authenticate).
drop type if exists auth.key_claims cascade;
create type auth.key_claims as (
  org_id uuid, user_id uuid, key_id uuid, key_kind text, role text, scopes text[], toolsets text[],
  read_only boolean, last_used_at timestamptz
);
comment on type auth.key_claims is 'The claims an API key establishes (auth.authenticate): organisation, user, key, role, effective scopes and narrowing.';

-- What a key establishes, as JSON: its organisation, user, id, kind, its holder's role, its
-- effective scopes and narrowing, and when it was last used. A key that asks for nothing beyond
-- its holder's role and has no read-only or toolset narrowing (the common case) holds its
-- scopes as they are; only the others are intersected.
create function auth.key_claims_json(p_org_id uuid, p_user_id uuid, p_key_id uuid, p_kind text, p_role text,
                                     p_scopes text[], p_toolsets text[], p_read_only boolean,
                                     p_last_used_at timestamptz)
returns text
-- plpgsql, not an inlined SQL function: auth.authenticate would otherwise set up this whole
-- expression on every call, even when it uses the stored claims (3 us of its 11).
language plpgsql stable set search_path = '' as $$
begin
  return pg_catalog.to_json(row(
           p_org_id, p_user_id, p_key_id, p_kind, p_role,
           case when not p_read_only and p_toolsets is null and p_scopes operator(pg_catalog.<@) auth.role_scopes(p_role)
                then p_scopes
                else auth.effective_scopes(p_scopes, p_role, p_read_only, p_toolsets) end,
           p_toolsets, p_read_only, p_last_used_at)::auth.key_claims)::text;
end
$$;
comment on function auth.key_claims_json(uuid, uuid, uuid, text, text, text[], text[], boolean, timestamptz) is 'The claims an API key establishes (auth.key_claims) as JSON text: built by auth.authenticate, and stored with the key by auth.touch_api_key.';
grant execute on function auth.key_claims_json(uuid, uuid, uuid, text, text, text[], text[], boolean, timestamptz) to favcrm_member;

-- Sets a transaction's claims and, beside them, the facts every policy asks for (V16): its
-- organisation, user, key and role, so that auth.org_id() and the others read a setting instead
-- of parsing the claims. With auth.authenticate (which sets them from the key it looked up) the
-- only way to set any of them: policy rule 11.
create function auth.set_claims(p_claims jsonb) returns void
language plpgsql set search_path = '' as $$
begin
  perform pg_catalog.set_config('request.claims', p_claims::text, true),
          pg_catalog.set_config('request.org_id', coalesce(p_claims ->> 'org_id', ''), true),
          pg_catalog.set_config('request.user_id', coalesce(p_claims ->> 'user_id', ''), true),
          pg_catalog.set_config('request.key_id', coalesce(p_claims ->> 'key_id', ''), true),
          pg_catalog.set_config('request.role', coalesce(p_claims ->> 'role', ''), true);
end
$$;
comment on function auth.set_claims(jsonb) is 'Sets request.claims for the transaction and, from them, request.org_id, request.user_id, request.key_id and request.role (what auth.org_id(), auth.user_id(), auth.key_id() and auth.role() read).';
revoke all on function auth.set_claims(jsonb) from public;
-- The runtime roles may call it as they may call set_config itself (the policy tests act through it).
grant execute on function auth.set_claims(jsonb) to favcrm_member, favcrm_anon;

-- The claims are the request context the server sent (via, op, request_id, digests; a JSON
-- object as text) followed by what the key establishes, joined as text: extracting the
-- context's fields one by one cost a quarter of the function. PostgreSQL's JSON readers take
-- the last of a repeated key (and the server's refuses one), so a context can never override
-- the key's facts. What the key establishes is the JSON auth.touch_api_key stored with it
-- while that still describes the key (built for its holder's current role, since these
-- definitions were applied; V15 clears it when the key's own columns change), else built
-- by a second statement: building it cost more than half of this function, and naming the
-- columns it needs in the lookup cost the lookup 1-2 us even when unused.
-- A removed member's keys stop working even if one escaped revocation.
create function auth.authenticate(p_key_digest bytea, p_context text) returns text
language plpgsql security definer set search_path = '' as $$
declare
  v_context text := pg_catalog.left(p_context, -1);  -- the context without its closing brace
  v_claims text;
  v_org uuid;
  v_key uuid;
  v_facts text;
begin
  if p_context not like '{%}' then
    raise exception using errcode = '22023', message = 'The request context must be a JSON object.';
  end if;
  -- (The type's OID is read when this statement is planned: a constant.) The facts policies
  -- read beside the claims (V16) are set here, for the key found only: in a statement of their
  -- own they cost 2.5 us more.
  select case when k.claims_role = m.role and k.claims_generation = 'auth.key_claims'::regtype::oid then k.claims end,
         k.org_id, k.id,
         pg_catalog.concat(pg_catalog.set_config('request.org_id', k.org_id::text, true),
                           pg_catalog.set_config('request.user_id', k.user_id::text, true),
                           pg_catalog.set_config('request.key_id', k.id::text, true),
                           pg_catalog.set_config('request.role', m.role, true))
    into v_claims, v_org, v_key, v_facts
    from app.api_keys k
    join app.memberships m on m.org_id = k.org_id and m.user_id = k.user_id
   where k.key_digest = p_key_digest
     and k.revoked_at is null
     and (k.expires_at is null or k.expires_at > pg_catalog.now())
     and m.removed_at is null;
  if not found then
    -- Not a live key: an OAuth access token (V31) stands for its grant, a key whose own secret
    -- nobody holds, authenticated by that key's digest once the token is live and for this
    -- resource (auth.oauth_access_grant raises otherwise, so this goes at most one call deep).
    -- Here, not in a loop around the lookup: a loop cost every key's request 4%.
    return auth.authenticate(auth.oauth_access_grant(p_key_digest, p_context), p_context);
  end if;
  if v_claims is null then
    select auth.key_claims_json(k.org_id, k.user_id, k.id, k.kind, m.role, k.scopes, k.toolsets, k.read_only,
                                k.last_used_at)
      into v_claims
      from app.api_keys k
      join app.memberships m on m.org_id = k.org_id and m.user_id = k.user_id
     where k.org_id = v_org and k.id = v_key;
  end if;
  return pg_catalog.set_config('request.claims',
           v_context
           || case when pg_catalog.ltrim(v_context, E'{ \t\n\r') = '' then '' else ', ' end
           || pg_catalog.ltrim(v_claims, '{'),
           true);
end
$$;
comment on function auth.authenticate(bytea, text) is 'Looks up an API key, or the grant of a live OAuth access token for the request''s resource (context member resource), by SHA-256 digest; sets request.claims (the request context given, then org, user, key, role, effective scopes) and, beside them, request.org_id, request.user_id, request.key_id and request.role for the transaction, and returns the claims. Raises 28000 invalid_api_key for unknown, revoked or expired keys.';
revoke all on function auth.authenticate(bytea, text) from public;
-- The server calls it in the statement that switches to the member role (src/db/tx.rs), where
-- PostgreSQL checks the right to call it before the switch: so the login role may call it too.
grant execute on function auth.authenticate(bytea, text) to favcrm_member, favcrm_authenticator;

-- Records that a key was used. Called outside the request transaction, at most once a minute per key.
create function auth.touch_api_key(p_key_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_org uuid;
begin
  select org_id into v_org from app.api_keys where id = p_key_id;
  if v_org is null then
    return;
  end if;
  perform auth.set_claims(pg_catalog.jsonb_build_object('org_id', v_org));
  -- And stores what the key establishes, for auth.authenticate (V15).
  update app.api_keys k
     set last_used_at = pg_catalog.now(),
         claims = auth.key_claims_json(k.org_id, k.user_id, k.id, k.kind, m.role, k.scopes, k.toolsets, k.read_only,
                                       pg_catalog.now()),
         claims_role = m.role,
         claims_generation = 'auth.key_claims'::regtype::oid
    from app.memberships m
   where k.org_id = v_org and k.id = p_key_id and m.org_id = k.org_id and m.user_id = k.user_id;
end
$$;
comment on function auth.touch_api_key(uuid) is 'Sets last_used_at of a key to now, and stores the claims it establishes for auth.authenticate.';
revoke all on function auth.touch_api_key(uuid) from public;
grant execute on function auth.touch_api_key(uuid) to favcrm_authenticator;

-- A new key secret: fav_mcp_ (agent) or fav_sk_ (app back end) and 192 random bits, base64url.
create function auth.new_key_secret(p_kind text) returns text
language sql volatile as $$
  select case p_kind when 'app' then 'fav_sk_' else 'fav_mcp_' end
      || pg_catalog.rtrim(pg_catalog.translate(pg_catalog.encode(ext.gen_random_bytes(24), 'base64'), '+/', '-_'), '=')
$$;
comment on function auth.new_key_secret(text) is 'Generates the text of a new API key from a CSPRNG.';
grant execute on function auth.new_key_secret(text) to favcrm_member;

create function auth.new_token(p_prefix text) returns text
language sql volatile as $$
  select p_prefix || pg_catalog.rtrim(pg_catalog.translate(pg_catalog.encode(ext.gen_random_bytes(24), 'base64'), '+/', '-_'), '=')
$$;
comment on function auth.new_token(text) is 'A prefix and 192 random bits from a CSPRNG, base64url.';
grant execute on function auth.new_token(text) to favcrm_member;

create function auth.sha256(p_text text) returns bytea
language sql immutable parallel safe as $$
  select ext.digest(pg_catalog.convert_to(p_text, 'UTF8'), 'sha256')
$$;
comment on function auth.sha256(text) is 'SHA-256 of the UTF-8 text (how high-entropy tokens are stored).';
grant execute on function auth.sha256(text) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Idempotency keys and confirmation tokens
-- ---------------------------------------------------------------------------------------
-- Idempotency: claim a key for this request, or learn what to replay.
create function auth.claim_idempotency_key(p_key text, p_operation text, p_digest bytea) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_row app.idempotency_keys;
begin
  if pg_catalog.char_length(p_key) not between 1 and 255 then
    perform app.raise_invalid('Idempotency-Key', 'invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 characters.');
  end if;
  -- Waits for a concurrent request holding the same key, then sees its stored response.
  insert into app.idempotency_keys (org_id, key_id, idempotency_key, operation, request_digest)
  values (auth.org_id(), auth.key_id(), p_key, p_operation, p_digest)
  on conflict (org_id, key_id, idempotency_key) do nothing
  returning * into v_row;
  if found then
    return null;
  end if;
  select * into v_row from app.idempotency_keys
   where org_id = auth.org_id() and key_id = auth.key_id() and idempotency_key = p_key
   for update;
  if v_row.created_at < pg_catalog.now() - interval '24 hours' then
    update app.idempotency_keys
       set operation = p_operation, request_digest = p_digest, response_status = null,
           response_body = null, created_at = pg_catalog.now()
     where org_id = v_row.org_id and id = v_row.id;
    return null;
  end if;
  if v_row.operation <> p_operation or v_row.request_digest <> p_digest then
    raise exception using errcode = '22023', hint = 'idempotency_key_reused',
      message = 'This Idempotency-Key was already used with a different request.';
  end if;
  return pg_catalog.jsonb_build_object('status', v_row.response_status, 'body', v_row.response_body);
end
$$;
comment on function auth.claim_idempotency_key(text, text, bytea) is 'Claims an Idempotency-Key for this request: NULL to proceed, the stored response to replay, or 22023 idempotency_key_reused.';
grant execute on function auth.claim_idempotency_key(text, text, bytea) to favcrm_member;

create function auth.store_idempotent_response(p_key text, p_status int, p_body jsonb) returns jsonb
language sql as $$
  update app.idempotency_keys set response_status = p_status, response_body = p_body
   where org_id = auth.org_id() and key_id = auth.key_id() and idempotency_key = p_key;
  select p_body
$$;
comment on function auth.store_idempotent_response(text, int, jsonb) is 'Stores the response of the request that claimed the Idempotency-Key and returns it.';
grant execute on function auth.store_idempotent_response(text, int, jsonb) to favcrm_member;

-- Issues a confirmation token for the operation and arguments of this request.
create function auth.issue_confirmation(p_operation text) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_token text := 'fav_cfm_' || pg_catalog.rtrim(pg_catalog.translate(
                    pg_catalog.encode(ext.gen_random_bytes(24), 'base64'), '+/', '-_'), '=');
  v_expires timestamptz := pg_catalog.now() + interval '5 minutes';
begin
  if auth.key_id() is null or auth.claims() ->> 'args_digest' is null then
    raise exception using errcode = '42501', hint = 'unauthenticated', message = 'Confirmations need an authenticated key.';
  end if;
  insert into app.confirmations (org_id, key_id, operation, args_digest, token_digest, expires_at)
  values (auth.org_id(), auth.key_id(), p_operation, pg_catalog.decode(auth.claims() ->> 'args_digest', 'hex'),
          ext.digest(pg_catalog.convert_to(v_token, 'UTF8'), 'sha256'), v_expires);
  return pg_catalog.jsonb_build_object('confirmationToken', v_token, 'expiresAt', app.ts(v_expires));
end
$$;
comment on function auth.issue_confirmation(text) is 'Creates a single-use, 5-minute confirmation token bound to the organisation, key, operation and argument digest of the request.';
grant execute on function auth.issue_confirmation(text) to favcrm_member;

-- Called first by every destructive operation. Agent keys must present a token issued for
-- this key, this operation and exactly these arguments; it is used up. App keys pass.
create function auth.require_confirmation(p_operation text) returns void
language plpgsql set search_path = '' as $$
declare
  v_claims jsonb := auth.claims();
  v_found uuid;
begin
  -- App keys, and an approval being carried out (it was the person's confirmation), go ahead.
  if coalesce(v_claims ->> 'key_kind', 'agent') = 'app' or v_claims ? 'approval_id' then
    return;
  end if;
  if v_claims ->> 'confirmation_digest' is null then
    raise exception using errcode = 'FV428', hint = 'confirmation_required',
      message = pg_catalog.format('%s needs confirmation: show the preview to the person you act for, then call again with the same arguments and the confirmationToken.', p_operation);
  end if;
  update app.confirmations set used_at = pg_catalog.now()
   where org_id = auth.org_id() and key_id = auth.key_id()
     and token_digest = pg_catalog.decode(v_claims ->> 'confirmation_digest', 'hex')
     and operation = p_operation
     and args_digest = pg_catalog.decode(v_claims ->> 'args_digest', 'hex')
     and used_at is null and expires_at > pg_catalog.now()
  returning id into v_found;
  if v_found is null then
    raise exception using errcode = 'FV428', hint = 'invalid_confirmation_token',
      message = 'The confirmation token is unknown, used, expired, or was issued for another key, operation or arguments. Call again without it for a new preview.';
  end if;
end
$$;
comment on function auth.require_confirmation(text) is 'Raises FV428 (HTTP 428) unless the request is from an app key or carries a valid confirmation token for this operation and its exact arguments; uses the token up.';
grant execute on function auth.require_confirmation(text) to favcrm_member;

-- Housekeeping: forgets idempotency records past their 24 hours, confirmation tokens an hour
-- after they expired, and registrations after a week. Run by the server at start and hourly.
create function auth.purge_expired() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_idempotency int;
  v_confirmations int;
  v_signups int;
  v_imports int;
  v_sessions int;
  v_tokens int;
  v_codes int;
begin
  delete from app.idempotency_keys where created_at < pg_catalog.now() - interval '24 hours';
  get diagnostics v_idempotency = row_count;
  delete from app.confirmations where expires_at < pg_catalog.now() - interval '1 hour';
  get diagnostics v_confirmations = row_count;
  delete from app.signup_requests where created_at < pg_catalog.now() - interval '7 days' and completed_at is null;
  get diagnostics v_signups = row_count;
  delete from app.customer_imports where status <> 'committed' and expires_at < pg_catalog.now();
  get diagnostics v_imports = row_count;
  delete from app.web_sessions where expires_at < pg_catalog.now() - interval '1 day';
  get diagnostics v_sessions = row_count;
  delete from app.oauth_tokens where expires_at < pg_catalog.now() - interval '1 day';
  get diagnostics v_tokens = row_count;
  delete from app.oauth_codes where expires_at < pg_catalog.now() - interval '1 day' and key_id is null;
  get diagnostics v_codes = row_count;
  return pg_catalog.jsonb_build_object('idempotencyKeys', v_idempotency, 'confirmations', v_confirmations,
                                       'signupRequests', v_signups, 'customerImports', v_imports,
                                       'webSessions', v_sessions, 'oauthTokens', v_tokens, 'oauthCodes', v_codes);
end
$$;
comment on function auth.purge_expired() is 'Deletes idempotency records older than 24 hours, confirmation tokens expired for over an hour, week-old unfinished registrations and expired import previews (with their rows), browser sessions, OAuth tokens and unused codes a day past their expiry; returns how many.';
revoke all on function auth.purge_expired() from public;
grant execute on function auth.purge_expired() to favcrm_authenticator;

-- ---------------------------------------------------------------------------------------
-- Refusals and masks shared by the no-key flows
-- ---------------------------------------------------------------------------------------
-- Raises FV429 (HTTP 429 rate_limited); DETAIL carries the seconds to wait.
create function auth.raise_rate_limited(p_message text, p_retry_after interval) returns void
language plpgsql volatile set search_path = '' as $$
begin
  raise exception using errcode = 'FV429', hint = 'rate_limited', message = p_message,
    detail = greatest(1, pg_catalog.ceil(extract(epoch from p_retry_after)))::bigint::text;
end
$$;
comment on function auth.raise_rate_limited(text, interval) is 'Raises FV429 (HTTP 429 rate_limited) with the wait in seconds as DETAIL.';
grant execute on function auth.raise_rate_limited(text, interval) to favcrm_member, favcrm_anon;

-- Raises FV429 when p_limit (0: no limit) or more requests fall within p_window: p_times are the
-- latest (newest first, at most p_limit of them), and the wait lasts until the oldest of those
-- leaves the window. The bounds the database keeps across server processes (registrations,
-- sign-in codes, client registrations).
create function auth.limit_recent(p_times timestamptz[], p_limit int, p_window interval, p_message text) returns void
language plpgsql volatile set search_path = '' as $$
begin
  if p_limit > 0 and pg_catalog.cardinality(p_times) >= p_limit then
    perform auth.raise_rate_limited(p_message, p_times[p_limit] + p_window - pg_catalog.now());
  end if;
end
$$;
comment on function auth.limit_recent(timestamptz[], int, interval, text) is 'Raises FV429 (with the wait) when the latest requests given reach the limit within the window.';
revoke all on function auth.limit_recent(timestamptz[], int, interval, text) from public;

-- Raises FV410 (HTTP 410): the request, code or invitation can no longer be used.
create function auth.raise_gone(p_code text, p_message text) returns void
language plpgsql volatile set search_path = '' as $$
begin
  raise exception using errcode = 'FV410', hint = p_code, message = p_message;
end
$$;
comment on function auth.raise_gone(text, text) is 'Raises FV410 (HTTP 410) with a stable code: expired, used up or superseded.';
grant execute on function auth.raise_gone(text, text) to favcrm_member, favcrm_anon;

create function auth.mask_email(p_email text) returns text
language sql immutable parallel safe as $$
  select pg_catalog.left(l, least(2, greatest(pg_catalog.char_length(l) - 1, 1)))
      || pg_catalog.repeat('*', greatest(pg_catalog.char_length(l) - 2, 1))
      || '@' || pg_catalog.split_part(p_email, '@', 2)
    from (select pg_catalog.split_part(p_email, '@', 1) as l) s
$$;
comment on function auth.mask_email(text) is 'you@example.com → yo*@example.com: enough to recognise an address, not to learn it.';
grant execute on function auth.mask_email(text) to favcrm_member, favcrm_anon;

-- ---------------------------------------------------------------------------------------
-- Readiness
-- ---------------------------------------------------------------------------------------
-- Readiness: the migration version the database is at.
create function auth.schema_version() returns int
language sql stable security definer set search_path = '' as $$
  select coalesce(max(version), 0)::int from public.refinery_schema_history
$$;
comment on function auth.schema_version() is 'The highest applied migration version (for /readyz).';
revoke all on function auth.schema_version() from public;
grant execute on function auth.schema_version() to favcrm_authenticator;
