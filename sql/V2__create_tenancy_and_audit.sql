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

-- Key secrets are drawn and digested by pgcrypto.
grant execute on function ext.gen_random_bytes(int) to favcrm_member;
grant execute on function ext.digest(bytea, text) to favcrm_member;

-- Housekeeping (auth.purge_expired) forgets idempotency records past their 24 hours and
-- confirmation tokens an hour after they expired.
create index idempotency_keys_created_at_idx on app.idempotency_keys (created_at);
create index confirmations_expires_at_idx on app.confirmations (expires_at);

