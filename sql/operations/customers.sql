-- Customers, their tags, marketing consent and notes.

-- Merges consent input {"email": {"granted": true, "source": "..."}} into the stored map,
-- stamping the time of every channel whose value changes.
create function app.merge_consent(p_stored jsonb, p_input jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_result jsonb := coalesce(p_stored, '{}');
  v_channel text;
  v_value jsonb;
begin
  if p_input is null or p_input = 'null'::jsonb then
    return v_result;
  end if;
  for v_channel, v_value in select * from pg_catalog.jsonb_each(p_input) loop
    if v_channel not in ('email', 'sms', 'whatsapp') then
      perform app.raise_invalid('marketingConsent', 'unknown_channel', pg_catalog.format('%s is not a consent channel (email, sms, whatsapp).', v_channel));
    end if;
    if pg_catalog.jsonb_typeof(v_value -> 'granted') <> 'boolean' then
      perform app.raise_invalid('marketingConsent.' || v_channel || '.granted', 'invalid_type', 'granted must be true or false.');
    end if;
    if (v_result -> v_channel -> 'granted') is distinct from (v_value -> 'granted')
       or (v_result -> v_channel -> 'source') is distinct from (v_value -> 'source') then
      v_result := v_result || pg_catalog.jsonb_build_object(v_channel, pg_catalog.jsonb_build_object(
        'granted', v_value -> 'granted',
        'at', app.ts(pg_catalog.now()),
        'source', v_value -> 'source'));
    end if;
  end loop;
  return v_result;
end
$$;
comment on function app.merge_consent(jsonb, jsonb) is 'Applies marketing-consent changes per channel, recording when and from what source each was given or withdrawn.';
grant execute on function app.merge_consent(jsonb, jsonb) to favcrm_member;

-- The API shape of a customer as a row type whose field names are the JSON keys: to_json of a
-- row is about a sixth cheaper than json_build_object with 26 arguments, and writes no spaces
-- around the colons. Dropped and created with the functions (nothing stores it).
drop type if exists app.customer_out cascade;
create type app.customer_out as (
  "id" uuid, "name" text, "email" text, "phone" text, "lifecycleStage" text, "source" text,
  "tags" text[], "customFields" jsonb, "marketingConsent" jsonb, "lastActivityAt" text,
  "createdAt" text, "updatedAt" text, "deletedAt" text);
comment on type app.customer_out is 'The API representation of a customer, field by field (app.customer_json).';

create function app.customer_json(c app.customers) returns json
language sql stable parallel safe as $$
  select pg_catalog.to_json(row(c.id, c.name, c.email, c.phone, c.lifecycle_stage, c.source, c.tags,
    c.custom_fields, c.marketing_consent, app.ts(c.last_activity_at), app.ts(c.created_at),
    app.ts(c.updated_at), app.ts(c.deleted_at))::app.customer_out)
$$;
comment on function app.customer_json(app.customers) is 'The API representation of a customer.';
grant execute on function app.customer_json(app.customers) to favcrm_member;

create function app.customer_note_json(n app.customer_notes) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', n.id,
    'customerId', n.customer_id,
    'body', n.body,
    'authorUserId', n.author_user_id,
    'createdAt', app.ts(n.created_at))
$$;
comment on function app.customer_note_json(app.customer_notes) is 'The API representation of a customer note.';
grant execute on function app.customer_note_json(app.customer_notes) to favcrm_member;

-- Raises 409 customer_email_taken when another live customer of the organisation has the email.
create function app.check_customer_email_free(p_email text, p_except uuid) returns void
language plpgsql stable set search_path = '' as $$
begin
  if p_email is not null and exists (
      select from app.customers
       where org_id = auth.org_id() and email = p_email and deleted_at is null
         and id is distinct from p_except) then
    raise exception using errcode = '23505', column = 'email', hint = 'customer_email_taken',
      message = 'Another customer of this organisation already has that email address.';
  end if;
end
$$;
comment on function app.check_customer_email_free(text, uuid) is 'Raises 23505 customer_email_taken if a live customer of this organisation already uses the email.';
grant execute on function app.check_customer_email_free(text, uuid) to favcrm_member;

-- Locks and returns a customer of this organisation, or raises not_found.
create function app.customer_for_update(p_id uuid) returns app.customers
language plpgsql volatile set search_path = '' as $$
declare
  c app.customers;
begin
  select * into c from app.customers where org_id = auth.org_id() and id = p_id for update;
  if not found then
    perform app.not_found('customer');
  end if;
  return c;
end
$$;
comment on function app.customer_for_update(uuid) is 'Locks a customer of the current organisation for update, or raises not_found (404).';
grant execute on function app.customer_for_update(uuid) to favcrm_member;

-- The customers of the caller's organisation whose search text contains p_q, newest first,
-- after p_after, at most p_limit (null: all). Members cannot use a trigram index on
-- app.customers (ILIKE is not leakproof, so row-level security evaluates it after the policy,
-- row by row: see V13); this reads search.customers under a plan made for these values and
-- the column's statistics: the trigram index for a rare term, the (org_id, id) key backwards
-- for a common one. Ids only: list_customers reads the rows under the member's own policies.
create function auth.search_customer_ids(p_q text, p_deleted boolean, p_after uuid, p_limit int) returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
declare
  v_ids uuid[];
begin
  perform auth.require_scope('customers:read');
  execute $query$
    select coalesce(pg_catalog.array_agg(s.id order by s.id desc), '{}')
      from (select s.id from search.customers s
             where s.org_id = $1
               and s.deleted = $2
               and ($3::uuid is null or s.id < $3)
               and s.search_text ilike ('%' || app.escape_like($4) || '%')
             order by s.id desc
             limit $5) s
  $query$ into v_ids using auth.org_id(), p_deleted, p_after, p_q, p_limit;
  return v_ids;
end
$$;
comment on function auth.search_customer_ids(text, boolean, uuid, int) is 'Ids of the claimed organisation''s customers whose name, email or phone contains the text (ILIKE), newest first, after a cursor id, at most a limit (null: all). Needs customers:read.';
revoke all on function auth.search_customer_ids(text, boolean, uuid, int) from public;
grant execute on function auth.search_customer_ids(text, boolean, uuid, int) to favcrm_member;

-- Two plans, chosen by what is asked. Without a filter, one static statement under a generic
-- plan (plan_cache_mode: its "limit v_limit + 1" made PL/pgSQL's plan cache estimate a tenth
-- of the organisation and re-plan every call) walks the (org_id, id) index backwards. With a
-- filter, the same page through EXECUTE: planned for the values given, so an absent filter
-- drops out. A search term is answered by auth.search_customer_ids (the trigram index over
-- search.customers, kept in step in the same transaction as each change), for just one page
-- when it is the only filter; the ids it returns are read here under the caller's policies.
create function api.list_customers(p jsonb) returns json
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_q text := nullif(pg_catalog.btrim(p ->> 'q'), '');
  v_tag text := pg_catalog.lower(pg_catalog.btrim(p ->> 'tag'));
  v_stage text := p ->> 'lifecycleStage';
  v_inactive int := (p ->> 'inactiveDays')::int;
  v_deleted boolean := coalesce((p ->> 'deleted')::boolean, false);
  v_found uuid[];
  v_page json;
begin
  perform auth.require_scope('customers:read');
  if v_inactive is not null and v_inactive not between 1 and 36500 then
    perform app.raise_invalid('inactiveDays', 'out_of_range', 'inactiveDays must be between 1 and 36500.');
  end if;
  if v_q is null and v_tag is null and v_stage is null and v_inactive is null then
    return (
      select app.page_json(pg_catalog.json_agg(app.customer_json(c.c) order by c.n) filter (where c.n <= v_limit),
                           (pg_catalog.array_agg(c.id) filter (where c.n = v_limit))[1],
                           pg_catalog.count(*) > v_limit)
        from (select c.id, c, pg_catalog.row_number() over (order by c.id desc) n
                from app.customers c
               where c.org_id = v_org
                 and (c.deleted_at is not null) = v_deleted
                 and c.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
               order by c.id desc
               limit v_limit + 1) c);
  end if;
  if v_q is not null then
    v_found := auth.search_customer_ids(v_q, v_deleted, v_after,
                                        case when v_tag is null and v_stage is null and v_inactive is null
                                             then v_limit + 1 end);
  end if;
  execute $query$
    select app.page_json(pg_catalog.json_agg(app.customer_json(c.c) order by c.n) filter (where c.n <= $2),
                         (pg_catalog.array_agg(c.id) filter (where c.n = $2))[1],
                         pg_catalog.count(*) > $2)
      from (select c.id, c, pg_catalog.row_number() over (order by c.id desc) n
              from app.customers c
             where c.org_id = $1
               and (c.deleted_at is not null) = $3
               and ($4::uuid is null or c.id < $4)
               and ($9::uuid[] is null or c.id = any ($9))
               and ($6::text is null or c.tags @> array[$6])
               and ($7::text is null or c.lifecycle_stage = $7)
               and ($8::int is null
                    or coalesce(c.last_activity_at, c.created_at)
                       < pg_catalog.now() - pg_catalog.make_interval(days => $8))
             order by c.id desc
             limit $2 + 1) c
  $query$ into v_page using v_org, v_limit, v_deleted, v_after, v_q, v_tag, v_stage, v_inactive, v_found;
  return v_page;
end
$$;
comment on function api.list_customers(jsonb) is 'Lists customers, newest first, with search (q over name, email, phone), tag, lifecycleStage, inactiveDays and deleted filters; cursor pagination.';
grant execute on function api.list_customers(jsonb) to favcrm_member;

create function api.get_customer(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  c app.customers;
begin
  perform auth.require_scope('customers:read');
  select * into c from app.customers where org_id = auth.org_id() and id = (p ->> 'customerId')::uuid;
  if not found then
    perform app.not_found('customer');
  end if;
  return app.customer_json(c);
end
$$;
comment on function api.get_customer(jsonb) is 'Returns one customer (including a soft-deleted one, with deletedAt set).';
grant execute on function api.get_customer(jsonb) to favcrm_member;

create function api.create_customer(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.customers;
  v_email text := app.normalize_email(p ->> 'email');
begin
  perform auth.require_scope('customers:write');
  perform app.check_customer_email_free(v_email, null);
  insert into app.customers (org_id, name, email, phone, lifecycle_stage, source, tags, custom_fields, marketing_consent)
  values (auth.org_id(), pg_catalog.btrim(p ->> 'name'), v_email, app.normalize_phone(p ->> 'phone'),
          coalesce(p ->> 'lifecycleStage', 'customer'), pg_catalog.btrim(p ->> 'source'),
          app.normalize_tags(p -> 'tags'), coalesce(pg_catalog.jsonb_strip_nulls(p -> 'customFields'), '{}'),
          app.merge_consent('{}', p -> 'marketingConsent'))
  returning * into c;
  return app.customer_json(c);
end
$$;
comment on function api.create_customer(jsonb) is 'Creates a customer. Email, when given, must not belong to another live customer of the organisation.';
grant execute on function api.create_customer(jsonb) to favcrm_member;

create function api.update_customer(p jsonb) returns jsonb
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
comment on function api.update_customer(jsonb) is 'Changes the fields given (absent fields stay; null clears an optional field). customFields merge key by key; a null value removes that key.';
grant execute on function api.update_customer(jsonb) to favcrm_member;

create function api.delete_customer(p jsonb) returns jsonb
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
comment on function api.delete_customer(jsonb) is 'Soft-deletes a customer (sets deletedAt). Deleting a deleted customer changes nothing.';
grant execute on function api.delete_customer(jsonb) to favcrm_member;

create function api.restore_customer(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.customers;
begin
  perform auth.require_scope('customers:write');
  c := app.customer_for_update((p ->> 'customerId')::uuid);
  if c.deleted_at is not null then
    perform app.check_customer_email_free(c.email, c.id);
    update app.customers set deleted_at = null, updated_at = pg_catalog.now()
     where org_id = c.org_id and id = c.id
     returning * into c;
  end if;
  return app.customer_json(c);
end
$$;
comment on function api.restore_customer(jsonb) is 'Restores a soft-deleted customer. Restoring a live customer changes nothing; 409 if its email now belongs to another live customer.';
grant execute on function api.restore_customer(jsonb) to favcrm_member;

create function api.add_customer_tags(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.customers;
  v_tags text[];
begin
  perform auth.require_scope('customers:write');
  c := app.customer_for_update((p ->> 'customerId')::uuid);
  v_tags := app.normalize_tags(pg_catalog.to_jsonb(c.tags) || coalesce(p -> 'tags', '[]'));
  if v_tags is distinct from c.tags then
    update app.customers set tags = v_tags, updated_at = pg_catalog.now()
     where org_id = c.org_id and id = c.id
     returning * into c;
  end if;
  return app.customer_json(c);
end
$$;
comment on function api.add_customer_tags(jsonb) is 'Adds tags to a customer; tags it already has are ignored.';
grant execute on function api.add_customer_tags(jsonb) to favcrm_member;

create function api.remove_customer_tags(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.customers;
  v_remove text[];
  v_tags text[];
begin
  perform auth.require_scope('customers:write');
  c := app.customer_for_update((p ->> 'customerId')::uuid);
  v_remove := app.normalize_tags(p -> 'tags');
  v_tags := array(select t from pg_catalog.unnest(c.tags) t where t <> all (v_remove) order by t);
  if v_tags is distinct from c.tags then
    update app.customers set tags = v_tags, updated_at = pg_catalog.now()
     where org_id = c.org_id and id = c.id
     returning * into c;
  end if;
  return app.customer_json(c);
end
$$;
comment on function api.remove_customer_tags(jsonb) is 'Removes tags from a customer; tags it does not have are ignored.';
grant execute on function api.remove_customer_tags(jsonb) to favcrm_member;

create function api.add_customer_note(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.customers;
  n app.customer_notes;
begin
  perform auth.require_scope('customers:write');
  c := app.customer_for_update((p ->> 'customerId')::uuid);
  insert into app.customer_notes (org_id, customer_id, body, author_user_id)
  values (c.org_id, c.id, pg_catalog.btrim(p ->> 'body'), auth.user_id())
  returning * into n;
  update app.customers set last_activity_at = n.created_at where org_id = c.org_id and id = c.id;
  return app.customer_note_json(n);
end
$$;
comment on function api.add_customer_note(jsonb) is 'Adds a note to a customer and marks the customer as active now.';
grant execute on function api.add_customer_note(jsonb) to favcrm_member;

-- The list rule (loadtest/README.md): a cached generic plan, the cursor an index condition.
create function api.list_customer_notes(p jsonb) returns jsonb
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_customer uuid := (p ->> 'customerId')::uuid;
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_result jsonb;
begin
  perform auth.require_scope('customers:read');
  if not exists (select from app.customers where org_id = v_org and id = v_customer) then
    perform app.not_found('customer');
  end if;
  select app.page(array_agg(app.customer_note_json(n::app.customer_notes) order by n.id desc), array_agg(n.id order by n.id desc), v_limit)
    into v_result
    from (select * from app.customer_notes n
           where n.org_id = v_org and n.customer_id = v_customer
             and n.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
           order by n.id desc
           limit v_limit + 1) n;
  return v_result;
end
$$;
comment on function api.list_customer_notes(jsonb) is 'Lists a customer''s notes, newest first, with cursor pagination.';
grant execute on function api.list_customer_notes(jsonb) to favcrm_member;
