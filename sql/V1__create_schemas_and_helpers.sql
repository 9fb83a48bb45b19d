-- Schemas, extensions and the request-context helpers every policy and function uses. (The
-- api schema holds no data: sql/operations/ creates it afresh on every start.)
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
create schema audit;
comment on schema audit is 'The append-only audit log, written by triggers.';

grant usage on schema auth to favcrm_anon, favcrm_member;
grant usage on schema app, ext to favcrm_member;
grant usage on schema audit to favcrm_member;
grant usage on schema auth to favcrm_authenticator;

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

grant execute on function auth.claims(), auth.org_id(), auth.user_id(), auth.key_id(), auth.role()
  to favcrm_member, favcrm_anon;

