-- Organisations (the tenants), users, memberships, API keys, idempotency records and the
-- append-only audit log with the trigger that writes it.

create table app.organisations (
  id uuid primary key default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(pg_catalog.btrim(name)) between 1 and 200),
  industry text not null default 'other'
    check (industry in ('beauty', 'fitness', 'tutoring', 'retail', 'hospitality', 'services', 'other')),
  country text check (country ~ '^[A-Z]{2}$'),
  timezone text not null default 'UTC',
  default_currency text not null default 'USD' check (default_currency ~ '^[A-Z]{3}$'),
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now()
);
comment on table app.organisations is 'A business using favcrm: the tenant. Every tenant row carries its id as org_id.';
comment on column app.organisations.timezone is 'IANA time zone; wall-clock rules (opening hours) expand per date in this zone.';
comment on column app.organisations.default_currency is 'ISO 4217 code used when an amount names no currency.';

create table app.users (
  id uuid primary key default app.uuid_v7(),
  email text not null unique check (email = pg_catalog.lower(email) and pg_catalog.char_length(email) <= 254),
  created_at timestamptz not null default pg_catalog.now()
);
comment on table app.users is 'A person who can sign in, across organisations (global, not a tenant table). Their name and role per organisation live in memberships.';

create table app.memberships (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  user_id uuid not null references app.users (id),
  role text not null check (role in ('owner', 'admin', 'manager', 'staff')),
  name text not null check (pg_catalog.char_length(name) between 1 and 200),
  email text not null check (email = pg_catalog.lower(email)),
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, user_id)
);
comment on table app.memberships is 'A user''s place in an organisation: role and the name the team knows them by.';
comment on column app.memberships.role is 'owner > admin > manager > staff; auth.role_scopes(role) is the ceiling of what they may do.';

create table app.api_keys (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  user_id uuid not null,
  name text not null check (pg_catalog.char_length(name) between 1 and 100),
  kind text not null default 'agent' check (kind in ('agent', 'app')),
  key_prefix text not null,
  key_digest bytea not null check (pg_catalog.length(key_digest) = 32),
  scopes text[] not null,
  toolsets text[],
  read_only boolean not null default false,
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, key_digest),
  foreign key (org_id, user_id) references app.memberships (org_id, user_id)
);
create index api_keys_key_digest_idx on app.api_keys (key_digest);
create index api_keys_org_id_user_id_idx on app.api_keys (org_id, user_id);
comment on table app.api_keys is 'Bearer keys (fav_mcp_…). Only the SHA-256 digest of the secret is stored; the secret is shown once.';
comment on column app.api_keys.key_digest is 'SHA-256 of the whole key text. High-entropy secrets need no slow hash.';
comment on column app.api_keys.key_prefix is 'The first characters of the key, for people to recognise it in lists.';
comment on column app.api_keys.kind is 'agent (fav_mcp_…: destructive operations need a confirmation token) or app (fav_sk_…: an app back end, no confirmation step).';
comment on column app.api_keys.toolsets is 'When set, the key only reaches operations of these toolsets (customers, organisation, keys, audit, …).';
comment on column app.api_keys.read_only is 'When true, the key holds only :read scopes whatever its scopes say.';
comment on column app.api_keys.scopes is 'What the key may do; the effective scopes are these intersected with the holder''s current role.';

create table app.idempotency_keys (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  key_id uuid not null,
  idempotency_key text not null check (pg_catalog.char_length(idempotency_key) between 1 and 255),
  operation text not null,
  request_digest bytea not null,
  response_status int,
  response_body jsonb,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, key_id, idempotency_key),
  foreign key (org_id, key_id) references app.api_keys (org_id, id)
);
comment on table app.idempotency_keys is 'Responses stored per organisation, API key and Idempotency-Key for 24 hours, so a retried POST replays instead of repeating.';

create table app.confirmations (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  key_id uuid not null,
  operation text not null,
  args_digest bytea not null,
  token_digest bytea not null check (pg_catalog.length(token_digest) = 32),
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, token_digest),
  foreign key (org_id, key_id) references app.api_keys (org_id, id)
);
create index confirmations_org_id_key_id_idx on app.confirmations (org_id, key_id);
comment on table app.confirmations is 'Single-use tokens that let an agent key carry out one destructive operation with exactly the arguments it previewed, within 5 minutes.';
comment on column app.confirmations.args_digest is 'SHA-256 of the operation''s canonical JSON input.';

-- ---------------------------------------------------------------------------------------
-- Audit log
-- ---------------------------------------------------------------------------------------
create table audit.event (
  org_id uuid not null,
  id uuid not null default app.uuid_v7(),
  occurred_at timestamptz not null default pg_catalog.now(),
  actor_user_id uuid,
  actor_key_id uuid,
  via text,
  operation text,
  request_id text,
  table_name text not null,
  row_id uuid,
  action text not null check (action in ('insert', 'update', 'delete')),
  before jsonb,
  after jsonb,
  primary key (org_id, id)
);
create index event_org_id_row_id_idx on audit.event (org_id, row_id);
comment on table audit.event is 'Append-only record of every change to tenant data: who (user, key), through what (rest, mcp, cli), which operation, and the row before and after.';

-- Written only by this trigger. Arguments: the column holding the organisation id, then
-- columns left out of the record (secrets, and bookkeeping such as last_used_at whose
-- change alone is not an event).
create function audit.record_change() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_before jsonb;
  v_after jsonb;
  v_claims jsonb := auth.claims();
  v_skip text[] := tg_argv[1:];
begin
  if tg_op <> 'INSERT' then
    v_before := pg_catalog.to_jsonb(old) - v_skip;
  end if;
  if tg_op <> 'DELETE' then
    v_after := pg_catalog.to_jsonb(new) - v_skip;
  end if;
  if tg_op = 'UPDATE' and v_before = v_after then
    return null;
  end if;
  insert into audit.event (org_id, actor_user_id, actor_key_id, via, operation, request_id,
                           table_name, row_id, action, before, after)
  values ((coalesce(v_after, v_before) ->> tg_argv[0])::uuid,
          (v_claims ->> 'user_id')::uuid, (v_claims ->> 'key_id')::uuid,
          v_claims ->> 'via', v_claims ->> 'op', v_claims ->> 'request_id',
          tg_table_name, (coalesce(v_after, v_before) ->> 'id')::uuid,
          pg_catalog.lower(tg_op), v_before, v_after);
  return null;
end
$$;
comment on function audit.record_change() is 'Trigger: appends an audit.event for the changed row, actor taken from request.claims.';
revoke all on function audit.record_change() from public;

create trigger audit_change after insert or update or delete on app.organisations
  for each row execute function audit.record_change('id');
create trigger audit_change after insert or update or delete on app.memberships
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.api_keys
  for each row execute function audit.record_change('org_id', 'key_digest', 'last_used_at');

-- Grants: runtime roles get only the commands they need; policies decide which rows.
grant select, update on app.organisations to favcrm_member;
grant select on app.users to favcrm_member;
grant select on app.memberships to favcrm_member;
grant select, insert, update on app.api_keys to favcrm_member;
grant select, insert, update on app.idempotency_keys to favcrm_member;
grant select, insert, update on app.confirmations to favcrm_member;
grant select on audit.event to favcrm_member;

-- The toolsets that exist: the domains of the scopes.
create function auth.all_toolsets() returns text[]
language sql immutable parallel safe as $$
  select array(select distinct pg_catalog.split_part(s, ':', 1) from pg_catalog.unnest(auth.all_scopes()) s order by 1)
$$;
comment on function auth.all_toolsets() is 'Every toolset name (the part of a scope before the colon).';
grant execute on function auth.all_toolsets() to favcrm_member, favcrm_anon;

-- ---------------------------------------------------------------------------------------
-- Entry points (SECURITY DEFINER, small, search_path = '').
-- ---------------------------------------------------------------------------------------

-- Resolves a key digest to a principal and sets the request claims for this transaction.
-- Called by the server inside every authenticated request's transaction.
create function auth.authenticate(p_key_digest bytea, p_context jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_key record;
  v_claims jsonb;
begin
  select k.org_id, k.id, k.user_id, k.kind, k.scopes, k.toolsets, k.read_only, k.last_used_at, m.role
    into v_key
    from app.api_keys k
    join app.memberships m on m.org_id = k.org_id and m.user_id = k.user_id
   where k.key_digest = p_key_digest
     and k.revoked_at is null
     and (k.expires_at is null or k.expires_at > pg_catalog.now());
  if not found then
    raise exception using errcode = '28000', hint = 'invalid_api_key',
      message = 'The API key is unknown, revoked or expired.';
  end if;
  v_claims := pg_catalog.jsonb_build_object(
    'org_id', v_key.org_id,
    'user_id', v_key.user_id,
    'key_id', v_key.id,
    'key_kind', v_key.kind,
    'role', v_key.role,
    'scopes', pg_catalog.to_jsonb(array(
       select s from pg_catalog.unnest(v_key.scopes) s
        where s = any (auth.role_scopes(v_key.role))
          and (not v_key.read_only or s like '%:read')
          and (v_key.toolsets is null or pg_catalog.split_part(s, ':', 1) = any (v_key.toolsets))
        order by s)),
    'toolsets', pg_catalog.to_jsonb(v_key.toolsets),
    'read_only', v_key.read_only,
    'via', p_context ->> 'via',
    'op', p_context ->> 'op',
    'request_id', p_context ->> 'request_id',
    'args_digest', p_context ->> 'args_digest',
    'confirmation_digest', p_context ->> 'confirmation_digest');
  perform pg_catalog.set_config('request.claims', v_claims::text, true);
  return v_claims || pg_catalog.jsonb_build_object('last_used_at', v_key.last_used_at);
end
$$;
comment on function auth.authenticate(bytea, jsonb) is 'Looks up an API key by SHA-256 digest; sets request.claims (org, user, key, role, effective scopes) for the transaction and returns them. Raises 28000 invalid_api_key for unknown, revoked or expired keys.';
revoke all on function auth.authenticate(bytea, jsonb) from public;
grant execute on function auth.authenticate(bytea, jsonb) to favcrm_member;

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
  perform pg_catalog.set_config('request.claims', pg_catalog.jsonb_build_object('org_id', v_org)::text, true);
  update app.api_keys set last_used_at = pg_catalog.now() where org_id = v_org and id = p_key_id;
end
$$;
comment on function auth.touch_api_key(uuid) is 'Sets last_used_at of a key to now.';
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
grant execute on function ext.gen_random_bytes(int) to favcrm_member;
grant execute on function ext.digest(bytea, text) to favcrm_member;

-- Creates an organisation, its owner and an owner key. For self-hosters and tests
-- (`favcrm admin create-org`); callable only by favcrm_owner.
create function auth.bootstrap_organisation(p jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_org uuid := app.uuid_v7();
  v_email text := pg_catalog.lower(pg_catalog.btrim(p ->> 'ownerEmail'));
  v_user uuid;
  v_secret text := auth.new_key_secret('agent');
  v_key uuid;
  v_tz text := coalesce(p ->> 'timezone', 'UTC');
begin
  if not app.is_timezone(v_tz) then
    perform app.raise_invalid('timezone', 'invalid_timezone', pg_catalog.format('%s is not an IANA time zone.', v_tz));
  end if;
  if v_email is null or v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
    perform app.raise_invalid('ownerEmail', 'invalid_email', 'The owner email is not a valid address.');
  end if;
  perform pg_catalog.set_config('request.claims', pg_catalog.jsonb_build_object(
    'org_id', v_org, 'via', coalesce(p ->> 'via', 'cli'), 'op', 'bootstrap_organisation')::text, true);
  insert into app.organisations (id, name, industry, country, timezone, default_currency)
  values (v_org, pg_catalog.btrim(p ->> 'name'), coalesce(p ->> 'industry', 'other'), p ->> 'country', v_tz,
          coalesce(p ->> 'defaultCurrency', 'USD'));
  insert into app.users (email) values (v_email)
    on conflict (email) do update set email = excluded.email
    returning id into v_user;
  insert into app.memberships (org_id, user_id, role, name, email)
  values (v_org, v_user, 'owner', coalesce(p ->> 'ownerName', pg_catalog.split_part(v_email, '@', 1)), v_email);
  insert into app.api_keys (org_id, user_id, name, kind, key_prefix, key_digest, scopes)
  values (v_org, v_user, 'Owner key', 'agent', pg_catalog.left(v_secret, 12),
          ext.digest(pg_catalog.convert_to(v_secret, 'UTF8'), 'sha256'), auth.role_scopes('owner'))
  returning id into v_key;
  return pg_catalog.jsonb_build_object('organisationId', v_org, 'userId', v_user, 'apiKeyId', v_key, 'apiKey', v_secret);
end
$$;
comment on function auth.bootstrap_organisation(jsonb) is 'Creates an organisation with its owner and an owner API key (shown once). For administrators only; not reachable over HTTP.';
revoke all on function auth.bootstrap_organisation(jsonb) from public;

-- Readiness: the migration version the database is at.
create function auth.schema_version() returns int
language sql stable security definer set search_path = '' as $$
  select coalesce(max(version), 0)::int from public.refinery_schema_history
$$;
comment on function auth.schema_version() is 'The highest applied migration version (for /readyz).';
revoke all on function auth.schema_version() from public;
grant execute on function auth.schema_version() to favcrm_authenticator;

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
  if coalesce(v_claims ->> 'key_kind', 'agent') = 'app' then
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

-- Housekeeping: forgets idempotency records past their 24 hours and confirmation tokens an
-- hour after they expired. Run by the server at start and every hour.
create index idempotency_keys_created_at_idx on app.idempotency_keys (created_at);
create index confirmations_expires_at_idx on app.confirmations (expires_at);

create function auth.purge_expired() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_idempotency int;
  v_confirmations int;
begin
  delete from app.idempotency_keys where created_at < pg_catalog.now() - interval '24 hours';
  get diagnostics v_idempotency = row_count;
  delete from app.confirmations where expires_at < pg_catalog.now() - interval '1 hour';
  get diagnostics v_confirmations = row_count;
  return pg_catalog.jsonb_build_object('idempotencyKeys', v_idempotency, 'confirmations', v_confirmations);
end
$$;
comment on function auth.purge_expired() is 'Deletes idempotency records older than 24 hours and confirmation tokens expired for over an hour; returns how many.';
revoke all on function auth.purge_expired() from public;
grant execute on function auth.purge_expired() to favcrm_authenticator;
