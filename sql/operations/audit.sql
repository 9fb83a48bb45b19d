-- Reading the audit log. (The log is written by the audit.record_change trigger, which
-- lives in the migrations.)

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
grant execute on function app.audit_event_json(audit.event) to favcrm_member;

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
grant execute on function api.list_audit_events(jsonb) to favcrm_member;
