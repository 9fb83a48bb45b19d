-- Messaging: channels, templates, messages to and from customers, consent and quiet hours.
--
-- The rules, once:
--   * A message is rendered when it is written (template and variables, or free text), and
--     what was rendered is what is sent and kept. It goes out through a delivery of the outbox
--     written in the same transaction (sql/operations/outbox.sql).
--   * Variables come from a fixed set (app.message_variables): the customer's name and contact,
--     the organisation's name, a booking's date, time, service and staff (in the organisation's
--     time zone) and an invoice's number, amounts, due date and payment link. A template naming
--     any other is refused when it is made; a message whose booking or invoice is not given
--     cannot be rendered (missing_variable).
--   * Consent: a marketing message needs the customer's marketing consent on that channel
--     (customers.marketing_consent); a transactional one (a confirmation, a reminder, a
--     receipt) goes out when the organisation's settings allow transactional messages (the
--     default). A customer who answers STOP (or UNSUBSCRIBE, CANCEL, END, QUIT, STOPALL) to a
--     text or WhatsApp message withdraws their consent on that channel; START gives it back.
--   * Quiet hours (the organisation's, in its time zone, 21:00 to 09:00 unless set otherwise):
--     a marketing message written during them waits until they end (status scheduled, its
--     delivery due then). Transactional messages are not held.
--   * WhatsApp free text can be sent only within 24 hours of the customer's last message to the
--     organisation on WhatsApp; outside that window only a template approved at Meta can be
--     (whatsapp_window_closed).
--   * Email goes out through the organisation's own SMTP server when its email channel names
--     one, else through the server's mail; texts need a connected sms channel (Twilio),
--     WhatsApp a connected whatsapp channel (the Business Cloud API).
--   * Statuses only move forward: queued → sent → delivered → read, or failed; a provider's
--     late or repeated callback never moves a message back.

-- ---------------------------------------------------------------------------------------
-- Settings
-- ---------------------------------------------------------------------------------------
create function app.messaging_settings() returns app.messaging_settings
language sql stable set search_path = '' as $$
  select coalesce(
    (select s from app.messaging_settings s where s.org_id = auth.org_id()),
    row(auth.org_id(), null, '21:00'::time, '09:00'::time, true, null)::app.messaging_settings)
$$;
comment on function app.messaging_settings() is 'The caller''s organisation''s messaging settings, or the defaults (quiet hours 21:00 to 09:00, transactional messages allowed).';
grant execute on function app.messaging_settings() to favcrm_member;

create function app.messaging_settings_json(s app.messaging_settings) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'quietHours', case when s.quiet_hours_start is not null then pg_catalog.jsonb_build_object(
                    'start', pg_catalog.to_char(s.quiet_hours_start, 'HH24:MI'),
                    'end', pg_catalog.to_char(s.quiet_hours_end, 'HH24:MI')) end,
    'transactionalAllowed', s.transactional_allowed,
    'updatedAt', app.ts(s.updated_at))
$$;
comment on function app.messaging_settings_json(app.messaging_settings) is 'The API representation of the messaging settings.';
grant execute on function app.messaging_settings_json(app.messaging_settings) to favcrm_member;

create function api.get_messaging_settings(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('messaging:read');
  return app.messaging_settings_json(app.messaging_settings())
    || pg_catalog.jsonb_build_object('timezone', (select o.timezone from app.organisations o where o.id = auth.org_id()));
end
$$;
comment on function api.get_messaging_settings(jsonb) is 'Quiet hours (in the organisation''s time zone) and whether transactional messages go out without marketing consent.';
grant execute on function api.get_messaging_settings(jsonb) to favcrm_member;

create function api.update_messaging_settings(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  s app.messaging_settings := app.messaging_settings();
begin
  perform auth.require_scope('messaging:write');
  if auth.role_rank(auth.role()) < auth.role_rank('admin') then
    raise exception using errcode = '42501', hint = 'forbidden', message = 'Only admins and owners change the messaging settings.';
  end if;
  if p ? 'quietHours' then
    if p -> 'quietHours' = 'null'::jsonb then
      s.quiet_hours_start := null;
      s.quiet_hours_end := null;
    else
      s.quiet_hours_start := (p #>> '{quietHours,start}')::time;
      s.quiet_hours_end := (p #>> '{quietHours,end}')::time;
      if s.quiet_hours_start = s.quiet_hours_end then
        perform app.raise_invalid('quietHours', 'empty_window', 'Quiet hours must start and end at different times (null: none).');
      end if;
    end if;
  end if;
  s.transactional_allowed := coalesce((p ->> 'transactionalAllowed')::boolean, s.transactional_allowed);
  insert into app.messaging_settings (org_id, quiet_hours_start, quiet_hours_end, transactional_allowed)
  values (auth.org_id(), s.quiet_hours_start, s.quiet_hours_end, s.transactional_allowed)
  on conflict (org_id) do update
     set quiet_hours_start = excluded.quiet_hours_start, quiet_hours_end = excluded.quiet_hours_end,
         transactional_allowed = excluded.transactional_allowed, updated_at = pg_catalog.now()
   where (app.messaging_settings.quiet_hours_start, app.messaging_settings.quiet_hours_end,
          app.messaging_settings.transactional_allowed)
         is distinct from (excluded.quiet_hours_start, excluded.quiet_hours_end, excluded.transactional_allowed);
  return app.messaging_settings_json(app.messaging_settings())
    || pg_catalog.jsonb_build_object('timezone', (select o.timezone from app.organisations o where o.id = auth.org_id()));
end
$$;
comment on function api.update_messaging_settings(jsonb) is 'Sets quiet hours (start and end, wall-clock times in the organisation''s zone; null for none) and whether transactional messages are allowed.';
grant execute on function api.update_messaging_settings(jsonb) to favcrm_member;

-- When a marketing message written at p_at may go out: p_at, or the end of the quiet hours it
-- falls in (in the organisation's zone, DST-correct: the wall-clock end on that date).
create function app.after_quiet_hours(p_at timestamptz) returns timestamptz
language plpgsql stable set search_path = '' as $$
declare
  s app.messaging_settings := app.messaging_settings();
  v_tz text := (select o.timezone from app.organisations o where o.id = auth.org_id());
  v_local timestamp := p_at at time zone v_tz;
  v_time time := v_local::time;
  v_end timestamp;
begin
  if s.quiet_hours_start is null then
    return p_at;
  end if;
  if s.quiet_hours_start < s.quiet_hours_end then
    -- Within one day (01:00 to 06:00).
    if v_time >= s.quiet_hours_start and v_time < s.quiet_hours_end then
      v_end := v_local::date + s.quiet_hours_end;
    end if;
  elsif v_time >= s.quiet_hours_start then
    -- Over midnight (21:00 to 09:00), before midnight: the end is tomorrow.
    v_end := (v_local::date + 1) + s.quiet_hours_end;
  elsif v_time < s.quiet_hours_end then
    v_end := v_local::date + s.quiet_hours_end;
  end if;
  return coalesce(v_end at time zone v_tz, p_at);
end
$$;
comment on function app.after_quiet_hours(timestamptz) is 'The time itself, or the end of the organisation''s quiet hours when the time falls in them.';
grant execute on function app.after_quiet_hours(timestamptz) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Channels
-- ---------------------------------------------------------------------------------------
create function app.channel_json(c app.channels) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', c.id,
    'channel', c.channel,
    'provider', c.provider,
    'status', c.status,
    'settings', c.settings,
    'secretHint', c.secret_hint,
    'connectedAt', app.ts(c.connected_at),
    'updatedAt', app.ts(c.updated_at),
    'disconnectedAt', app.ts(c.disconnected_at))
$$;
comment on function app.channel_json(app.channels) is 'The API representation of a channel: provider settings and a hint of its secret, never the secret.';
grant execute on function app.channel_json(app.channels) to favcrm_member;

create function app.require_channels_role(p_scope text, p_role text) returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope(p_scope);
  if auth.role_rank(auth.role()) < auth.role_rank(p_role) then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = pg_catalog.format('Only %s connect and see channels.', case p_role when 'owner' then 'owners' else 'admins and owners' end);
  end if;
end
$$;
comment on function app.require_channels_role(text, text) is 'Raises 42501 unless the caller holds the scope and the role (owners connect channels; admins see them).';
grant execute on function app.require_channels_role(text, text) to favcrm_member;

-- The call path has already sealed the secrets (secretCiphertext, webhookSecretCiphertext, with
-- their digests and a hint) and removed them from the input.
create function api.connect_channel(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_channel text := p ->> 'channel';
  v_settings jsonb;
  c app.channels;
begin
  perform app.require_channels_role('messaging:write', 'owner');
  if v_channel = 'email' then
    if p ->> 'fromAddress' is null then
      perform app.raise_invalid('fromAddress', 'required', 'An email channel needs fromAddress.');
    end if;
    v_settings := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
      'fromAddress', pg_catalog.lower(p ->> 'fromAddress'), 'fromName', p ->> 'fromName', 'replyTo', p ->> 'replyTo',
      'ownSmtp', p ? 'secretCiphertext'));
  elsif v_channel = 'sms' then
    if p ->> 'accountSid' is null or p ->> 'secretCiphertext' is null then
      perform app.raise_invalid(case when p ->> 'accountSid' is null then 'accountSid' else 'authToken' end, 'required',
        'An sms channel (Twilio) needs accountSid and authToken, and fromNumber or messagingServiceSid.');
    end if;
    if coalesce(p ->> 'fromNumber', p ->> 'messagingServiceSid') is null then
      perform app.raise_invalid('fromNumber', 'required', 'Give the Twilio number to send from (fromNumber, E.164) or a messagingServiceSid.');
    end if;
    v_settings := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
      'accountSid', p ->> 'accountSid', 'fromNumber', p ->> 'fromNumber', 'messagingServiceSid', p ->> 'messagingServiceSid'));
  elsif v_channel = 'whatsapp' then
    if p ->> 'phoneNumberId' is null or p ->> 'secretCiphertext' is null or p ->> 'webhookSecretCiphertext' is null
       or p ->> 'verifyToken' is null then
      perform app.raise_invalid(case when p ->> 'phoneNumberId' is null then 'phoneNumberId'
                                     when p ->> 'secretCiphertext' is null then 'accessToken'
                                     when p ->> 'webhookSecretCiphertext' is null then 'appSecret' else 'verifyToken' end,
        'required', 'A whatsapp channel needs phoneNumberId, accessToken, appSecret (which signs Meta''s webhook calls) and verifyToken (the text you also enter at Meta for the webhook).');
    end if;
    v_settings := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
      'phoneNumberId', p ->> 'phoneNumberId', 'businessAccountId', p ->> 'businessAccountId'));
  end if;
  -- The same settings and secrets again change nothing (connect_channel is idempotent).
  select * into c from app.channels
   where org_id = auth.org_id() and channel = v_channel and status = 'connected'
     and settings = v_settings
     and secret_digest is not distinct from pg_catalog.decode(p ->> 'secretDigest', 'hex')
     and webhook_secret_digest is not distinct from pg_catalog.decode(p ->> 'webhookSecretDigest', 'hex')
     and verify_token_digest is not distinct from
         case when p ? 'verifyToken' then ext.digest(pg_catalog.convert_to(p ->> 'verifyToken', 'UTF8'), 'sha256') end;
  if found then
    return app.channel_status_json(c);
  end if;
  update app.channels set status = 'disconnected', disconnected_at = pg_catalog.now(), updated_at = pg_catalog.now(),
                          secret_ciphertext = null, webhook_secret_ciphertext = null
   where org_id = auth.org_id() and channel = v_channel and status = 'connected';
  insert into app.channels (org_id, channel, provider, settings, secret_ciphertext, secret_digest, secret_hint,
                            webhook_secret_ciphertext, webhook_secret_digest, verify_token_digest, connected_by_user_id)
  values (auth.org_id(), v_channel,
          case v_channel when 'email' then 'smtp' when 'sms' then 'twilio' else 'whatsapp_cloud' end,
          v_settings, pg_catalog.decode(p ->> 'secretCiphertext', 'base64'), pg_catalog.decode(p ->> 'secretDigest', 'hex'),
          p ->> 'secretHint', pg_catalog.decode(p ->> 'webhookSecretCiphertext', 'base64'),
          pg_catalog.decode(p ->> 'webhookSecretDigest', 'hex'),
          case when p ? 'verifyToken' then ext.digest(pg_catalog.convert_to(p ->> 'verifyToken', 'UTF8'), 'sha256') end,
          auth.user_id())
  returning * into c;
  return app.channel_status_json(c);
end
$$;
comment on function api.connect_channel(jsonb) is 'Connects (or reconnects, replacing) a channel with its provider settings and sealed credentials.';
grant execute on function api.connect_channel(jsonb) to favcrm_member;

-- What to set up at the provider, beside the channel: where its callbacks go.
create function app.channel_status_json(c app.channels) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_counts jsonb;
begin
  select pg_catalog.jsonb_build_object(
           'sent', pg_catalog.count(*) filter (where m.status in ('sent', 'delivered', 'read')),
           'delivered', pg_catalog.count(*) filter (where m.status in ('delivered', 'read')),
           'failed', pg_catalog.count(*) filter (where m.status = 'failed'),
           'waiting', pg_catalog.count(*) filter (where m.status in ('scheduled', 'queued')))
    into v_counts
    from app.messages m
   where m.org_id = c.org_id and m.channel = c.channel and m.direction = 'outbound'
     and m.created_at > pg_catalog.now() - interval '7 days';
  return app.channel_json(c) || pg_catalog.jsonb_build_object(
    'callbackPaths', case c.channel
      when 'sms' then pg_catalog.jsonb_build_object('statusAndInbound', '/v1/webhooks/twilio/' || c.org_id)
      when 'whatsapp' then pg_catalog.jsonb_build_object('webhook', '/v1/webhooks/whatsapp/' || c.org_id)
      else '{}'::jsonb end,
    'lastSevenDays', v_counts,
    'lastError', (select m.error from app.messages m
                   where m.org_id = c.org_id and m.channel = c.channel and m.status = 'failed'
                   order by m.id desc limit 1));
end
$$;
comment on function app.channel_status_json(app.channels) is 'A channel with the callback paths to give the provider and its messages of the last seven days (sent, delivered, failed, waiting) and last error.';
grant execute on function app.channel_status_json(app.channels) to favcrm_member;

create function api.get_channel_status(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform app.require_channels_role('messaging:read', 'admin');
  return pg_catalog.jsonb_build_object('channels', coalesce(
    (select pg_catalog.jsonb_agg(app.channel_status_json(c) order by c.channel)
       from app.channels c
      where c.org_id = auth.org_id() and c.status = 'connected'
        and (p ->> 'channel' is null or c.channel = p ->> 'channel')), '[]'),
    'emailWithoutChannel', not exists (select from app.channels c where c.org_id = auth.org_id()
                                          and c.channel = 'email' and c.status = 'connected'));
end
$$;
comment on function api.get_channel_status(jsonb) is 'The connected channels with their settings, callback paths and recent delivery counts (never a secret); email works through the server''s mail without a channel.';
grant execute on function api.get_channel_status(jsonb) to favcrm_member;

create function api.preview_disconnect_channel(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  c app.channels;
begin
  perform app.require_channels_role('messaging:write', 'owner');
  select * into c from app.channels where org_id = auth.org_id() and channel = p ->> 'channel' and status = 'connected';
  if not found then
    perform app.not_found('connected channel', 'channel');
  end if;
  return pg_catalog.jsonb_build_object('target', app.channel_json(c), 'effect', pg_catalog.jsonb_build_object(
    'messagesWaiting', (select pg_catalog.count(*) from app.messages m
                         where m.org_id = c.org_id and m.channel = c.channel and m.status in ('scheduled', 'queued'))));
end
$$;
comment on function api.preview_disconnect_channel(jsonb) is 'What disconnect_channel would do: the channel, and how many messages wait to go out on it (they fail unless it is connected again in time).';
grant execute on function api.preview_disconnect_channel(jsonb) to favcrm_member;

create function api.disconnect_channel(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  c app.channels;
begin
  perform app.require_channels_role('messaging:write', 'owner');
  select * into c from app.channels where org_id = auth.org_id() and channel = p ->> 'channel' and status = 'connected'
     for update;
  if not found then
    perform app.not_found('connected channel', 'channel');
  end if;
  perform auth.require_confirmation('disconnect_channel');
  -- The credentials are forgotten with the connection.
  update app.channels
     set status = 'disconnected', disconnected_at = pg_catalog.now(), updated_at = pg_catalog.now(),
         secret_ciphertext = null, webhook_secret_ciphertext = null
   where org_id = c.org_id and id = c.id
  returning * into c;
  return app.channel_json(c);
end
$$;
comment on function api.disconnect_channel(jsonb) is 'Disconnects a channel and forgets its credentials; messages waiting on it fail unless it is connected again before their attempts run out.';
grant execute on function api.disconnect_channel(jsonb) to favcrm_member;

-- Whether a channel is connected, for any member's message (channels themselves are for admins).
create function auth.channel_connected(p_channel text) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (select from app.channels c
                  where c.org_id = auth.org_id() and c.channel = p_channel and c.status = 'connected')
$$;
comment on function auth.channel_connected(text) is 'Whether the claimed organisation has the channel connected.';
revoke all on function auth.channel_connected(text) from public;
grant execute on function auth.channel_connected(text) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Templates and rendering
-- ---------------------------------------------------------------------------------------
create function app.message_variables() returns text[]
language sql immutable parallel safe as $$
  select array['booking.date', 'booking.end_time', 'booking.service', 'booking.staff', 'booking.start', 'booking.time',
               'customer.email', 'customer.first_name', 'customer.name', 'customer.phone',
               'invoice.amount_due', 'invoice.due_date', 'invoice.link', 'invoice.number', 'invoice.total',
               'organisation.name']
$$;
comment on function app.message_variables() is 'The variables templates may use, written {{customer.first_name}}.';
grant execute on function app.message_variables() to favcrm_member;

-- The variables a text uses, in order of first use; raises unknown_variable for one not in the set.
create function app.text_variables(p_text text, p_field text) returns text[]
language plpgsql immutable set search_path = '' as $$
declare
  v_names text[] := array(select m[1] from pg_catalog.regexp_matches(coalesce(p_text, ''), '\{\{\s*([^{}]*?)\s*\}\}', 'g') m);
  v_name text;
  v_result text[] := '{}';
begin
  foreach v_name in array v_names loop
    if v_name <> all (app.message_variables()) then
      perform app.raise_invalid(p_field, 'unknown_variable',
        pg_catalog.format('{{%s}} is not a variable. Variables: %s.', v_name,
                          pg_catalog.array_to_string(app.message_variables(), ', ')));
    end if;
    if v_name <> all (v_result) then
      v_result := v_result || v_name;
    end if;
  end loop;
  return v_result;
end
$$;
comment on function app.text_variables(text, text) is 'The variables ({{name}}) a text uses, in order of first use; raises 22023 unknown_variable for one outside app.message_variables.';
grant execute on function app.text_variables(text, text) to favcrm_member;

create function app.render_text(p_text text, p_values jsonb) returns text
language plpgsql immutable set search_path = '' as $$
declare
  v_result text := p_text;
  v_name text;
begin
  foreach v_name in array app.text_variables(p_text, 'body') loop
    if p_values ->> v_name is null then
      perform app.raise_invalid(case pg_catalog.split_part(v_name, '.', 1) when 'booking' then 'bookingId'
                                     when 'invoice' then 'invoiceId' else 'customerId' end,
        'missing_variable', pg_catalog.format('{{%s}} has no value for this message: give the %s it is about.', v_name,
                                              pg_catalog.split_part(v_name, '.', 1)));
    end if;
    v_result := pg_catalog.regexp_replace(v_result, '\{\{\s*' || pg_catalog.replace(v_name, '.', '\.') || '\s*\}\}',
                                          pg_catalog.replace(p_values ->> v_name, '\', '\\'), 'g');
  end loop;
  return v_result;
end
$$;
comment on function app.render_text(text, jsonb) is 'A text with its variables replaced by their values; raises 22023 missing_variable when one has none.';
grant execute on function app.render_text(text, jsonb) to favcrm_member;

-- The values of the variables for a customer, and a booking and an invoice when given.
create function app.message_values(p_customer uuid, p_booking uuid, p_invoice uuid) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  o app.organisations;
  c app.customers;
  b app.bookings;
  i app.invoices;
  v jsonb;
  v_exp int;
begin
  select * into o from app.organisations where id = auth.org_id();
  select * into c from app.customers where org_id = auth.org_id() and id = p_customer;
  v := pg_catalog.jsonb_build_object(
    'organisation.name', o.name,
    'customer.name', c.name,
    'customer.first_name', pg_catalog.split_part(pg_catalog.btrim(c.name), ' ', 1),
    'customer.email', c.email,
    'customer.phone', c.phone);
  if p_booking is not null then
    select * into b from app.bookings where org_id = auth.org_id() and id = p_booking;
    if not found or b.customer_id is distinct from p_customer then
      perform app.not_found('booking of this customer', 'bookingId');
    end if;
    v := v || pg_catalog.jsonb_build_object(
      'booking.date', pg_catalog.to_char(b.starts_at at time zone o.timezone, 'FMDay FMDD FMMonth YYYY'),
      'booking.time', pg_catalog.to_char(b.starts_at at time zone o.timezone, 'HH24:MI'),
      'booking.end_time', pg_catalog.to_char(b.ends_at at time zone o.timezone, 'HH24:MI'),
      'booking.start', pg_catalog.to_char(b.starts_at at time zone o.timezone, 'FMDay FMDD FMMonth YYYY "at" HH24:MI'),
      'booking.service', (select sv.name from app.services sv where sv.org_id = b.org_id and sv.id = b.service_id),
      'booking.staff', (select st.name from app.staff st where st.org_id = b.org_id and st.id = b.staff_id));
  end if;
  if p_invoice is not null then
    select * into i from app.invoices where org_id = auth.org_id() and id = p_invoice;
    if not found or i.customer_id is distinct from p_customer then
      perform app.not_found('invoice of this customer', 'invoiceId');
    end if;
    v_exp := app.currency_exponent(i.currency);
    v := v || pg_catalog.jsonb_build_object(
      'invoice.number', i.number,
      'invoice.total', app.format_money(i.total_amount, i.currency),
      'invoice.amount_due', app.format_money(app.invoice_amount_due(i), i.currency),
      'invoice.due_date', pg_catalog.to_char(i.due_date, 'FMDD FMMonth YYYY'),
      'invoice.link', (select pl.url from app.payment_links pl
                        where pl.org_id = i.org_id and pl.invoice_id = i.id and pl.status = 'open'
                        order by pl.id desc limit 1));
  end if;
  return pg_catalog.jsonb_strip_nulls(v);
end
$$;
comment on function app.message_values(uuid, uuid, uuid) is 'The values of the message variables for a customer (and a booking and an invoice of theirs): dates and times in the organisation''s zone, amounts with their currency.';
grant execute on function app.message_values(uuid, uuid, uuid) to favcrm_member;

create function app.format_money(p_amount bigint, p_currency text) returns text
language sql stable parallel safe as $$
  select pg_catalog.to_char(p_amount::numeric / (10::numeric ^ app.currency_exponent(p_currency)),
                            'FM999,999,999,990' || case when app.currency_exponent(p_currency) > 0
                                                        then '.' || pg_catalog.repeat('0', app.currency_exponent(p_currency)) else '' end)
         || ' ' || p_currency
$$;
comment on function app.format_money(bigint, text) is 'An amount in minor units as people read it: 1,234.50 GBP (the currency''s own number of decimals).';
grant execute on function app.format_money(bigint, text) to favcrm_member;

create function app.template_json(t app.message_templates) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', t.id,
    'name', t.name,
    'channel', t.channel,
    'locale', t.locale,
    'purpose', t.purpose,
    'subject', t.subject,
    'body', t.body,
    'variables', pg_catalog.to_jsonb(t.variables),
    'whatsappTemplateName', t.whatsapp_template_name,
    'whatsappLanguage', t.whatsapp_language,
    'createdAt', app.ts(t.created_at),
    'updatedAt', app.ts(t.updated_at),
    'archivedAt', app.ts(t.archived_at))
$$;
comment on function app.template_json(app.message_templates) is 'The API representation of a message template.';
grant execute on function app.template_json(app.message_templates) to favcrm_member;

create function app.require_messaging_manager(p_action text) returns void
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('messaging:write');
  if auth.role_rank(auth.role()) < auth.role_rank('manager') then
    raise exception using errcode = '42501', hint = 'forbidden',
      message = pg_catalog.format('Only managers and above %s.', p_action);
  end if;
end
$$;
comment on function app.require_messaging_manager(text) is 'Raises 42501 unless the caller holds messaging:write and is a manager or above.';
grant execute on function app.require_messaging_manager(text) to favcrm_member;

create function api.create_template(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  t app.message_templates;
  v_channel text := p ->> 'channel';
  v_vars text[];
begin
  perform app.require_messaging_manager('make templates');
  if v_channel = 'email' and p ->> 'subject' is null then
    perform app.raise_invalid('subject', 'required', 'An email template needs a subject.');
  end if;
  if v_channel <> 'email' and p ? 'subject' then
    perform app.raise_invalid('subject', 'not_allowed', 'Only email templates have a subject.');
  end if;
  if v_channel <> 'whatsapp' and p ? 'whatsappTemplateName' then
    perform app.raise_invalid('whatsappTemplateName', 'not_allowed', 'Only WhatsApp templates name a template approved at Meta.');
  end if;
  v_vars := app.text_variables(p ->> 'subject', 'subject');
  v_vars := v_vars || array(select v from pg_catalog.unnest(app.text_variables(p ->> 'body', 'body')) v where v <> all (v_vars));
  insert into app.message_templates (org_id, name, channel, locale, purpose, subject, body, variables,
                                     whatsapp_template_name, whatsapp_language)
  values (auth.org_id(), pg_catalog.btrim(p ->> 'name'), v_channel, coalesce(p ->> 'locale', 'en'), p ->> 'purpose',
          p ->> 'subject', p ->> 'body', v_vars, p ->> 'whatsappTemplateName',
          case when p ? 'whatsappTemplateName' then coalesce(p ->> 'whatsappLanguage', pg_catalog.replace(coalesce(p ->> 'locale', 'en'), '-', '_')) end)
  returning * into t;
  return app.template_json(t);
exception when unique_violation then
  raise exception using errcode = '23505', hint = 'template_exists', column = 'name',
    message = pg_catalog.format('A %s template named %s in %s already exists.', v_channel, p ->> 'name', coalesce(p ->> 'locale', 'en'));
end
$$;
comment on function api.create_template(jsonb) is 'Makes a message template for a channel and locale; its variables must come from the documented set.';
grant execute on function api.create_template(jsonb) to favcrm_member;

create function api.list_templates(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
begin
  perform auth.require_scope('messaging:read');
  return (
    select app.page_json(pg_catalog.json_agg(app.template_json(x.t) order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select t.id, t, pg_catalog.row_number() over (order by t.id desc) n
              from app.message_templates t
             where t.org_id = auth.org_id() and t.archived_at is null
               and (p ->> 'channel' is null or t.channel = p ->> 'channel')
               and (p ->> 'purpose' is null or t.purpose = p ->> 'purpose')
               and (v_after is null or t.id < v_after)
             order by t.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_templates(jsonb) is 'The organisation''s message templates, newest first, by channel or purpose.';
grant execute on function api.list_templates(jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Messages
-- ---------------------------------------------------------------------------------------
create function app.message_json(m app.messages) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', m.id,
    'customerId', m.customer_id,
    'channel', m.channel,
    'direction', m.direction,
    'purpose', m.purpose,
    'source', m.source,
    'templateId', m.template_id,
    'recipient', m.recipient,
    'subject', m.subject,
    'body', m.body,
    'status', m.status,
    'sendAfter', app.ts(m.send_after),
    'providerMessageId', m.provider_message_id,
    'error', m.error,
    'bookingId', m.booking_id,
    'ruleId', m.rule_id,
    'campaignId', m.campaign_id,
    'deliveryId', (select d.id from app.deliveries d where d.org_id = m.org_id and d.message_id = m.id limit 1),
    'createdAt', app.ts(m.created_at),
    'sentAt', app.ts(m.sent_at),
    'deliveredAt', app.ts(m.delivered_at),
    'readAt', app.ts(m.read_at),
    'failedAt', app.ts(m.failed_at))
$$;
comment on function app.message_json(app.messages) is 'The API representation of a message: what was sent (rendered), to whom, and how far it got.';
grant execute on function app.message_json(app.messages) to favcrm_member;

-- Whether the customer wrote to the organisation on WhatsApp in the last 24 hours.
create function app.whatsapp_window_open(p_customer uuid) returns boolean
language sql stable set search_path = '' as $$
  select exists (select from app.messages m
                  where m.org_id = auth.org_id() and m.customer_id = p_customer and m.channel = 'whatsapp'
                    and m.direction = 'inbound' and m.created_at > pg_catalog.now() - interval '24 hours')
$$;
comment on function app.whatsapp_window_open(uuid) is 'Whether free text may be sent to the customer on WhatsApp (they wrote within 24 hours).';
grant execute on function app.whatsapp_window_open(uuid) to favcrm_member;

-- What a message would be: rendered, to whom, whether consent and the channel allow it and
-- when it would go. The same for preview_message (read-only) and send_message.
-- p: {customerId, channel?, templateId? | body + purpose (+ subject for email), bookingId?,
--     invoiceId?, sendAt?}
create function app.compose_message(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  c app.customers;
  t app.message_templates;
  v_channel text := p ->> 'channel';
  v_purpose text := p ->> 'purpose';
  v_values jsonb;
  v_subject text;
  v_body text;
  v_recipient text;
  v_refusals jsonb := '[]';
  v_settings app.messaging_settings := app.messaging_settings();
  v_at timestamptz := coalesce((p ->> 'sendAt')::timestamptz, pg_catalog.now());
  v_after timestamptz;
  v_whatsapp jsonb;
  v_consent boolean;
begin
  if v_at < pg_catalog.now() - interval '1 minute' or v_at > pg_catalog.now() + interval '1 year' then
    perform app.raise_invalid('sendAt', 'out_of_range', 'sendAt must be from now to a year ahead.');
  end if;
  select * into c from app.customers where org_id = auth.org_id() and id = (p ->> 'customerId')::uuid;
  if not found or c.deleted_at is not null then
    perform app.not_found('customer', 'customerId');
  end if;
  if p ? 'templateId' then
    select * into t from app.message_templates
     where org_id = auth.org_id() and id = (p ->> 'templateId')::uuid and archived_at is null;
    if not found then
      perform app.not_found('template', 'templateId');
    end if;
    if v_channel is not null and v_channel <> t.channel then
      perform app.raise_invalid('channel', 'template_channel', pg_catalog.format('The template is for %s.', t.channel));
    end if;
    if p ? 'body' or p ? 'subject' or p ? 'purpose' then
      perform app.raise_invalid(case when p ? 'body' then 'body' when p ? 'subject' then 'subject' else 'purpose' end,
        'not_allowed', 'A message from a template takes its text and purpose from the template.');
    end if;
    v_channel := t.channel;
    v_purpose := t.purpose;
  else
    if p ->> 'body' is null then
      perform app.raise_invalid('body', 'required', 'Give templateId, or the text of the message in body.');
    end if;
    if v_channel is null then
      perform app.raise_invalid('channel', 'required', 'Say which channel: email, sms or whatsapp.');
    end if;
    if v_purpose is null then
      perform app.raise_invalid('purpose', 'required',
        'Say whether the message is transactional (about a booking, an invoice, the customer''s account) or marketing.');
    end if;
    if v_channel = 'email' and p ->> 'subject' is null then
      perform app.raise_invalid('subject', 'required', 'An email needs a subject.');
    end if;
    if v_channel <> 'email' and p ? 'subject' then
      perform app.raise_invalid('subject', 'not_allowed', 'Only an email has a subject.');
    end if;
  end if;
  v_values := app.message_values(c.id, (p ->> 'bookingId')::uuid, (p ->> 'invoiceId')::uuid);
  if t.id is not null then
    v_subject := app.render_text(t.subject, v_values);
    v_body := app.render_text(t.body, v_values);
  else
    v_subject := app.render_text(p ->> 'subject', v_values);
    v_body := app.render_text(p ->> 'body', v_values);
  end if;
  -- Who it goes to.
  v_recipient := case v_channel when 'email' then c.email else c.phone end;
  if v_recipient is null then
    v_refusals := v_refusals || pg_catalog.jsonb_build_object('code', 'no_' || case v_channel when 'email' then 'email' else 'phone' end,
      'detail', pg_catalog.format('The customer has no %s on file.', case v_channel when 'email' then 'email address' else 'phone number' end));
  elsif v_channel <> 'email' and v_recipient !~ '^\+[1-9][0-9]{6,14}$' then
    v_refusals := v_refusals || pg_catalog.jsonb_build_object('code', 'invalid_phone',
      'detail', pg_catalog.format('The customer''s phone %s is not in international form (+447700900123).', v_recipient));
  end if;
  -- Consent.
  v_consent := coalesce((c.marketing_consent -> v_channel ->> 'granted')::boolean, false);
  if v_purpose = 'marketing' and not v_consent then
    v_refusals := v_refusals || pg_catalog.jsonb_build_object('code', 'no_consent',
      'detail', pg_catalog.format('The customer has not consented to marketing by %s.', v_channel));
  elsif v_purpose = 'transactional' and not v_settings.transactional_allowed then
    v_refusals := v_refusals || pg_catalog.jsonb_build_object('code', 'transactional_disabled',
      'detail', 'The organisation''s messaging settings do not allow transactional messages.');
  end if;
  -- The channel.
  if v_channel <> 'email' and not auth.channel_connected(v_channel) then
    v_refusals := v_refusals || pg_catalog.jsonb_build_object('code', 'channel_not_connected',
      'detail', pg_catalog.format('No %s channel is connected (connect_channel).', v_channel));
  end if;
  if v_channel = 'whatsapp' then
    if t.whatsapp_template_name is not null then
      v_whatsapp := pg_catalog.jsonb_build_object('name', t.whatsapp_template_name, 'language', t.whatsapp_language,
        'parameters', pg_catalog.to_jsonb(array(select v_values ->> v from pg_catalog.unnest(t.variables) v)));
    elsif not app.whatsapp_window_open(c.id) then
      v_refusals := v_refusals || pg_catalog.jsonb_build_object('code', 'whatsapp_window_closed',
        'detail', 'The customer has not written on WhatsApp in the last 24 hours: only a template approved at Meta (a template with whatsappTemplateName) can be sent.');
    end if;
  end if;
  v_after := case when v_purpose = 'marketing' then app.after_quiet_hours(v_at) else v_at end;
  -- Sent now: no time to show (a preview answers the same on every call).
  if not p ? 'sendAt' and v_after = v_at then
    v_after := null;
  end if;
  return pg_catalog.jsonb_build_object(
    'customerId', c.id, 'channel', v_channel, 'purpose', v_purpose, 'templateId', t.id,
    'recipient', v_recipient, 'subject', v_subject, 'body', v_body, 'whatsappTemplate', v_whatsapp,
    'bookingId', p ->> 'bookingId', 'sendAfter', app.ts(v_after),
    'heldForQuietHours', coalesce(v_after > v_at, false), 'consent', v_consent,
    'refusals', v_refusals, 'canSend', pg_catalog.jsonb_array_length(v_refusals) = 0);
end
$$;
comment on function app.compose_message(jsonb) is 'A message as it would be sent: rendered, its recipient, when it may go (quiet hours), and what refuses it (no contact, no consent, channel not connected, WhatsApp window closed).';
grant execute on function app.compose_message(jsonb) to favcrm_member;

create function api.preview_message(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('messaging:read');
  return app.compose_message(p);
end
$$;
comment on function api.preview_message(jsonb) is 'Renders a message for a real customer without sending it: the text, recipient, when it would go and what would refuse it.';
grant execute on function api.preview_message(jsonb) to favcrm_member;

-- Writes a composed message and its delivery (due when it may go). Used by send_message and,
-- with their own source, by booking messages and campaigns.
create function app.write_message(p_composed jsonb, p_source text) returns app.messages
language plpgsql set search_path = '' as $$
declare
  m app.messages;
  v_after timestamptz := (p_composed ->> 'sendAfter')::timestamptz;
  v_scheduled boolean := coalesce(v_after > pg_catalog.now(), false);
  v_payload jsonb;
begin
  insert into app.messages (org_id, customer_id, channel, direction, purpose, source, template_id, recipient, subject,
                            body, whatsapp_template, status, send_after, booking_id, rule_id, campaign_id,
                            created_by_user_id, created_by_key_id)
  values (auth.org_id(), (p_composed ->> 'customerId')::uuid, p_composed ->> 'channel', 'outbound',
          p_composed ->> 'purpose', p_source, (p_composed ->> 'templateId')::uuid, p_composed ->> 'recipient',
          p_composed ->> 'subject', p_composed ->> 'body', p_composed -> 'whatsappTemplate',
          case when v_scheduled then 'scheduled' else 'queued' end, case when v_scheduled then v_after end,
          (p_composed ->> 'bookingId')::uuid, (p_composed ->> 'ruleId')::uuid, (p_composed ->> 'campaignId')::uuid,
          auth.user_id(), auth.key_id())
  returning * into m;
  v_payload := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
    'subject', m.subject, 'text', m.body, 'whatsappTemplate', m.whatsapp_template));
  insert into app.deliveries (org_id, kind, recipient, payload, idempotency_key, message_id, next_attempt_at)
  values (m.org_id, m.channel, m.recipient, v_payload, m.id::text, m.id, coalesce(m.send_after, pg_catalog.now()));
  return m;
end
$$;
comment on function app.write_message(jsonb, text) is 'Writes a composed message (with the booking rule or campaign that asked for it, under ruleId or campaignId) and its outbox delivery (due when the message may go).';
grant execute on function app.write_message(jsonb, text) to favcrm_member;

create function api.send_message(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_composed jsonb;
  v_refusal jsonb;
  v_gate jsonb;
begin
  perform app.require_messaging_manager('send messages to customers');
  v_composed := app.compose_message(p);
  v_refusal := v_composed -> 'refusals' -> 0;
  if v_refusal is not null then
    raise exception using errcode = case when v_refusal ->> 'code' in ('no_email', 'no_phone', 'invalid_phone') then '22023' else '55000' end,
      hint = v_refusal ->> 'code', column = case when v_refusal ->> 'code' like 'channel%' or v_refusal ->> 'code' like 'whatsapp%'
                                                 then 'channel' else 'customerId' end,
      message = v_refusal ->> 'detail';
  end if;
  v_gate := app.approval_gate('send_message', v_composed, pg_catalog.format('%s %s to %s (%s): %s',
    pg_catalog.initcap(v_composed ->> 'purpose'), v_composed ->> 'channel',
    (select c.name from app.customers c where c.org_id = auth.org_id() and c.id = (v_composed ->> 'customerId')::uuid),
    v_composed ->> 'recipient', pg_catalog.left(v_composed ->> 'body', 120)));
  if v_gate is not null then
    return v_gate;
  end if;
  return app.message_json(app.write_message(v_composed, 'api'));
end
$$;
comment on function api.send_message(jsonb) is 'Sends a customer a message from a template or as free text, through the outbox: refused without consent for marketing, without a contact or a connected channel, or outside the WhatsApp window; a marketing message in quiet hours waits until they end.';
grant execute on function api.send_message(jsonb) to favcrm_member;

create function api.list_messages(p jsonb) returns json
language plpgsql stable set search_path = '' as $$
declare
  v_limit int := app.page_limit(p);
  v_after uuid := app.decode_cursor(p ->> 'cursor');
  v_customer uuid := (p ->> 'customerId')::uuid;
begin
  perform auth.require_scope('messaging:read');
  if v_customer is not null then
    perform app.require_customer(v_customer);
  end if;
  return (
    select app.page_json(pg_catalog.json_agg(app.message_json(x.m) order by x.n) filter (where x.n <= v_limit),
                         (pg_catalog.array_agg(x.id) filter (where x.n = v_limit))[1],
                         pg_catalog.count(*) > v_limit)
      from (select m.id, m, pg_catalog.row_number() over (order by m.id desc) n
              from app.messages m
             where m.org_id = auth.org_id()
               and (v_customer is null or m.customer_id = v_customer)
               and (p ->> 'status' is null or m.status = p ->> 'status')
               and (p ->> 'channel' is null or m.channel = p ->> 'channel')
               and (p ->> 'direction' is null or m.direction = p ->> 'direction')
               and (v_after is null or m.id < v_after)
             order by m.id desc
             limit v_limit + 1) x);
end
$$;
comment on function api.list_messages(jsonb) is 'Messages to and from customers, newest first, by customer, status, channel or direction.';
grant execute on function api.list_messages(jsonb) to favcrm_member;

create function api.get_message(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  m app.messages;
begin
  perform auth.require_scope('messaging:read');
  select * into m from app.messages where org_id = auth.org_id() and id = (p ->> 'messageId')::uuid;
  if not found then
    perform app.not_found('message', 'messageId');
  end if;
  return app.message_json(m);
end
$$;
comment on function api.get_message(jsonb) is 'One message: its text, recipient, status and the provider''s id.';
grant execute on function api.get_message(jsonb) to favcrm_member;

-- A message's status moves only forward (a late callback never moves it back).
create function app.message_status_rank(p_status text) returns int
language sql immutable parallel safe as $$
  select case p_status when 'scheduled' then 0 when 'queued' then 1 when 'sent' then 2 when 'delivered' then 3
                       when 'read' then 4 when 'failed' then 5 when 'cancelled' then 5 else 0 end
$$;
comment on function app.message_status_rank(text) is 'Orders message statuses: scheduled, queued, sent, delivered, read; failed and cancelled are final.';
grant execute on function app.message_status_rank(text) to favcrm_member;

create function app.advance_message(p_message uuid, p_status text, p_provider_id text, p_error text) returns void
language plpgsql set search_path = '' as $$
begin
  update app.messages m
     set status = p_status,
         provider_message_id = coalesce(p_provider_id, m.provider_message_id),
         error = case when p_status = 'failed' then coalesce(p_error, m.error) else m.error end,
         sent_at = case when p_status in ('sent', 'delivered', 'read') then coalesce(m.sent_at, pg_catalog.now()) else m.sent_at end,
         delivered_at = case when p_status in ('delivered', 'read') then coalesce(m.delivered_at, pg_catalog.now()) else m.delivered_at end,
         read_at = case when p_status = 'read' then coalesce(m.read_at, pg_catalog.now()) else m.read_at end,
         failed_at = case when p_status = 'failed' then pg_catalog.now() else m.failed_at end,
         updated_at = pg_catalog.now()
   where m.org_id = auth.org_id() and m.id = p_message and m.direction = 'outbound'
     and app.message_status_rank(p_status) > app.message_status_rank(m.status)
     and m.status not in ('failed', 'cancelled');
end
$$;
comment on function app.advance_message(uuid, text, text, text) is 'Moves a message''s status forward (never back, never out of failed or cancelled), noting when.';
grant execute on function app.advance_message(uuid, text, text, text) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Providers' callbacks (Twilio's status callbacks and incoming texts, Meta's WhatsApp
-- webhook). The server reads the sealed secret (auth.channel_callback_secret), opens it and
-- checks the signature; then auth.record_channel_event checks it again with the secret the
-- server used (whose SHA-256 must be the stored one) and applies the event. Both act for the
-- organisation as the outbox does (auth.act_for_system, via the channel), after the server
-- switched to the member role, under the same policies as a request.
-- ---------------------------------------------------------------------------------------
create function auth.channel_callback_secret(p_org uuid, p_channel text) returns jsonb
language plpgsql volatile set search_path = '' as $$
begin
  perform auth.act_for_system(p_org, p_channel, 'channel_callback');
  return (select pg_catalog.jsonb_build_object(
                   'sealed', pg_catalog.encode(case c.channel when 'whatsapp' then c.webhook_secret_ciphertext
                                                             else c.secret_ciphertext end, 'base64'),
                   'purpose', case c.channel when 'whatsapp' then 'whatsapp_app_secret' else 'twilio_auth_token' end,
                   'verifyTokenDigest', pg_catalog.encode(c.verify_token_digest, 'hex'))
            from app.channels c where c.org_id = p_org and c.channel = p_channel and c.status = 'connected');
end
$$;
comment on function auth.channel_callback_secret(uuid, text) is 'The sealed secret that signs a connected channel''s callbacks (Twilio: the auth token; WhatsApp: the app secret), for the server to verify a callback with; NULL when the channel is not connected.';
revoke all on function auth.channel_callback_secret(uuid, text) from public;
grant execute on function auth.channel_callback_secret(uuid, text) to favcrm_member;

-- STOP and its kin withdraw consent on the channel; START and its kin give it back.
create function app.consent_keyword(p_text text) returns boolean
language sql immutable parallel safe as $$
  select case when pg_catalog.upper(pg_catalog.btrim(p_text)) in ('STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT') then false
              when pg_catalog.upper(pg_catalog.btrim(p_text)) in ('START', 'UNSTOP', 'YES') then true end
$$;
comment on function app.consent_keyword(text) is 'false for an opt-out keyword (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT), true for an opt-in one (START, UNSTOP, YES), NULL otherwise.';
grant execute on function app.consent_keyword(text) to favcrm_member;

-- A text or WhatsApp message from a customer: recorded, and a keyword applied to their consent.
create function app.receive_message(p_channel text, p_from text, p_body text, p_provider_id text) returns void
language plpgsql set search_path = '' as $$
declare
  v_from text := case when p_from like '+%' then p_from else '+' || p_from end;
  v_customer uuid;
  v_keyword boolean := app.consent_keyword(p_body);
begin
  select c.id into v_customer from app.customers c
   where c.org_id = auth.org_id() and c.phone = v_from and c.deleted_at is null
   order by c.id limit 1;
  insert into app.messages (org_id, customer_id, channel, direction, source, recipient, body, status, provider_message_id)
  values (auth.org_id(), v_customer, p_channel, 'inbound', 'provider', v_from, coalesce(p_body, ''), 'received', p_provider_id)
  on conflict do nothing;
  if v_keyword is not null then
    update app.customers c
       set marketing_consent = c.marketing_consent || pg_catalog.jsonb_build_object(p_channel, pg_catalog.jsonb_build_object(
             'granted', v_keyword, 'at', app.ts(pg_catalog.now()),
             'source', case when v_keyword then 'reply_start' else 'reply_stop' end)),
           updated_at = pg_catalog.now()
     where c.org_id = auth.org_id() and c.phone = v_from and c.deleted_at is null
       and (c.marketing_consent -> p_channel -> 'granted') is distinct from pg_catalog.to_jsonb(v_keyword);
  end if;
end
$$;
comment on function app.receive_message(text, text, text, text) is 'Records a message a customer sent (matched by phone) once, and applies an opt-out or opt-in keyword to their marketing consent on that channel.';
grant execute on function app.receive_message(text, text, text, text) to favcrm_member;

-- p_event: {kind: twilio|whatsapp, url (twilio), params (twilio form), body (whatsapp raw), signature}
create function auth.record_channel_event(p_org uuid, p_channel text, p_secret text, p_event jsonb) returns jsonb
language plpgsql volatile set search_path = '' as $$
declare
  c app.channels;
  v_signed text;
  v_expected text;
  v_payload jsonb;
  v_message uuid;
  v_status text;
  r record;
  v_statuses int := 0;
  v_received int := 0;
begin
  perform auth.act_for_system(p_org, p_channel, 'channel_callback');
  select * into c from app.channels where org_id = p_org and channel = p_channel and status = 'connected';
  if not found then
    raise exception using errcode = 'P0002', hint = 'not_found', message = 'No such channel is connected.';
  end if;
  if p_channel = 'whatsapp' then
    if c.webhook_secret_digest is distinct from ext.digest(pg_catalog.convert_to(p_secret, 'UTF8'), 'sha256') then
      raise exception using errcode = '22023', hint = 'invalid_signature', message = 'The callback is not signed for this channel.';
    end if;
    v_expected := 'sha256=' || pg_catalog.encode(ext.hmac(pg_catalog.convert_to(p_event ->> 'body', 'UTF8'),
                                                          pg_catalog.convert_to(p_secret, 'UTF8'), 'sha256'), 'hex');
  else
    if c.secret_digest is distinct from ext.digest(pg_catalog.convert_to(p_secret, 'UTF8'), 'sha256') then
      raise exception using errcode = '22023', hint = 'invalid_signature', message = 'The callback is not signed for this channel.';
    end if;
    -- Twilio: the URL, then each parameter's name and value, sorted by name.
    v_signed := (p_event ->> 'url') || coalesce((select pg_catalog.string_agg(k || v, '' order by k collate "C")
                                                  from pg_catalog.jsonb_each_text(p_event -> 'params') as x(k, v)), '');
    v_expected := pg_catalog.encode(ext.hmac(pg_catalog.convert_to(v_signed, 'UTF8'), pg_catalog.convert_to(p_secret, 'UTF8'), 'sha1'), 'base64');
  end if;
  if v_expected is distinct from p_event ->> 'signature' then
    raise exception using errcode = '22023', hint = 'invalid_signature', message = 'The callback''s signature does not match.';
  end if;
  if p_channel = 'sms' then
    v_payload := p_event -> 'params';
    if v_payload ? 'MessageStatus' then
      v_status := case v_payload ->> 'MessageStatus' when 'sent' then 'sent' when 'delivered' then 'delivered'
                    when 'read' then 'read' when 'undelivered' then 'failed' when 'failed' then 'failed' end;
      select m.id into v_message from app.messages m
       where m.org_id = p_org and m.channel = 'sms' and m.provider_message_id = v_payload ->> 'MessageSid';
      if v_message is not null and v_status is not null then
        perform app.advance_message(v_message, v_status, null,
          case when v_status = 'failed' then 'Twilio error ' || coalesce(v_payload ->> 'ErrorCode', '?') end);
        v_statuses := 1;
      end if;
    elsif v_payload ? 'Body' then
      perform app.receive_message('sms', v_payload ->> 'From', v_payload ->> 'Body', v_payload ->> 'MessageSid');
      v_received := 1;
    end if;
  else
    v_payload := (p_event ->> 'body')::jsonb;
    for r in select ch -> 'value' as value
               from pg_catalog.jsonb_array_elements(coalesce(v_payload -> 'entry', '[]')) e,
                    pg_catalog.jsonb_array_elements(coalesce(e -> 'changes', '[]')) ch loop
      for v_status, v_message in
        select case s ->> 'status' when 'failed' then 'failed' else s ->> 'status' end, m.id
          from pg_catalog.jsonb_array_elements(coalesce(r.value -> 'statuses', '[]')) s
          join app.messages m on m.org_id = p_org and m.channel = 'whatsapp' and m.provider_message_id = s ->> 'id'
      loop
        if v_status in ('sent', 'delivered', 'read', 'failed') then
          perform app.advance_message(v_message, v_status, null,
            case when v_status = 'failed' then 'WhatsApp: ' || coalesce(
              (select s -> 'errors' -> 0 ->> 'title' from pg_catalog.jsonb_array_elements(r.value -> 'statuses') s
                where s ->> 'status' = 'failed' limit 1), 'failed') end);
          v_statuses := v_statuses + 1;
        end if;
      end loop;
      perform app.receive_message('whatsapp', mm ->> 'from', coalesce(mm #>> '{text,body}', mm #>> '{button,text}', ''), mm ->> 'id')
         from pg_catalog.jsonb_array_elements(coalesce(r.value -> 'messages', '[]')) mm;
      v_received := v_received + coalesce(pg_catalog.jsonb_array_length(r.value -> 'messages'), 0);
    end loop;
  end if;
  return pg_catalog.jsonb_build_object('received', true, 'statuses', v_statuses, 'messages', v_received);
end
$$;
comment on function auth.record_channel_event(uuid, text, text, jsonb) is 'Applies a provider''s callback to an organisation''s messages once its signature is checked again here (with the secret the server used, whose digest must be the stored one): status changes (forward only), and messages from customers (with STOP and START).';
revoke all on function auth.record_channel_event(uuid, text, text, jsonb) from public;
grant execute on function auth.record_channel_event(uuid, text, text, jsonb) to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Booking messages. The organisation's rules (app.booking_message_rules) say which template a
-- booking's event sends:
--   * confirmation: a booking made confirmed, or a pending one confirmed (not a seat given from
--     the waiting list: that is a waitlist_promotion);
--   * reminder: written when the booking is made, scheduled hours_before its start (in UTC, so
--     the organisation's clock changes cannot move it); none when that time has passed. A
--     booking moved (rescheduled, or its start changed) moves its reminders: the old ones are
--     cancelled and new ones written; a booking cancelled, declined or marked a no-show cancels
--     them. One reminder per booking and rule, however many workers run (a unique message, and
--     its delivery claimed once);
--   * cancellation (not the cancellation a reschedule makes), waitlist_promotion, no_show.
-- A message a rule cannot send (no consent for a marketing template, no contact, a channel not
-- connected) is not written: the booking is never refused for it.
-- ---------------------------------------------------------------------------------------
create function app.booking_message_rule_json(r app.booking_message_rules) returns jsonb
language sql stable parallel safe as $$
  select pg_catalog.jsonb_build_object(
    'id', r.id,
    'event', r.event,
    'templateId', r.template_id,
    'channel', (select t.channel from app.message_templates t where t.org_id = r.org_id and t.id = r.template_id),
    'hoursBefore', r.hours_before,
    'createdAt', app.ts(r.created_at),
    'removedAt', app.ts(r.removed_at))
$$;
comment on function app.booking_message_rule_json(app.booking_message_rules) is 'The API representation of a booking message rule.';
grant execute on function app.booking_message_rule_json(app.booking_message_rules) to favcrm_member;

create function api.create_booking_message_rule(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  r app.booking_message_rules;
begin
  perform app.require_messaging_manager('set booking messages');
  if not exists (select from app.message_templates t
                  where t.org_id = auth.org_id() and t.id = (p ->> 'templateId')::uuid and t.archived_at is null) then
    perform app.not_found('template', 'templateId');
  end if;
  if (p ->> 'event' = 'reminder') <> (p ? 'hoursBefore') then
    perform app.raise_invalid('hoursBefore', case when p ? 'hoursBefore' then 'not_allowed' else 'required' end,
      'A reminder, and only a reminder, says how many hours before the booking it goes (hoursBefore).');
  end if;
  insert into app.booking_message_rules (org_id, event, template_id, hours_before)
  values (auth.org_id(), p ->> 'event', (p ->> 'templateId')::uuid, (p ->> 'hoursBefore')::int)
  returning * into r;
  return app.booking_message_rule_json(r);
exception when unique_violation then
  raise exception using errcode = '23505', hint = 'rule_exists', column = 'templateId',
    message = 'This event already sends this template (at this time).';
end
$$;
comment on function api.create_booking_message_rule(jsonb) is 'Makes a booking event send a template: confirmation, reminder (hoursBefore the start), cancellation, waitlist_promotion or no_show.';
grant execute on function api.create_booking_message_rule(jsonb) to favcrm_member;

create function api.list_booking_message_rules(p jsonb) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  perform auth.require_scope('messaging:read');
  return pg_catalog.jsonb_build_object('items', coalesce(
    (select pg_catalog.jsonb_agg(app.booking_message_rule_json(r) order by r.event, r.hours_before desc nulls first, r.id)
       from app.booking_message_rules r where r.org_id = auth.org_id() and r.removed_at is null), '[]'));
end
$$;
comment on function api.list_booking_message_rules(jsonb) is 'What each booking event sends, and when.';
grant execute on function api.list_booking_message_rules(jsonb) to favcrm_member;

create function api.remove_booking_message_rule(p jsonb) returns jsonb
language plpgsql set search_path = '' as $$
declare
  r app.booking_message_rules;
begin
  perform app.require_messaging_manager('set booking messages');
  update app.booking_message_rules set removed_at = coalesce(removed_at, pg_catalog.now())
   where org_id = auth.org_id() and id = (p ->> 'ruleId')::uuid
  returning * into r;
  if not found then
    perform app.not_found('booking message rule', 'ruleId');
  end if;
  return app.booking_message_rule_json(r);
end
$$;
comment on function api.remove_booking_message_rule(jsonb) is 'Stops a booking event sending a template (messages already scheduled stay; removing twice changes nothing).';
grant execute on function api.remove_booking_message_rule(jsonb) to favcrm_member;

-- Writes the message a rule sends for a booking, when it can be sent.
create function app.send_booking_message(r app.booking_message_rules, b app.bookings, p_send_at timestamptz)
returns void
language plpgsql set search_path = '' as $$
declare
  v_composed jsonb;
begin
  if b.customer_id is null then
    return;
  end if;
  begin
    v_composed := app.compose_message(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
      'customerId', b.customer_id, 'templateId', r.template_id, 'bookingId', b.id, 'sendAt', app.ts(p_send_at))));
  exception when sqlstate '22023' or sqlstate 'P0002' or sqlstate '55000' then
    return;
  end;
  if (v_composed ->> 'canSend')::boolean then
    perform app.write_message(v_composed || pg_catalog.jsonb_build_object('ruleId', r.id), 'booking_' || r.event);
  end if;
end
$$;
comment on function app.send_booking_message(app.booking_message_rules, app.bookings, timestamptz) is 'Writes the message of a booking message rule for a booking (now, or at the time given), unless the customer cannot get it.';
grant execute on function app.send_booking_message(app.booking_message_rules, app.bookings, timestamptz) to favcrm_member;

create function app.cancel_booking_reminders(p_booking uuid) returns void
language plpgsql set search_path = '' as $$
begin
  with cancelled as (
    update app.messages m set status = 'cancelled', updated_at = pg_catalog.now()
     where m.org_id = auth.org_id() and m.booking_id = p_booking and m.source = 'booking_reminder'
       and m.status in ('scheduled', 'queued')
    returning m.id)
  update app.deliveries d set status = 'cancelled', updated_at = pg_catalog.now()
    from cancelled c
   where d.org_id = auth.org_id() and d.message_id = c.id and d.status = 'pending';
end
$$;
comment on function app.cancel_booking_reminders(uuid) is 'Cancels a booking''s reminders not yet sent, and their deliveries.';
grant execute on function app.cancel_booking_reminders(uuid) to favcrm_member;

create function app.schedule_booking_reminders(b app.bookings) returns void
language plpgsql set search_path = '' as $$
declare
  r app.booking_message_rules;
begin
  for r in select * from app.booking_message_rules
            where org_id = b.org_id and event = 'reminder' and removed_at is null loop
    if b.starts_at - pg_catalog.make_interval(hours => r.hours_before) > pg_catalog.now() then
      perform app.send_booking_message(r, b, b.starts_at - pg_catalog.make_interval(hours => r.hours_before));
    end if;
  end loop;
end
$$;
comment on function app.schedule_booking_reminders(app.bookings) is 'Writes a booking''s reminders, each scheduled its rule''s hours before the start (none whose time has passed).';
grant execute on function app.schedule_booking_reminders(app.bookings) to favcrm_member;

create function app.send_booking_event_messages(p_event text, b app.bookings) returns void
language plpgsql set search_path = '' as $$
declare
  r app.booking_message_rules;
begin
  for r in select * from app.booking_message_rules
            where org_id = b.org_id and event = p_event and removed_at is null loop
    perform app.send_booking_message(r, b, null);
  end loop;
end
$$;
comment on function app.send_booking_event_messages(text, app.bookings) is 'Writes the messages the rules of an event ask for, now.';
grant execute on function app.send_booking_event_messages(text, app.bookings) to favcrm_member;

create function app.booking_messages(p_op text, o app.bookings, n app.bookings) returns void
language plpgsql set search_path = '' as $$
begin
  -- Most organisations have no rules: one index probe and done.
  if not exists (select from app.booking_message_rules r where r.org_id = n.org_id and r.removed_at is null) then
    return;
  end if;
  if p_op = 'INSERT' then
    if n.status in ('pending', 'confirmed') then
      -- A seat the waiting list gave (inserted by a trigger) is announced by its promotion.
      if n.status = 'confirmed' and pg_catalog.pg_trigger_depth() <= 1 then
        perform app.send_booking_event_messages('confirmation', n);
      end if;
      perform app.schedule_booking_reminders(n);
    end if;
    return;
  end if;
  if n.status = 'confirmed' and o.status = 'pending' then
    perform app.send_booking_event_messages('confirmation', n);
  end if;
  if n.status in ('cancelled', 'declined', 'no_show') and o.status is distinct from n.status then
    perform app.cancel_booking_reminders(n.id);
    if n.status = 'cancelled' and n.cancel_reason is distinct from 'rescheduled' then
      perform app.send_booking_event_messages('cancellation', n);
    elsif n.status = 'no_show' then
      perform app.send_booking_event_messages('no_show', n);
    end if;
  elsif n.starts_at is distinct from o.starts_at and n.status in ('pending', 'confirmed') then
    perform app.cancel_booking_reminders(n.id);
    perform app.schedule_booking_reminders(n);
  end if;
end
$$;
comment on function app.booking_messages(text, app.bookings, app.bookings) is 'The messages a booking''s change asks for by its organisation''s rules: confirmation, reminders (scheduled, moved, cancelled), cancellation, no-show.';
grant execute on function app.booking_messages(text, app.bookings, app.bookings) to favcrm_member;

create function app.booking_event_messages(e app.booking_events) returns void
language plpgsql set search_path = '' as $$
declare
  b app.bookings;
begin
  if e.kind <> 'waitlist_promoted'
     or not exists (select from app.booking_message_rules r where r.org_id = e.org_id and r.removed_at is null) then
    return;
  end if;
  select * into b from app.bookings where org_id = e.org_id and id = e.booking_id;
  perform app.send_booking_event_messages('waitlist_promotion', b);
end
$$;
comment on function app.booking_event_messages(app.booking_events) is 'The message a waiting-list promotion sends by its organisation''s rules.';
grant execute on function app.booking_event_messages(app.booking_events) to favcrm_member;
