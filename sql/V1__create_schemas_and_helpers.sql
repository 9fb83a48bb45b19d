-- Schemas, extensions and the request-context helpers every policy and function uses.
-- Runs as favcrm_owner. See sql/README.md for the conventions.

-- Nothing favcrm_owner creates is executable by PUBLIC unless granted explicitly.
alter default privileges for role favcrm_owner revoke execute on functions from public;

create schema ext;
comment on schema ext is 'Extensions (pgcrypto, pg_trgm, btree_gist). Not exposed to clients.';
create extension if not exists pgcrypto with schema ext;
create extension if not exists pg_trgm with schema ext;

create schema app;
comment on schema app is 'Tables. Runtime roles reach rows only through RLS policies; clients never see this schema directly.';
create schema auth;
comment on schema auth is 'Request-context helpers and the few SECURITY DEFINER entry points (key lookup, bootstrap).';
create schema api;
comment on schema api is 'One function per catalog operation (verb_noun). The only schema a request calls.';
create schema audit;
comment on schema audit is 'The append-only audit log, written by triggers.';

grant usage on schema api, auth to favcrm_anon, favcrm_member;
grant usage on schema app, ext to favcrm_member;
grant usage on schema audit to favcrm_member;
grant usage on schema api, auth to favcrm_authenticator;

-- UUID version 7: a millisecond timestamp prefix keeps primary-key indexes append-mostly.
create function app.uuid_v7() returns uuid
language sql volatile parallel safe as $$
  select pg_catalog.encode(
    pg_catalog.set_bit(pg_catalog.set_bit(
      overlay(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
        placing substring(pg_catalog.int8send((extract(epoch from pg_catalog.clock_timestamp()) * 1000)::bigint) from 3)
        from 1 for 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;
comment on function app.uuid_v7() is 'A random UUID of version 7 (48-bit millisecond timestamp, then random bits).';
grant execute on function app.uuid_v7() to favcrm_member;

-- ISO-8601 UTC rendering used in every JSON result: 2026-01-31T09:30:00.000Z.
create function app.ts(t timestamptz) returns text
language sql immutable parallel safe as $$
  select pg_catalog.to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;
comment on function app.ts(timestamptz) is 'Formats a timestamp as ISO 8601 in UTC with millisecond precision and a Z suffix.';
grant execute on function app.ts(timestamptz) to favcrm_member, favcrm_anon;

-- ---------------------------------------------------------------------------------------
-- Request context. Claims are set transaction-locally by the server (or by auth.authenticate)
-- and read with nullif(…, '') so that a missing context fails closed: every helper is NULL,
-- every policy comparison is NULL, and no row is visible.
-- ---------------------------------------------------------------------------------------
create function auth.claims() returns jsonb
language sql stable parallel safe as $$
  select nullif(pg_catalog.current_setting('request.claims', true), '')::jsonb
$$;
comment on function auth.claims() is 'The request claims (JSON) set for this transaction, or NULL when none are set.';

create function auth.org_id() returns uuid
language sql stable parallel safe as $$
  select (auth.claims() ->> 'org_id')::uuid
$$;
comment on function auth.org_id() is 'The organisation of the current request, or NULL.';

create function auth.user_id() returns uuid
language sql stable parallel safe as $$
  select (auth.claims() ->> 'user_id')::uuid
$$;
comment on function auth.user_id() is 'The user behind the current request, or NULL.';

create function auth.key_id() returns uuid
language sql stable parallel safe as $$
  select (auth.claims() ->> 'key_id')::uuid
$$;
comment on function auth.key_id() is 'The API key of the current request, or NULL.';

create function auth.role() returns text
language sql stable parallel safe as $$
  select auth.claims() ->> 'role'
$$;
comment on function auth.role() is 'The organisation role (owner, admin, manager, staff) of the current request, or NULL.';

create function auth.has_scope(p_scope text) returns boolean
language sql stable parallel safe as $$
  select coalesce((auth.claims() -> 'scopes') ? p_scope, false)
$$;
comment on function auth.has_scope(text) is 'Whether the current request holds the scope (already narrowed to what its role allows).';

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

create function auth.role_rank(p_role text) returns int
language sql immutable parallel safe as $$
  select case p_role when 'owner' then 4 when 'admin' then 3 when 'manager' then 2 when 'staff' then 1 else 0 end
$$;
comment on function auth.role_rank(text) is 'Orders organisation roles: owner 4, admin 3, manager 2, staff 1.';

create function auth.role_scopes(p_role text) returns text[]
language sql immutable parallel safe as $$
  select case p_role
    when 'owner' then array['customers:read','customers:write','organisation:read','organisation:write','keys:read','keys:write','audit:read']
    when 'admin' then array['customers:read','customers:write','organisation:read','organisation:write','keys:read','keys:write','audit:read']
    when 'manager' then array['customers:read','customers:write','organisation:read','keys:read','keys:write']
    when 'staff' then array['customers:read','customers:write','organisation:read']
    else array[]::text[]
  end
$$;
comment on function auth.role_scopes(text) is 'The ceiling of scopes an organisation role may hold. A key''s effective scopes are its own scopes intersected with this.';

create function auth.all_scopes() returns text[]
language sql immutable parallel safe as $$
  select auth.role_scopes('owner')
$$;
comment on function auth.all_scopes() is 'Every scope that exists.';

grant execute on function auth.claims(), auth.org_id(), auth.user_id(), auth.key_id(), auth.role(),
  auth.has_scope(text), auth.require_scope(text), auth.role_rank(text), auth.role_scopes(text), auth.all_scopes()
  to favcrm_member, favcrm_anon;

-- Small input helpers shared by api functions.
create function app.raise_invalid(p_field text, p_code text, p_message text) returns void
language plpgsql volatile set search_path = '' as $$
begin
  raise exception using errcode = '22023', column = p_field, hint = p_code, message = p_message;
end
$$;
comment on function app.raise_invalid(text, text, text) is 'Raises 22023 (HTTP 422) naming the field at fault and a stable code.';

create function app.not_found(p_what text) returns void
language plpgsql volatile set search_path = '' as $$
begin
  raise exception using errcode = 'P0002', hint = 'not_found',
    message = pg_catalog.format('No %s with that id exists in this organisation.', p_what);
end
$$;
comment on function app.not_found(text) is 'Raises P0002 (HTTP 404) not_found for the named kind of thing.';

create function app.is_timezone(p_tz text) returns boolean
language sql stable as $$
  select exists (select from pg_catalog.pg_timezone_names where name = p_tz)
$$;
comment on function app.is_timezone(text) is 'Whether the text is an IANA time zone name PostgreSQL knows.';

-- Opaque keyset cursors: base64 of the last row's id.
create function app.encode_cursor(p_id uuid) returns text
language sql immutable parallel safe as $$
  select pg_catalog.translate(pg_catalog.encode(pg_catalog.uuid_send(p_id), 'base64'), '+/=', '-_')
$$;
comment on function app.encode_cursor(uuid) is 'Encodes a keyset position as an opaque URL-safe cursor.';

create function app.decode_cursor(p_cursor text) returns uuid
language plpgsql stable set search_path = '' as $$
declare
  v_bytes bytea;
begin
  if p_cursor is null then
    return null;
  end if;
  begin
    v_bytes := pg_catalog.decode(pg_catalog.translate(p_cursor, '-_', '+/') || '==', 'base64');
  exception when others then
    v_bytes := null;
  end;
  if v_bytes is null or pg_catalog.length(v_bytes) <> 16 then
    perform app.raise_invalid('cursor', 'invalid_cursor', 'The cursor is not one this API returned.');
  end if;
  return pg_catalog.encode(v_bytes, 'hex')::uuid;
end
$$;
comment on function app.decode_cursor(text) is 'Decodes a cursor made by app.encode_cursor, raising invalid_cursor (422) otherwise.';

create function app.page_limit(p jsonb) returns int
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := coalesce((p ->> 'limit')::int, 25);
begin
  if v_limit < 1 or v_limit > 100 then
    perform app.raise_invalid('limit', 'out_of_range', 'limit must be between 1 and 100.');
  end if;
  return v_limit;
end
$$;
comment on function app.page_limit(jsonb) is 'The page size asked for (default 25, 1 to 100).';

-- One page of a keyset-paginated list. The caller fetches limit + 1 rows, newest first; the
-- extra row only tells that there is a next page.
create function app.page(p_items jsonb[], p_ids uuid[], p_limit int) returns jsonb
language sql immutable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'items', coalesce(pg_catalog.to_jsonb(p_items[1:p_limit]), '[]'::jsonb),
    'nextCursor', case when coalesce(pg_catalog.cardinality(p_ids), 0) > p_limit
                       then app.encode_cursor(p_ids[p_limit]) end)
$$;
comment on function app.page(jsonb[], uuid[], int) is 'Builds {items, nextCursor} from up to limit + 1 rows fetched newest first.';

grant execute on function app.page(jsonb[], uuid[], int) to favcrm_member, favcrm_anon;
grant execute on function app.raise_invalid(text, text, text), app.not_found(text), app.is_timezone(text),
  app.encode_cursor(uuid), app.decode_cursor(text), app.page_limit(jsonb) to favcrm_member, favcrm_anon;
