-- API keys (fav_mcp_, for apps and agents) and publishable keys (fav_pk_, for a web page's
-- booking form), and auth.publishable_call, the one door a publishable key opens.

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
    'replacedById', k.replaced_by,
    'createdAt', app.ts(k.created_at),
    'expiresAt', app.ts(k.expires_at),
    'revokedAt', app.ts(k.revoked_at),
    'lastUsedAt', app.ts(k.last_used_at))
$$;
comment on function app.api_key_json(app.api_keys) is 'The API representation of a key: never the secret or its digest.';
grant execute on function app.api_key_json(app.api_keys) to favcrm_member;

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
grant execute on function api.create_api_key(jsonb) to favcrm_member;

create function api.list_api_keys(p jsonb) returns jsonb
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
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
           where k.org_id = v_org and (v_all or k.revoked_at is null) and k.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
           order by k.id desc
           limit v_limit + 1) k;
  return v_result;
end
$$;
comment on function api.list_api_keys(jsonb) is 'Lists keys (owners and admins see every key of the organisation, others their own), newest first. Never returns secrets.';
grant execute on function api.list_api_keys(jsonb) to favcrm_member;

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
grant execute on function api.get_api_key(jsonb) to favcrm_member;

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
grant execute on function api.revoke_api_key(jsonb) to favcrm_member;

create function api.rotate_api_key(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_grace int := coalesce((p ->> 'gracePeriodMinutes')::int, 0);
  v_unknown text;
  v_secret text;
  o app.api_keys;
  k app.api_keys;
begin
  perform auth.require_scope('keys:write');
  if v_grace not between 0 and 10080 then
    perform app.raise_invalid('gracePeriodMinutes', 'out_of_range', 'gracePeriodMinutes must be between 0 and 10080 (7 days).');
  end if;
  select * into o from app.api_keys where org_id = auth.org_id() and id = (p ->> 'apiKeyId')::uuid for update;
  if not found then
    perform app.not_found('API key');
  end if;
  if o.user_id <> auth.user_id() then
    raise exception using errcode = '42501', hint = 'not_key_holder',
      message = 'Only the person a key acts for can rotate it (the new secret would act as them). Revoke it instead.';
  end if;
  if o.revoked_at is not null or o.expires_at <= pg_catalog.now() or o.replaced_by is not null then
    raise exception using errcode = '55000', hint = 'key_not_active',
      message = 'Only an active key that was not already rotated can be rotated.';
  end if;
  select s into v_unknown from pg_catalog.unnest(o.scopes) s where not auth.has_scope(s) limit 1;
  if found then
    raise exception using errcode = '42501', hint = 'scope_exceeds_caller',
      message = pg_catalog.format('The key holds %s, which the calling key does not; rotate it with a key that does.', v_unknown);
  end if;
  perform auth.require_confirmation('rotate_api_key');
  v_secret := auth.new_key_secret(o.kind);
  insert into app.api_keys (org_id, user_id, name, kind, key_prefix, key_digest, scopes, expires_at, toolsets, read_only)
  values (o.org_id, o.user_id, o.name, o.kind, pg_catalog.left(v_secret, 12), auth.sha256(v_secret), o.scopes,
          o.expires_at, o.toolsets, o.read_only)
  returning * into k;
  if v_grace = 0 then
    update app.api_keys set revoked_at = pg_catalog.now(), replaced_by = k.id
     where org_id = o.org_id and id = o.id returning * into o;
  else
    update app.api_keys
       set expires_at = least(coalesce(o.expires_at, 'infinity'),
                                         pg_catalog.now() + pg_catalog.make_interval(mins => v_grace)),
           replaced_by = k.id
     where org_id = o.org_id and id = o.id returning * into o;
  end if;
  return app.api_key_json(k) || pg_catalog.jsonb_build_object('apiKey', v_secret, 'previousKey', app.api_key_json(o));
end
$$;
comment on function api.rotate_api_key(jsonb) is 'Issues a replacement for one of the caller''s own keys (same name, kind, scopes, toolsets, expiry) and revokes the old one now or after a grace period. The new secret is returned only here.';
grant execute on function api.rotate_api_key(jsonb) to favcrm_member;

create function app.publishable_key_json(k app.publishable_keys) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', k.id, 'name', k.name, 'prefix', k.key_prefix, 'allowedOrigins', pg_catalog.to_jsonb(k.allowed_origins),
    'status', case when k.revoked_at is null then 'active' else 'revoked' end,
    'createdByUserId', k.created_by, 'createdAt', app.ts(k.created_at), 'revokedAt', app.ts(k.revoked_at))
$$;
comment on function app.publishable_key_json(app.publishable_keys) is 'The API representation of a publishable key (never its secret).';
grant execute on function app.publishable_key_json(app.publishable_keys) to favcrm_member;

create function api.create_publishable_key(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_secret text := auth.new_token('fav_pk_');
  v_origins text[] := array(select distinct pg_catalog.rtrim(pg_catalog.lower(o), '/')
                              from pg_catalog.jsonb_array_elements_text(coalesce(p -> 'allowedOrigins', '[]')) o order by 1);
  v_bad text;
  k app.publishable_keys;
begin
  perform auth.require_scope('keys:write');
  perform app.require_manager();
  select o into v_bad from pg_catalog.unnest(v_origins) o where o !~ '^https?://[a-z0-9.-]+(:[0-9]{1,5})?$' limit 1;
  if found then
    perform app.raise_invalid('allowedOrigins', 'invalid_origin',
      pg_catalog.format('%s is not an origin: scheme and host only, such as https://www.example.com.', v_bad));
  end if;
  insert into app.publishable_keys (org_id, name, key_prefix, key_digest, allowed_origins, created_by)
  values (auth.org_id(), pg_catalog.btrim(p ->> 'name'), pg_catalog.left(v_secret, 12), auth.sha256(v_secret), v_origins,
          auth.user_id())
  returning * into k;
  return app.publishable_key_json(k) || pg_catalog.jsonb_build_object('publishableKey', v_secret);
end
$$;
comment on function api.create_publishable_key(jsonb) is 'Creates a fav_pk_ key for web pages of the allowed origins (managers and above). The key is shown once.';
grant execute on function api.create_publishable_key(jsonb) to favcrm_member;

create function api.list_publishable_keys(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('keys:read');
  return pg_catalog.jsonb_build_object('items', coalesce((
    select pg_catalog.jsonb_agg(app.publishable_key_json(k) order by k.id desc)
      from app.publishable_keys k
     where k.org_id = auth.org_id() and (coalesce((p ->> 'includeRevoked')::boolean, false) or k.revoked_at is null)),
    '[]'::jsonb));
end
$$;
comment on function api.list_publishable_keys(jsonb) is 'Lists the organisation''s publishable keys (never the key itself).';
grant execute on function api.list_publishable_keys(jsonb) to favcrm_member;

create function api.revoke_publishable_key(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  k app.publishable_keys;
begin
  perform auth.require_scope('keys:write');
  perform app.require_manager();
  select * into k from app.publishable_keys where org_id = auth.org_id() and id = (p ->> 'publishableKeyId')::uuid for update;
  if not found then
    perform app.not_found('publishable key');
  end if;
  perform auth.require_confirmation('revoke_publishable_key');
  update app.publishable_keys set revoked_at = coalesce(revoked_at, pg_catalog.now())
   where org_id = k.org_id and id = k.id returning * into k;
  return app.publishable_key_json(k);
end
$$;
comment on function api.revoke_publishable_key(jsonb) is 'Revokes a publishable key; pages using it can no longer book.';
grant execute on function api.revoke_publishable_key(jsonb) to favcrm_member;

-- The one door for publishable keys: runs as the owner role with the key's organisation in the
-- claims and the scopes of a web page, for three operations only.
create function auth.publishable_call(p_digest bytea, p_origin text, p_op text, p jsonb, p_context jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  k app.publishable_keys;
begin
  select * into k from app.publishable_keys where key_digest = p_digest and revoked_at is null;
  if not found then
    raise exception using errcode = '28000', hint = 'invalid_api_key', message = 'The publishable key is unknown or revoked.';
  end if;
  if p_origin is not null and pg_catalog.rtrim(pg_catalog.lower(p_origin), '/') <> all (k.allowed_origins) then
    raise exception using errcode = '42501', hint = 'origin_not_allowed',
      message = pg_catalog.format('This publishable key is not allowed from %s.', p_origin);
  end if;
  if p_op not in ('list_services', 'get_available_slots', 'create_booking', 'list_products', 'list_plans',
                  'list_posts', 'get_post') then
    raise exception using errcode = '42501', hint = 'not_allowed_for_publishable_key',
      message = 'A publishable key can only list services, products, plans and published posts, find slots and create bookings.';
  end if;
  perform auth.set_claims(pg_catalog.jsonb_build_object(
    'org_id', k.org_id, 'role', 'public', 'publishable_key_id', k.id,
    'scopes', pg_catalog.jsonb_build_array('bookings:read', 'bookings:write'),
    'via', p_context ->> 'via', 'op', p_op, 'request_id', p_context ->> 'request_id'));
  return case p_op
    when 'list_services' then api.list_services(p - 'includeArchived')
    when 'get_available_slots' then api.get_available_slots(p)
    when 'create_booking' then app.public_booking(p)
    when 'list_products' then app.public_catalog('products')
    when 'list_plans' then app.public_catalog('plans')
    when 'list_posts' then app.public_posts(p)
    when 'get_post' then app.public_post(p)
  end;
end
$$;
comment on function auth.publishable_call(bytea, text, text, jsonb, jsonb) is 'Runs list_services, get_available_slots, create_booking, list_products, list_plans, list_posts or get_post for a publishable key from an allowed origin, as a web page: active services only, bookings for a customer given by name, email or phone, active products and plans that are listed (their price unless hidden), posts and pages that are live.';
revoke all on function auth.publishable_call(bytea, text, text, jsonb, jsonb) from public;
grant execute on function auth.publishable_call(bytea, text, text, jsonb, jsonb) to favcrm_anon;
