-- The outbox: side effects (email, text and WhatsApp messages, webhook calls) written in the
-- transaction of the change that causes them, performed after commit by workers.
--
-- The rules, once:
--   * A delivery is a row of app.deliveries, written by the operation (or trigger) whose change
--     causes it, so a change that rolls back sends nothing and one that commits cannot lose
--     its effect.
--   * A worker (inside `favcrm serve`, or `favcrm worker` beside it) asks which deliveries are
--     due (auth.due_deliveries, across organisations, ids only), then claims them for one
--     organisation at a time (auth.claim_deliveries): pending and due, or sending with a lease
--     run out (the worker that held it stopped). Claiming is `FOR UPDATE SKIP LOCKED`, counts
--     the attempt and leases the row, so two workers never hold one delivery.
--   * The worker performs the delivery after that transaction and records what came of it
--     (auth.record_delivery), with the attempt number it claimed: an outcome for an attempt
--     that is no longer the current one (its lease ran out and another worker took it) is kept
--     as an attempt but changes nothing else.
--   * A failure is retried later (the worker's backoff: exponential with jitter, or the wait a
--     provider asked for) until the worker's limit of attempts since the delivery was last
--     retried by hand; then the delivery is dead. A refusal (the provider will never take it:
--     a bad address, a number that cannot receive texts) is dead at once. retry_delivery sends
--     a dead (or waiting) delivery again.
--   * Each delivery carries an idempotency key the worker sends where the provider takes one
--     (a webhook's webhook-id, Twilio's and WhatsApp's idempotency headers, an email's
--     Message-ID), so an attempt repeated after a crash between "performed" and "recorded" is
--     recognised as a repeat. Where the provider cannot tell (SMTP), such a crash may send it
--     twice: at most once per lease.

create function app.delivery_json(d app.deliveries) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', d.id,
    'kind', d.kind,
    'status', d.status,
    'recipient', d.recipient,
    'attempts', d.attempts,
    'nextAttemptAt', case when d.status = 'pending' then app.ts(d.next_attempt_at) end,
    'lastError', d.last_error,
    'providerRef', d.provider_ref,
    'webhookEndpointId', d.endpoint_id,
    'eventId', d.event_id,
    'eventType', (select ev.type from app.webhook_events ev where ev.org_id = d.org_id and ev.id = d.event_id),
    'subject', d.payload ->> 'subject',
    'createdAt', app.ts(d.created_at),
    'updatedAt', app.ts(d.updated_at),
    'sentAt', app.ts(d.sent_at))
$$;
comment on function app.delivery_json(app.deliveries) is 'The API representation of a delivery: what it is, to whom, and how far it got (never the message''s body or a webhook''s payload).';
grant execute on function app.delivery_json(app.deliveries) to favcrm_member;

create function app.require_delivery_reader() returns void
language plpgsql stable set search_path = '' as $$
begin
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden', message = 'Only managers and above see deliveries.';
  end if;
end
$$;
comment on function app.require_delivery_reader() is 'Raises 42501 forbidden unless the caller is a manager, admin or owner (who see the outbox).';
grant execute on function app.require_delivery_reader() to favcrm_member;

create function api.list_deliveries(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
begin
  perform auth.require_scope('messaging:read');
  perform app.require_delivery_reader();
  return (
    select app.page_json(pg_catalog.json_agg(app.delivery_json(x.d) order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select d.id, d, pg_catalog.row_number() over (order by d.id desc) n
              from app.deliveries d
             where d.org_id = auth.org_id()
               and (p ->> 'status' is null or d.status = p ->> 'status')
               and (p ->> 'kind' is null or d.kind = p ->> 'kind')
               and (v_after is null or d.id < v_after)
             order by d.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_deliveries(jsonb) is 'The outbox, newest first: every email, message and webhook call, with its status (pending, sending, sent, dead, cancelled), attempts and last error; filter by status (dead: the dead letters) and kind.';
grant execute on function api.list_deliveries(jsonb) to favcrm_member;

create function api.get_delivery(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  d app.deliveries;
begin
  perform auth.require_scope('messaging:read');
  perform app.require_delivery_reader();
  select * into d from app.deliveries where org_id = auth.org_id() and id = (p ->> 'deliveryId')::uuid;
  if not found then
    perform app.not_found('delivery', 'deliveryId');
  end if;
  return app.delivery_json(d) || pg_catalog.jsonb_build_object(
    'attemptLog', (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                          'attempt', a.attempt, 'outcome', a.outcome, 'responseStatus', a.response_status,
                          'error', a.error, 'startedAt', app.ts(a.started_at), 'finishedAt', app.ts(a.finished_at))
                          order by a.attempt), '[]')
                     from app.delivery_attempts a where a.org_id = d.org_id and a.delivery_id = d.id));
end
$$;
comment on function api.get_delivery(jsonb) is 'One delivery with the outcome of each attempt (an attempt cut off by a stopped worker has no entry).';
grant execute on function api.get_delivery(jsonb) to favcrm_member;

create function api.retry_delivery(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  d app.deliveries;
begin
  perform auth.require_scope('messaging:write');
  perform app.require_delivery_reader();
  select * into d from app.deliveries where org_id = auth.org_id() and id = (p ->> 'deliveryId')::uuid for update;
  if not found then
    perform app.not_found('delivery', 'deliveryId');
  end if;
  if d.status not in ('dead', 'pending') then
    raise exception using errcode = '55000', hint = 'not_retryable', column = 'deliveryId',
      message = pg_catalog.format('This delivery is %s: only a dead delivery, or one waiting to be retried, can be sent again.', d.status);
  end if;
  update app.deliveries
     set status = 'pending', next_attempt_at = pg_catalog.now(), attempts_at_retry = attempts, updated_at = pg_catalog.now()
   where org_id = d.org_id and id = d.id
  returning * into d;
  return app.delivery_json(d);
end
$$;
comment on function api.retry_delivery(jsonb) is 'Sends a dead delivery again (with the worker''s full number of attempts), or a waiting one now.';
grant execute on function api.retry_delivery(jsonb) to favcrm_member;

-- An email an operation sends, rendered by the server from a template and fields when it is
-- performed (favcrm's own mails to members, such as an invitation).
create function app.queue_email(p_to text, p_template text, p_fields jsonb) returns uuid
language plpgsql set search_path = '' as $$
declare
  v_id uuid := app.uuid_v7();
begin
  insert into app.deliveries (org_id, id, kind, recipient, payload, idempotency_key)
  values (auth.org_id(), v_id, 'email', p_to, p_fields || pg_catalog.jsonb_build_object('template', p_template, 'to', p_to),
          v_id::text);
  return v_id;
end
$$;
comment on function app.queue_email(text, text, jsonb) is 'Writes an email to the outbox in the caller''s transaction: a template of the server''s and its fields. Returns the delivery''s id.';
grant execute on function app.queue_email(text, text, jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- The worker's doors. It asks which deliveries are due across organisations (ids only), then
-- acts for one organisation at a time as its owner role would, via 'outbox', after the server
-- switched to the member role, under the same policies as a request.
-- ---------------------------------------------------------------------------------------
create function auth.due_deliveries(p_limit int) returns table (org_id uuid, id uuid)
language sql stable security definer set search_path = '' as $$
  (select d.org_id, d.id from app.deliveries d
    where d.status = 'pending' and d.next_attempt_at <= pg_catalog.now()
    order by d.next_attempt_at limit p_limit)
  union all
  (select d.org_id, d.id from app.deliveries d
    where d.status = 'sending' and d.lease_until < pg_catalog.now()
    order by d.lease_until limit p_limit)
$$;
comment on function auth.due_deliveries(int) is 'Deliveries due now (pending and due, or sending with a lease run out), oldest first: organisation and id only.';
revoke all on function auth.due_deliveries(int) from public;
grant execute on function auth.due_deliveries(int) to favcrm_authenticator;

create function auth.claim_deliveries(p_org uuid, p_ids uuid[], p_lease_seconds int) returns jsonb
language plpgsql volatile set search_path = '' as $$
declare
  v_claimed jsonb;
begin
  perform auth.act_for_system(p_org, 'outbox', 'deliver');
  with claimable as (
    select d.org_id, d.id from app.deliveries d
     where d.org_id = p_org and d.id = any (p_ids)
       and ((d.status = 'pending' and d.next_attempt_at <= pg_catalog.now())
            or (d.status = 'sending' and d.lease_until < pg_catalog.now()))
     for update skip locked),
  claimed as (
    update app.deliveries d
       set status = 'sending', attempts = d.attempts + 1,
           lease_until = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds),
           updated_at = pg_catalog.now()
      from claimable c
     where d.org_id = c.org_id and d.id = c.id
    returning d.*)
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'orgId', c.org_id, 'id', c.id, 'kind', c.kind, 'attempt', c.attempts,
           'attemptsSinceRetry', c.attempts - c.attempts_at_retry,
           'recipient', c.recipient, 'payload', c.payload, 'idempotencyKey', c.idempotency_key,
           'webhook', case when c.kind = 'webhook' then pg_catalog.jsonb_build_object(
             'eventId', ev.id, 'endpointId', e.id, 'type', ev.type, 'timestamp', app.ts(ev.created_at), 'data', ev.data,
             'url', e.url, 'secretGeneration', e.secret_generation,
             'previousSecretGeneration', case when e.previous_secret_until > pg_catalog.now()
                                              then e.secret_generation - 1 end) end,
           -- A message's channel: its settings and sealed credentials (none: the server's mail).
           'channel', case when ch.id is not null then pg_catalog.jsonb_build_object(
             'provider', ch.provider, 'settings', ch.settings,
             'sealedSecret', pg_catalog.encode(ch.secret_ciphertext, 'base64')) end)), '[]')
    into v_claimed
    from claimed c
    left join app.webhook_events ev on ev.org_id = c.org_id and ev.id = c.event_id
    left join app.webhook_endpoints e on e.org_id = c.org_id and e.id = c.endpoint_id
    left join app.channels ch on ch.org_id = c.org_id and ch.channel = c.kind and ch.status = 'connected'
                             and c.kind in ('email', 'sms', 'whatsapp');
  return v_claimed;
end
$$;
comment on function auth.claim_deliveries(uuid, uuid[], int) is 'Claims those of an organisation''s deliveries that are still due (skipping any another worker holds): counts the attempt, leases each for the given seconds and returns what to perform.';
revoke all on function auth.claim_deliveries(uuid, uuid[], int) from public;
grant execute on function auth.claim_deliveries(uuid, uuid[], int) to favcrm_member;

-- p_outcome: {result: sent|failed|refused, startedAt, responseStatus?, error?, providerRef?,
-- retryInSeconds (failed), maxAttempts}
create function auth.record_delivery(p_org uuid, p_id uuid, p_attempt int, p_outcome jsonb) returns text
language plpgsql volatile set search_path = '' as $$
declare
  d app.deliveries;
  v_result text := p_outcome ->> 'result';
  v_status text;
begin
  perform auth.act_for_system(p_org, 'outbox', 'deliver');
  insert into app.delivery_attempts (org_id, delivery_id, attempt, started_at, outcome, response_status, error)
  values (p_org, p_id, p_attempt, (p_outcome ->> 'startedAt')::timestamptz, v_result,
          (p_outcome ->> 'responseStatus')::int, pg_catalog.left(p_outcome ->> 'error', 1000))
  on conflict do nothing;
  select * into d from app.deliveries where org_id = p_org and id = p_id for update;
  if not found or d.status <> 'sending' or d.attempts <> p_attempt then
    return 'superseded';
  end if;
  v_status := case
    when v_result = 'sent' then 'sent'
    when v_result = 'refused' then 'dead'
    when d.attempts - d.attempts_at_retry >= coalesce((p_outcome ->> 'maxAttempts')::int, 8) then 'dead'
    else 'pending' end;
  update app.deliveries
     set status = v_status,
         lease_until = null,
         next_attempt_at = case when v_status = 'pending'
                                then pg_catalog.now() + pg_catalog.make_interval(secs => coalesce((p_outcome ->> 'retryInSeconds')::double precision, 0))
                                else next_attempt_at end,
         last_error = case when v_result = 'sent' then null else pg_catalog.left(p_outcome ->> 'error', 1000) end,
         provider_ref = coalesce(p_outcome ->> 'providerRef', provider_ref),
         sent_at = case when v_result = 'sent' then pg_catalog.now() else sent_at end,
         -- A mail's body may hold a link or token: once sent, only its subject is kept.
         payload = case when v_result = 'sent' and d.kind = 'email'
                        then pg_catalog.jsonb_build_object('subject', payload ->> 'subject', 'template', payload ->> 'template')
                        else payload end,
         updated_at = pg_catalog.now()
   where org_id = d.org_id and id = d.id;
  if d.message_id is not null and v_status in ('sent', 'dead') then
    perform app.advance_message(d.message_id, case v_status when 'sent' then 'sent' else 'failed' end,
                                p_outcome ->> 'providerRef', pg_catalog.left(p_outcome ->> 'error', 1000));
  end if;
  return v_status;
end
$$;
comment on function auth.record_delivery(uuid, uuid, int, jsonb) is 'Records what an attempt of a delivery came to: sent, retried later, or dead (refused, or out of attempts). An outcome for an attempt that is no longer the current one changes nothing but the attempt log. Returns the delivery''s status (or superseded).';
revoke all on function auth.record_delivery(uuid, uuid, int, jsonb) from public;
grant execute on function auth.record_delivery(uuid, uuid, int, jsonb) to favcrm_member;

create function auth.record_deliveries(p_org uuid, p_outcomes jsonb) returns jsonb
language plpgsql volatile set search_path = '' as $$
begin
  return (select coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(
                   auth.record_delivery(p_org, (o ->> 'id')::uuid, (o ->> 'attempt')::int, o -> 'outcome')) order by n), '[]')
            from pg_catalog.jsonb_array_elements(p_outcomes) with ordinality as x(o, n));
end
$$;
comment on function auth.record_deliveries(uuid, jsonb) is 'Records a batch of attempts of an organisation''s deliveries ([{id, attempt, outcome}], as auth.record_delivery), in one transaction; their statuses, in order.';
revoke all on function auth.record_deliveries(uuid, jsonb) from public;
grant execute on function auth.record_deliveries(uuid, jsonb) to favcrm_member;

-- Account mail (registration and invitation codes): a global table no runtime role reaches.
create function auth.claim_account_mail(p_limit int, p_lease_seconds int) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_claimed jsonb;
begin
  with claimable as (
    select m.id from app.account_mail m
     where (m.status = 'pending' and m.next_attempt_at <= pg_catalog.now())
        or (m.status = 'sending' and m.lease_until < pg_catalog.now())
     order by m.next_attempt_at
     limit p_limit
     for update skip locked),
  claimed as (
    update app.account_mail m
       set status = 'sending', attempts = m.attempts + 1,
           lease_until = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds)
      from claimable c
     where m.id = c.id
    returning m.*)
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', c.id, 'attempt', c.attempts, 'template', c.template, 'to', c.recipient, 'fields', c.fields,
           'sealedCode', pg_catalog.encode(c.sealed_code, 'base64'))), '[]')
    into v_claimed
    from claimed c;
  return v_claimed;
end
$$;
comment on function auth.claim_account_mail(int, int) is 'Claims due account mail (skipping any another worker holds), leases it and returns what to send (the code still sealed).';
revoke all on function auth.claim_account_mail(int, int) from public;
grant execute on function auth.claim_account_mail(int, int) to favcrm_authenticator;

create function auth.record_account_mail(p_id uuid, p_attempt int, p_outcome jsonb) returns text
language plpgsql volatile security definer set search_path = '' as $$
declare
  m app.account_mail;
  v_result text := p_outcome ->> 'result';
  v_status text;
begin
  select * into m from app.account_mail where id = p_id for update;
  if not found or m.status <> 'sending' or m.attempts <> p_attempt then
    return 'superseded';
  end if;
  v_status := case
    when v_result = 'sent' then 'sent'
    when v_result = 'refused' or m.attempts >= coalesce((p_outcome ->> 'maxAttempts')::int, 8) then 'dead'
    else 'pending' end;
  update app.account_mail
     set status = v_status,
         lease_until = null,
         sealed_code = case when v_status = 'sent' then null else sealed_code end,
         sent_at = case when v_status = 'sent' then pg_catalog.now() end,
         last_error = case when v_result = 'sent' then null else pg_catalog.left(p_outcome ->> 'error', 1000) end,
         next_attempt_at = case when v_status = 'pending'
                                then pg_catalog.now() + pg_catalog.make_interval(secs => coalesce((p_outcome ->> 'retryInSeconds')::double precision, 0))
                                else next_attempt_at end
   where id = m.id;
  return v_status;
end
$$;
comment on function auth.record_account_mail(uuid, int, jsonb) is 'Records what an attempt of an account mail came to; once sent, its sealed code is forgotten.';
revoke all on function auth.record_account_mail(uuid, int, jsonb) from public;
grant execute on function auth.record_account_mail(uuid, int, jsonb) to favcrm_authenticator;

-- Called by the registration and invitation entry points (SECURITY DEFINER, as the owner role).
create function auth.queue_account_mail(p_mail jsonb, p_template text, p_to text, p_fields jsonb) returns void
language plpgsql volatile set search_path = '' as $$
begin
  if p_mail ->> 'id' is null then
    raise exception using errcode = '22023', hint = 'invalid_request', message = 'The server gave no mail to queue.';
  end if;
  insert into app.account_mail (id, template, recipient, fields, sealed_code)
  values ((p_mail ->> 'id')::uuid, p_template, p_to, p_fields,
          case when p_template not in ('signup_notice', 'sign_in_notice') then pg_catalog.decode(p_mail ->> 'sealedCode', 'base64') end);
end
$$;
comment on function auth.queue_account_mail(jsonb, text, text, jsonb) is 'Writes an account mail (its code sealed by the server, kept only for templates that show a code) in the entry point''s transaction.';
revoke all on function auth.queue_account_mail(jsonb, text, text, jsonb) from public;
