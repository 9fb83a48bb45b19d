-- Webhooks out: an organisation's events sent to the endpoints it registers, signed as the
-- Standard Webhooks specification says.
--
-- The rules, once:
--   * An event happens in the transaction of the change (triggers of V21 on customers,
--     bookings, invoices, payments and refunds). It is written, with one delivery per endpoint
--     that wants its type, only when some endpoint of the organisation wants it: an
--     organisation without endpoints pays one index probe per change.
--   * The event holds the resource as the API showed it at that moment (`data`), its `type`
--     and `timestamp`; its id is the `webhook-id` of every delivery of it, the same on each
--     retry, so a receiver can recognise a repeat.
--   * The signing secret (`whsec_…`) is not stored anywhere: the server derives it from its
--     secrets key, the organisation, the endpoint and the secret's generation, shows it once
--     (create_webhook_endpoint, rotate_webhook_secret) and signs each delivery with it. A
--     rotation keeps signing with the previous secret too (a second signature) for the hours
--     asked, so a receiver can switch without missing events.
--   * Only admins and owners see and change endpoints and their deliveries: they decide where
--     the organisation's data goes.
--   * Deleting an endpoint cancels its deliveries not yet sent; its past deliveries stay.

-- The event types there are (an endpoint may also name a family, booking.*, or *).
create function app.webhook_event_types() returns text[]
language sql immutable parallel safe as $$
  select array['approval.approved', 'approval.failed', 'approval.rejected', 'approval.requested',
               'booking.cancelled', 'booking.created', 'booking.rescheduled', 'booking.updated',
               'customer.created', 'customer.deleted', 'customer.updated',
               'invoice.finalized', 'invoice.marked_uncollectible', 'invoice.paid', 'invoice.voided',
               'message.delivered', 'message.failed', 'message.received', 'message.sent',
               'payment.received', 'payment.refunded']
$$;
comment on function app.webhook_event_types() is 'Every event type webhooks send.';
grant execute on function app.webhook_event_types() to favcrm_member;

create function app.webhook_endpoint_json(e app.webhook_endpoints) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', e.id,
    'url', e.url,
    'description', e.description,
    'eventTypes', pg_catalog.to_jsonb(e.event_types),
    'secretGeneration', e.secret_generation,
    'previousSecretValidUntil', case when e.previous_secret_until > pg_catalog.now() then app.ts(e.previous_secret_until) end,
    'status', case when e.deleted_at is null then 'active' else 'deleted' end,
    'createdAt', app.ts(e.created_at),
    'updatedAt', app.ts(e.updated_at),
    'deletedAt', app.ts(e.deleted_at))
$$;
comment on function app.webhook_endpoint_json(app.webhook_endpoints) is 'The API representation of a webhook endpoint (never its secret).';
grant execute on function app.webhook_endpoint_json(app.webhook_endpoints) to favcrm_member;

create function app.require_webhooks_role(p_scope text) returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope(p_scope);
  if auth.role_rank(auth.role()) < auth.role_rank('admin') then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = 'Only admins and owners see and change webhook endpoints.';
  end if;
end
$$;
comment on function app.require_webhooks_role(text) is 'Raises 42501 unless the caller holds the scope and is an admin or owner.';
grant execute on function app.require_webhooks_role(text) to favcrm_member;

-- What the server turns into the secret: {orgId, endpointId, generation} (see the rules).
create function app.webhook_secret_request(e app.webhook_endpoints) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object('orgId', e.org_id, 'endpointId', e.id, 'generation', e.secret_generation)
$$;
comment on function app.webhook_secret_request(app.webhook_endpoints) is 'Asks the server (under _webhookSecret) to show the endpoint''s current signing secret in the answer.';
grant execute on function app.webhook_secret_request(app.webhook_endpoints) to favcrm_member;

create function app.check_event_types(p_types jsonb) returns text[]
language plpgsql stable set search_path = '' as $$
declare
  v_types text[] := array(select distinct t from pg_catalog.jsonb_array_elements_text(p_types) t order by t);
  v_bad text;
begin
  select t into v_bad from pg_catalog.unnest(v_types) t
   where t <> '*' and t <> all (app.webhook_event_types())
     and not (t like '%.*' and exists (select from pg_catalog.unnest(app.webhook_event_types()) k
                                        where pg_catalog.split_part(k, '.', 1) = pg_catalog.split_part(t, '.', 1)))
   limit 1;
  if v_bad is not null then
    perform app.raise_invalid('eventTypes', 'unknown_event_type',
      pg_catalog.format('%s is not an event type. Types: %s, a family such as booking.*, or * for all.',
                        v_bad, pg_catalog.array_to_string(app.webhook_event_types(), ', ')));
  end if;
  return v_types;
end
$$;
comment on function app.check_event_types(jsonb) is 'The event types asked for, sorted and without repeats; raises 22023 unknown_event_type for one that does not exist.';
grant execute on function app.check_event_types(jsonb) to favcrm_member;

create function api.create_webhook_endpoint(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  e app.webhook_endpoints;
begin
  perform app.require_webhooks_role('webhooks:write');
  if (select pg_catalog.count(*) from app.webhook_endpoints
       where org_id = auth.org_id() and deleted_at is null) >= 20 then
    raise exception using errcode = '55000', hint = 'too_many_endpoints',
      message = 'An organisation can have 20 webhook endpoints; delete one first.';
  end if;
  insert into app.webhook_endpoints (org_id, url, description, event_types, created_by_user_id)
  values (auth.org_id(), p ->> 'url', pg_catalog.btrim(p ->> 'description'), app.check_event_types(p -> 'eventTypes'),
          auth.user_id())
  returning * into e;
  return app.webhook_endpoint_json(e) || pg_catalog.jsonb_build_object('_webhookSecret', app.webhook_secret_request(e));
end
$$;
comment on function api.create_webhook_endpoint(jsonb) is 'Registers a URL for the organisation''s events of the given types; the answer shows the signing secret once.';
grant execute on function api.create_webhook_endpoint(jsonb) to favcrm_member;

create function app.webhook_endpoint(p_id uuid, p_lock boolean) returns app.webhook_endpoints
language plpgsql set search_path = '' as $$
declare
  e app.webhook_endpoints;
begin
  if p_lock then
    select * into e from app.webhook_endpoints where org_id = auth.org_id() and id = p_id and deleted_at is null for update;
  else
    select * into e from app.webhook_endpoints where org_id = auth.org_id() and id = p_id and deleted_at is null;
  end if;
  if not found then
    perform app.not_found('webhook endpoint', 'webhookEndpointId');
  end if;
  return e;
end
$$;
comment on function app.webhook_endpoint(uuid, boolean) is 'A live webhook endpoint of the caller''s organisation (locked if asked), or 404.';
grant execute on function app.webhook_endpoint(uuid, boolean) to favcrm_member;

create function api.get_webhook_endpoint(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform app.require_webhooks_role('webhooks:read');
  return app.webhook_endpoint_json(app.webhook_endpoint((p ->> 'webhookEndpointId')::uuid, false));
end
$$;
comment on function api.get_webhook_endpoint(jsonb) is 'One webhook endpoint.';
grant execute on function api.get_webhook_endpoint(jsonb) to favcrm_member;

create function api.list_webhook_endpoints(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
begin
  perform app.require_webhooks_role('webhooks:read');
  return (
    select app.page_json(pg_catalog.json_agg(app.webhook_endpoint_json(x.e) order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select e.id, e, pg_catalog.row_number() over (order by e.id desc) n
              from app.webhook_endpoints e
             where e.org_id = auth.org_id() and e.deleted_at is null
               and (v_after is null or e.id < v_after)
             order by e.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_webhook_endpoints(jsonb) is 'The organisation''s webhook endpoints, newest first.';
grant execute on function api.list_webhook_endpoints(jsonb) to favcrm_member;

create function api.rotate_webhook_secret(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  e app.webhook_endpoints;
  v_hours int := coalesce((p ->> 'keepPreviousForHours')::int, 24);
begin
  perform app.require_webhooks_role('webhooks:write');
  e := app.webhook_endpoint((p ->> 'webhookEndpointId')::uuid, true);
  update app.webhook_endpoints
     set secret_generation = secret_generation + 1,
         previous_secret_until = case when v_hours > 0 then pg_catalog.now() + pg_catalog.make_interval(hours => v_hours) end,
         updated_at = pg_catalog.now()
   where org_id = e.org_id and id = e.id
  returning * into e;
  return app.webhook_endpoint_json(e) || pg_catalog.jsonb_build_object('_webhookSecret', app.webhook_secret_request(e));
end
$$;
comment on function api.rotate_webhook_secret(jsonb) is 'Makes a new signing secret for an endpoint (shown once); deliveries are signed with the previous one too for keepPreviousForHours (default 24).';
grant execute on function api.rotate_webhook_secret(jsonb) to favcrm_member;

create function api.preview_delete_webhook_endpoint(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  e app.webhook_endpoints;
begin
  perform app.require_webhooks_role('webhooks:write');
  e := app.webhook_endpoint((p ->> 'webhookEndpointId')::uuid, false);
  return pg_catalog.jsonb_build_object(
    'target', app.webhook_endpoint_json(e),
    'effect', pg_catalog.jsonb_build_object(
      'deliveriesCancelled', (select pg_catalog.count(*) from app.deliveries d
                               where d.org_id = e.org_id and d.endpoint_id = e.id and d.status in ('pending', 'sending'))));
end
$$;
comment on function api.preview_delete_webhook_endpoint(jsonb) is 'What delete_webhook_endpoint would do: the endpoint and how many deliveries not yet sent it cancels.';
grant execute on function api.preview_delete_webhook_endpoint(jsonb) to favcrm_member;

create function api.delete_webhook_endpoint(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  e app.webhook_endpoints;
  v_cancelled int;
begin
  perform app.require_webhooks_role('webhooks:write');
  e := app.webhook_endpoint((p ->> 'webhookEndpointId')::uuid, true);
  perform auth.require_confirmation('delete_webhook_endpoint');
  update app.webhook_endpoints set deleted_at = pg_catalog.now(), updated_at = pg_catalog.now()
   where org_id = e.org_id and id = e.id
  returning * into e;
  -- One being sent right now finishes; the worker's record of it still counts.
  update app.deliveries set status = 'cancelled', updated_at = pg_catalog.now()
   where org_id = e.org_id and endpoint_id = e.id and status = 'pending';
  get diagnostics v_cancelled = row_count;
  return app.webhook_endpoint_json(e) || pg_catalog.jsonb_build_object('deliveriesCancelled', v_cancelled);
end
$$;
comment on function api.delete_webhook_endpoint(jsonb) is 'Stops sending events to an endpoint and cancels its deliveries not yet sent (past ones stay listed).';
grant execute on function api.delete_webhook_endpoint(jsonb) to favcrm_member;

create function api.list_webhook_deliveries(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_endpoint uuid := (p ->> 'webhookEndpointId')::uuid;
begin
  perform app.require_webhooks_role('webhooks:read');
  if v_endpoint is not null and not exists (select from app.webhook_endpoints
                                             where org_id = auth.org_id() and id = v_endpoint) then
    perform app.not_found('webhook endpoint', 'webhookEndpointId');
  end if;
  return (
    select app.page_json(pg_catalog.json_agg(app.delivery_json(x.d) order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select d.id, d, pg_catalog.row_number() over (order by d.id desc) n
              from app.deliveries d
             where d.org_id = auth.org_id() and d.kind = 'webhook'
               and (v_endpoint is null or d.endpoint_id = v_endpoint)
               and (p ->> 'status' is null or d.status = p ->> 'status')
               and (v_after is null or d.id < v_after)
             order by d.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_webhook_deliveries(jsonb) is 'Webhook deliveries, newest first, of one endpoint or all: the event type, status, attempts and last error.';
grant execute on function api.list_webhook_deliveries(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Events. The triggers of V21 call these as whoever made the change (a member, a web page
-- through its entry point, Stripe's event, the scheduler); the data is built with that
-- caller's view, and the event and deliveries are written by auth.emit_webhook_event.
-- ---------------------------------------------------------------------------------------
create function auth.webhooks_wanted(p_type text) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (select from app.webhook_endpoints e
                  where e.org_id = auth.org_id() and e.deleted_at is null
                    and (p_type = any (e.event_types) or '*' = any (e.event_types)
                         or pg_catalog.split_part(p_type, '.', 1) || '.*' = any (e.event_types)))
$$;
comment on function auth.webhooks_wanted(text) is 'Whether an endpoint of the claimed organisation wants events of the type.';
revoke all on function auth.webhooks_wanted(text) from public;
grant execute on function auth.webhooks_wanted(text) to favcrm_member;

create function auth.emit_webhook_event(p_type text, p_data jsonb) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_event uuid := app.uuid_v7();
begin
  insert into app.webhook_events (org_id, id, type, data) values (auth.org_id(), v_event, p_type, p_data);
  insert into app.deliveries (org_id, kind, recipient, idempotency_key, endpoint_id, event_id)
  select e.org_id, 'webhook', e.url, v_event::text, e.id, v_event
    from app.webhook_endpoints e
   where e.org_id = auth.org_id() and e.deleted_at is null
     and (p_type = any (e.event_types) or '*' = any (e.event_types)
          or pg_catalog.split_part(p_type, '.', 1) || '.*' = any (e.event_types));
end
$$;
comment on function auth.emit_webhook_event(text, jsonb) is 'Writes an event of the claimed organisation and a delivery of it to each endpoint that wants its type.';
revoke all on function auth.emit_webhook_event(text, jsonb) from public;
grant execute on function auth.emit_webhook_event(text, jsonb) to favcrm_member;

create function app.customer_webhook(p_op text, o app.customers, n app.customers) returns void
language plpgsql set search_path = '' as $$
declare
  v_type text := case
    when p_op = 'INSERT' then 'customer.created'
    when n.deleted_at is not null and o.deleted_at is null then 'customer.deleted'
    when (n.name, n.email, n.phone, n.lifecycle_stage, n.tags, n.custom_fields, n.marketing_consent, n.deleted_at)
         is distinct from (o.name, o.email, o.phone, o.lifecycle_stage, o.tags, o.custom_fields, o.marketing_consent,
                           o.deleted_at) then 'customer.updated' end;
begin
  if v_type is not null and auth.webhooks_wanted(v_type) then
    perform auth.emit_webhook_event(v_type, app.customer_json(n)::jsonb);
  end if;
end
$$;
comment on function app.customer_webhook(text, app.customers, app.customers) is 'The webhook event of a change to a customer: created, updated (name, contact, stage, tags, fields, consent) or deleted.';
grant execute on function app.customer_webhook(text, app.customers, app.customers) to favcrm_member;

create function app.booking_webhook(p_op text, o app.bookings, n app.bookings) returns void
language plpgsql set search_path = '' as $$
declare
  v_type text := case
    when p_op = 'INSERT' and n.rescheduled_from_id is not null then 'booking.rescheduled'
    when p_op = 'INSERT' then 'booking.created'
    -- The booking a reschedule replaced: its booking.rescheduled event tells both.
    when n.status = 'cancelled' and n.cancel_reason = 'rescheduled' then null
    when n.status = 'cancelled' and o.status <> 'cancelled' then 'booking.cancelled'
    when (n.status, n.starts_at, n.ends_at, n.staff_id) is distinct from (o.status, o.starts_at, o.ends_at, o.staff_id)
      then 'booking.updated' end;
begin
  if v_type is not null and auth.webhooks_wanted(v_type) then
    perform auth.emit_webhook_event(v_type, app.booking_json(n));
  end if;
end
$$;
comment on function app.booking_webhook(text, app.bookings, app.bookings) is 'The webhook event of a change to a booking: created, rescheduled (the new booking, naming the old), cancelled, or updated (status, time or staff).';
grant execute on function app.booking_webhook(text, app.bookings, app.bookings) to favcrm_member;

create function app.invoice_webhook(p_op text, o app.invoices, n app.invoices) returns void
language plpgsql set search_path = '' as $$
declare
  v_type text := case when p_op = 'UPDATE' and o.status = n.status then null
                      else case n.status when 'open' then 'invoice.finalized' when 'paid' then 'invoice.paid'
                                         when 'void' then 'invoice.voided'
                                         when 'uncollectible' then 'invoice.marked_uncollectible' end end;
begin
  if v_type is not null and auth.webhooks_wanted(v_type) then
    perform auth.emit_webhook_event(v_type, app.invoice_summary_json(n, (pg_catalog.now() at time zone
      (select o2.timezone from app.organisations o2 where o2.id = n.org_id))::date)::jsonb);
  end if;
end
$$;
comment on function app.invoice_webhook(text, app.invoices, app.invoices) is 'The webhook event of an invoice''s status: finalized, paid, voided or marked uncollectible (the invoice as lists show it).';
grant execute on function app.invoice_webhook(text, app.invoices, app.invoices) to favcrm_member;

create function app.payment_webhook(p_payment uuid, p_type text) returns void
language plpgsql set search_path = '' as $$
begin
  if auth.webhooks_wanted(p_type) then
    perform auth.emit_webhook_event(p_type, coalesce((select app.payment_json(pm) from app.payments pm
                                                       where pm.org_id = auth.org_id() and pm.id = p_payment),
                                                      pg_catalog.jsonb_build_object('id', p_payment)));
  end if;
end
$$;
comment on function app.payment_webhook(uuid, text) is 'The webhook event of a payment received or refunded (the payment with its refunds).';
grant execute on function app.payment_webhook(uuid, text) to favcrm_member;

create function app.message_webhook(p_op text, o app.messages, n app.messages) returns void
language plpgsql set search_path = '' as $$
declare
  v_type text := case
    when p_op = 'INSERT' and n.direction = 'inbound' then 'message.received'
    when p_op = 'UPDATE' and n.status is distinct from o.status and n.status in ('sent', 'delivered', 'failed')
      then 'message.' || n.status end;
begin
  if v_type is not null and auth.webhooks_wanted(v_type) then
    perform auth.emit_webhook_event(v_type, app.message_json(n));
  end if;
end
$$;
comment on function app.message_webhook(text, app.messages, app.messages) is 'The webhook event of a message: received from a customer, or sent, delivered or failed.';
grant execute on function app.message_webhook(text, app.messages, app.messages) to favcrm_member;
