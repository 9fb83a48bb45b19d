-- Reading the audit log. (The log is written by the audit.record_change trigger, which
-- lives in the migrations.)

-- The API representation of an audit event, field by field (named as the JSON keys).
drop type if exists app.audit_event_out cascade;
create type app.audit_event_out as (
  "id" uuid, "occurredAt" text, "actorUserId" uuid, "actorKeyId" uuid, "via" text, "operation" text,
  "requestId" text, "tableName" text, "rowId" uuid, "action" text, "before" jsonb, "after" jsonb);
comment on type app.audit_event_out is 'The API representation of an audit event, field by field (app.audit_event_json).';

create function app.audit_event_json(e audit.event) returns json
language sql stable parallel safe as $$
  select pg_catalog.to_json(row(e.id, app.ts(e.occurred_at), e.actor_user_id, e.actor_key_id, e.via, e.operation,
    e.request_id, e.table_name, e.row_id, e.action, e.before, e.after)::app.audit_event_out)
$$;
comment on function app.audit_event_json(audit.event) is 'The API representation of an audit event.';
grant execute on function app.audit_event_json(audit.event) to favcrm_member;

-- As api.list_customers: without a filter one static statement under a cached plan (the cursor
-- an index condition), with one the same page through EXECUTE, planned for the values given.
create function api.list_audit_events(p jsonb) returns json
language plpgsql stable set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_org uuid := auth.org_id();
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_row uuid := (p ->> 'rowId')::uuid;
  v_table text := p ->> 'tableName';
  v_operation text := p ->> 'operation';
  v_page json;
begin
  perform auth.require_scope('audit:read');
  if v_row is null and v_table is null and v_operation is null then
    return (
      select app.page_json(pg_catalog.json_agg(app.audit_event_json(e.e) order by e.n) filter (where e.n <= v_limit),
                           (pg_catalog.array_agg(e.id) filter (where e.n = v_limit))[1],
                           pg_catalog.count(*) > v_limit)
        from (select e.id, e, pg_catalog.row_number() over (order by e.id desc) n
                from audit.event e
               where e.org_id = v_org
                 and e.id < coalesce(v_after, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
               order by e.id desc
               limit v_limit + 1) e);
  end if;
  execute $query$
    select app.page_json(pg_catalog.json_agg(app.audit_event_json(e.e) order by e.n) filter (where e.n <= $2),
                         (pg_catalog.array_agg(e.id) filter (where e.n = $2))[1],
                         pg_catalog.count(*) > $2)
      from (select e.id, e, pg_catalog.row_number() over (order by e.id desc) n
              from audit.event e
             where e.org_id = $1
               and ($3::uuid is null or e.id < $3)
               and ($4::uuid is null or e.row_id = $4)
               and ($5::text is null or e.table_name = $5)
               and ($6::text is null or e.operation = $6)
             order by e.id desc
             limit $2 + 1) e
  $query$ into v_page using v_org, v_limit, v_after, v_row, v_table, v_operation;
  return v_page;
end
$$;
comment on function api.list_audit_events(jsonb) is 'Lists audit events of the organisation, newest first (owners and admins), filtered by rowId, tableName or operation.';
grant execute on function api.list_audit_events(jsonb) to favcrm_member;
