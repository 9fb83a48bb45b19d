-- Agent safety: key kinds (fav_mcp_ agents, fav_sk_ app back ends), keys fixed to toolsets
-- or read-only, and confirmation of destructive operations requested by agent keys.

alter table app.api_keys
  add column toolsets text[],
  add column read_only boolean not null default false;
comment on column app.api_keys.kind is 'agent (fav_mcp_…: destructive operations need a confirmation token) or app (fav_sk_…: an app back end, no confirmation step).';
comment on column app.api_keys.toolsets is 'When set, the key only reaches operations of these toolsets (customers, organisation, keys, audit, …).';
comment on column app.api_keys.read_only is 'When true, the key holds only :read scopes whatever its scopes say.';

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
grant select, insert, update on app.confirmations to favcrm_member;

-- The toolsets that exist: the domains of the scopes.
create function auth.all_toolsets() returns text[]
language sql immutable parallel safe set search_path = '' as $$
  select array(select distinct pg_catalog.split_part(s, ':', 1) from pg_catalog.unnest(auth.all_scopes()) s order by 1)
$$;
comment on function auth.all_toolsets() is 'Every toolset name (the part of a scope before the colon).';
grant execute on function auth.all_toolsets() to favcrm_member, favcrm_anon;

-- Same contract as before; the effective scopes now also honour the key's toolsets and
-- read-only flag, and the claims carry what confirmation needs.
create or replace function auth.authenticate(p_key_digest bytea, p_context jsonb) returns jsonb
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

create or replace function api.delete_customer(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.customers;
begin
  perform auth.require_scope('customers:write');
  perform auth.require_confirmation('delete_customer');
  c := app.customer_for_update((p ->> 'customerId')::uuid);
  if c.deleted_at is null then
    update app.customers set deleted_at = pg_catalog.now(), updated_at = pg_catalog.now()
     where org_id = c.org_id and id = c.id
     returning * into c;
  end if;
  return app.customer_json(c);
end
$$;

create or replace function api.revoke_api_key(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  k app.api_keys;
begin
  perform auth.require_scope('keys:write');
  perform auth.require_confirmation('revoke_api_key');
  update app.api_keys set revoked_at = coalesce(revoked_at, pg_catalog.now())
   where org_id = auth.org_id() and id = (p ->> 'apiKeyId')::uuid
   returning * into k;
  if not found then
    perform app.not_found('API key');
  end if;
  return app.api_key_json(k);
end
$$;

create or replace function app.api_key_json(k app.api_keys) returns jsonb
language sql stable parallel safe set search_path = '' as $$
  select pg_catalog.jsonb_build_object(
    'id', k.id,
    'name', k.name,
    'kind', k.kind,
    'prefix', k.key_prefix,
    'scopes', pg_catalog.to_jsonb(k.scopes),
    'toolsets', pg_catalog.to_jsonb(k.toolsets),
    'readOnly', k.read_only,
    'userId', k.user_id,
    'status', case when k.revoked_at is not null then 'revoked'
                   when k.expires_at <= pg_catalog.now() then 'expired'
                   else 'active' end,
    'createdAt', app.ts(k.created_at),
    'expiresAt', app.ts(k.expires_at),
    'revokedAt', app.ts(k.revoked_at),
    'lastUsedAt', app.ts(k.last_used_at))
$$;

create function api.get_api_key(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  k app.api_keys;
begin
  perform auth.require_scope('keys:read');
  select * into k from app.api_keys where org_id = auth.org_id() and id = (p ->> 'apiKeyId')::uuid;
  if not found then
    perform app.not_found('API key');
  end if;
  return app.api_key_json(k);
end
$$;
comment on function api.get_api_key(jsonb) is 'Returns one key (never its secret).';

create or replace function api.create_api_key(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_scopes text[];
  v_unknown text;
  v_expires timestamptz := (p ->> 'expiresAt')::timestamptz;
  v_kind text := coalesce(p ->> 'kind', 'agent');
  v_toolsets text[];
  v_secret text;
  k app.api_keys;
begin
  perform auth.require_scope('keys:write');
  if v_kind = 'app' then
    -- An app key skips confirmations, so an agent may only mint one with a person's confirmation.
    perform auth.require_confirmation('create_api_key');
  end if;
  if p -> 'scopes' is null or p -> 'scopes' = 'null'::jsonb then
    v_scopes := array(select pg_catalog.jsonb_array_elements_text(auth.claims() -> 'scopes') s order by s);
  else
    v_scopes := array(select distinct s from pg_catalog.jsonb_array_elements_text(p -> 'scopes') s order by s);
  end if;
  if p -> 'toolsets' is not null and p -> 'toolsets' <> 'null'::jsonb then
    v_toolsets := array(select distinct t from pg_catalog.jsonb_array_elements_text(p -> 'toolsets') t order by t);
    select t into v_unknown from pg_catalog.unnest(v_toolsets) t where t <> all (auth.all_toolsets()) limit 1;
    if found then
      perform app.raise_invalid('toolsets', 'unknown_toolset', pg_catalog.format('%s is not a toolset.', v_unknown));
    end if;
  end if;
  if pg_catalog.cardinality(v_scopes) = 0 then
    perform app.raise_invalid('scopes', 'empty_scopes', 'A key needs at least one scope.');
  end if;
  select s into v_unknown from pg_catalog.unnest(v_scopes) s where s <> all (auth.all_scopes()) limit 1;
  if found then
    perform app.raise_invalid('scopes', 'unknown_scope', pg_catalog.format('%s is not a scope.', v_unknown));
  end if;
  select s into v_unknown from pg_catalog.unnest(v_scopes) s where not auth.has_scope(s) limit 1;
  if found then
    raise exception using errcode = '42501', column = 'scopes', hint = 'scope_exceeds_caller',
      message = pg_catalog.format('A key cannot hold %s: the caller''s own key or role does not.', v_unknown);
  end if;
  if v_expires is not null and v_expires <= pg_catalog.now() then
    perform app.raise_invalid('expiresAt', 'must_be_future', 'expiresAt must be in the future.');
  end if;
  v_secret := auth.new_key_secret(v_kind);
  insert into app.api_keys (org_id, user_id, name, kind, key_prefix, key_digest, scopes, expires_at, toolsets, read_only)
  values (auth.org_id(), auth.user_id(), pg_catalog.btrim(p ->> 'name'), v_kind, pg_catalog.left(v_secret, 12),
          ext.digest(pg_catalog.convert_to(v_secret, 'UTF8'), 'sha256'), v_scopes, v_expires, v_toolsets,
          coalesce((p ->> 'readOnly')::boolean, false))
  returning * into k;
  return app.api_key_json(k) || pg_catalog.jsonb_build_object('apiKey', v_secret);
end
$$;

grant execute on function api.get_api_key(jsonb) to favcrm_member;

-- Updates that change nothing write nothing (no new updated_at, no audit event), so that
-- repeating an update leaves the same state, as its idempotent annotation says.
create or replace function api.update_customer(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.customers;
  n app.customers;
begin
  perform auth.require_scope('customers:write');
  c := app.customer_for_update((p ->> 'customerId')::uuid);
  if c.deleted_at is not null then
    raise exception using errcode = '55000', hint = 'customer_deleted',
      message = 'The customer is deleted; restore it before changing it.';
  end if;
  n := c;
  if p ? 'name' then n.name := pg_catalog.btrim(p ->> 'name'); end if;
  if p ? 'email' then n.email := app.normalize_email(p ->> 'email'); end if;
  if p ? 'phone' then n.phone := app.normalize_phone(p ->> 'phone'); end if;
  if p ? 'lifecycleStage' then n.lifecycle_stage := p ->> 'lifecycleStage'; end if;
  if p ? 'source' then n.source := pg_catalog.btrim(p ->> 'source'); end if;
  if p ? 'tags' then n.tags := app.normalize_tags(p -> 'tags'); end if;
  if p ? 'customFields' then
    n.custom_fields := pg_catalog.jsonb_strip_nulls(c.custom_fields || coalesce(p -> 'customFields', '{}'));
  end if;
  n.marketing_consent := app.merge_consent(c.marketing_consent, p -> 'marketingConsent');
  if n is not distinct from c then
    return app.customer_json(c);
  end if;
  if n.email is distinct from c.email then
    perform app.check_customer_email_free(n.email, c.id);
  end if;
  update app.customers set
    name = n.name, email = n.email, phone = n.phone, lifecycle_stage = n.lifecycle_stage, source = n.source,
    tags = n.tags, custom_fields = n.custom_fields, marketing_consent = n.marketing_consent,
    updated_at = pg_catalog.now()
  where org_id = c.org_id and id = c.id
  returning * into c;
  return app.customer_json(c);
end
$$;

create or replace function api.update_organisation(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  o app.organisations;
  n app.organisations;
begin
  perform auth.require_scope('organisation:write');
  if p ? 'timezone' and not app.is_timezone(p ->> 'timezone') then
    perform app.raise_invalid('timezone', 'invalid_timezone',
      pg_catalog.format('%s is not an IANA time zone name (for example Europe/London).', p ->> 'timezone'));
  end if;
  select * into o from app.organisations where id = auth.org_id() for update;
  if not found then
    perform app.not_found('organisation');
  end if;
  n := o;
  if p ? 'name' then n.name := pg_catalog.btrim(p ->> 'name'); end if;
  if p ? 'industry' then n.industry := p ->> 'industry'; end if;
  if p ? 'country' then n.country := pg_catalog.upper(p ->> 'country'); end if;
  if p ? 'timezone' then n.timezone := p ->> 'timezone'; end if;
  if p ? 'defaultCurrency' then n.default_currency := pg_catalog.upper(p ->> 'defaultCurrency'); end if;
  if n is not distinct from o then
    return app.organisation_json(o);
  end if;
  update app.organisations set
    name = n.name, industry = n.industry, country = n.country, timezone = n.timezone,
    default_currency = n.default_currency, updated_at = pg_catalog.now()
  where id = o.id
  returning * into o;
  if not found then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'Only owners and admins can change the organisation.';
  end if;
  return app.organisation_json(o);
end
$$;
