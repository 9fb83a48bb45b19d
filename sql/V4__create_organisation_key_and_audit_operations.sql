-- Operations on the organisation, API keys and the audit log.

create function app.organisation_json(o app.organisations) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', o.id,
    'name', o.name,
    'industry', o.industry,
    'country', o.country,
    'timezone', o.timezone,
    'defaultCurrency', o.default_currency,
    'createdAt', app.ts(o.created_at),
    'updatedAt', app.ts(o.updated_at))
$$;
comment on function app.organisation_json(app.organisations) is 'The API representation of an organisation.';

create function app.api_key_json(k app.api_keys) returns jsonb
language sql stable parallel safe as $$
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
comment on function app.api_key_json(app.api_keys) is 'The API representation of a key: never the secret or its digest.';

create function app.audit_event_json(e audit.event) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', e.id,
    'occurredAt', app.ts(e.occurred_at),
    'actorUserId', e.actor_user_id,
    'actorKeyId', e.actor_key_id,
    'via', e.via,
    'operation', e.operation,
    'requestId', e.request_id,
    'tableName', e.table_name,
    'rowId', e.row_id,
    'action', e.action,
    'before', e.before,
    'after', e.after)
$$;
comment on function app.audit_event_json(audit.event) is 'The API representation of an audit event.';

grant execute on function app.organisation_json(app.organisations), app.api_key_json(app.api_keys),
  app.audit_event_json(audit.event) to favcrm_member;

create function api.get_organisation(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  o app.organisations;
begin
  perform auth.require_scope('organisation:read');
  select * into o from app.organisations where id = auth.org_id();
  if not found then
    perform app.not_found('organisation');
  end if;
  return app.organisation_json(o);
end
$$;
comment on function api.get_organisation(jsonb) is 'Returns the caller''s organisation.';

create function api.update_organisation(p jsonb) returns jsonb
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
comment on function api.update_organisation(jsonb) is 'Changes the organisation''s name, industry, country, time zone or default currency (owner, admin).';

create function api.create_api_key(p jsonb) returns jsonb
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
comment on function api.create_api_key(jsonb) is 'Mints a key for the caller''s user with scopes no wider than the caller''s own (default: the same). The secret is in apiKey, returned only here.';

create function api.list_api_keys(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_all boolean := coalesce((p ->> 'includeRevoked')::boolean, false);
  v_result jsonb;
begin
  perform auth.require_scope('keys:read');
  select app.page(array_agg(app.api_key_json(k::app.api_keys) order by k.id desc), array_agg(k.id order by k.id desc), v_limit)
    into v_result
    from (select * from app.api_keys k
           where k.org_id = v_org and (v_all or k.revoked_at is null) and (v_after is null or k.id < v_after)
           order by k.id desc
           limit v_limit + 1) k;
  return v_result;
end
$$;
comment on function api.list_api_keys(jsonb) is 'Lists keys (owners and admins see every key of the organisation, others their own), newest first. Never returns secrets.';

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

create function api.revoke_api_key(p jsonb) returns jsonb
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
comment on function api.revoke_api_key(jsonb) is 'Revokes a key; the next request with it is refused. Revoking a revoked key changes nothing.';

create function api.list_audit_events(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_row uuid := (p ->> 'rowId')::uuid;
  v_table text := p ->> 'tableName';
  v_operation text := p ->> 'operation';
  v_result jsonb;
begin
  perform auth.require_scope('audit:read');
  select app.page(array_agg(app.audit_event_json(e::audit.event) order by e.id desc), array_agg(e.id order by e.id desc), v_limit)
    into v_result
    from (select * from audit.event e
           where e.org_id = v_org
             and (v_after is null or e.id < v_after)
             and (v_row is null or e.row_id = v_row)
             and (v_table is null or e.table_name = v_table)
             and (v_operation is null or e.operation = v_operation)
           order by e.id desc
           limit v_limit + 1) e;
  return v_result;
end
$$;
comment on function api.list_audit_events(jsonb) is 'Lists audit events of the organisation, newest first (owners and admins), filtered by rowId, tableName or operation.';

grant execute on function api.get_organisation(jsonb), api.update_organisation(jsonb), api.create_api_key(jsonb),
  api.list_api_keys(jsonb), api.get_api_key(jsonb), api.revoke_api_key(jsonb), api.list_audit_events(jsonb)
  to favcrm_member;
