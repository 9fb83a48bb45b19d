-- Messaging (issue 15, second part): the channels an organisation connects (email, SMS through
-- Twilio, WhatsApp through the Business Cloud API), its message templates, the messages sent to
-- and received from customers, and its messaging settings (quiet hours, transactional sends).
-- A message goes out through the outbox (app.deliveries, V21). The rules are written at the top
-- of sql/operations/messaging.sql.

create table app.channels (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  channel text not null check (channel in ('email', 'sms', 'whatsapp')),
  provider text not null check (provider in ('smtp', 'twilio', 'whatsapp_cloud')),
  status text not null default 'connected' check (status in ('connected', 'disconnected')),
  settings jsonb not null default '{}' check (pg_catalog.jsonb_typeof(settings) = 'object'),
  secret_ciphertext bytea,
  secret_digest bytea,
  secret_hint text,
  webhook_secret_ciphertext bytea,
  webhook_secret_digest bytea,
  verify_token_digest bytea,
  connected_by_user_id uuid,
  connected_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  disconnected_at timestamptz,
  primary key (org_id, id),
  check ((channel = 'email') = (provider = 'smtp')),
  check ((channel = 'sms') = (provider = 'twilio')),
  check ((channel = 'whatsapp') = (provider = 'whatsapp_cloud'))
);
comment on table app.channels is 'How an organisation reaches customers on a channel: the provider''s settings (never secret) and its credentials, sealed by the server under its secrets key (never returned or logged).';
comment on column app.channels.settings is 'email: fromAddress, fromName, replyTo; sms: accountSid, fromNumber or messagingServiceSid; whatsapp: phoneNumberId, businessAccountId.';
comment on column app.channels.secret_ciphertext is 'email: an SMTP URL of its own (else the server''s mail); sms: the Twilio auth token (which also signs Twilio''s callbacks); whatsapp: the access token. Sealed for the organisation and purpose.';
comment on column app.channels.secret_digest is 'SHA-256 of the secret: the callback entry points check that the secret the server verified a signature with is this one.';
comment on column app.channels.webhook_secret_ciphertext is 'whatsapp: the Meta app secret that signs webhook calls (X-Hub-Signature-256).';
comment on column app.channels.verify_token_digest is 'whatsapp: SHA-256 of the verify token the owner also gave Meta, which Meta''s subscription check (GET hub.verify_token) must present.';
create unique index channels_connected on app.channels (org_id, channel) where status = 'connected';

create table app.message_templates (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(name) between 1 and 100),
  channel text not null check (channel in ('email', 'sms', 'whatsapp')),
  locale text not null default 'en' check (locale ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
  purpose text not null check (purpose in ('transactional', 'marketing')),
  subject text check (pg_catalog.char_length(subject) <= 300),
  body text not null check (pg_catalog.char_length(body) between 1 and 4000),
  variables text[] not null default '{}',
  whatsapp_template_name text,
  whatsapp_language text,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  archived_at timestamptz,
  primary key (org_id, id),
  check (channel <> 'email' or subject is not null)
);
comment on table app.message_templates is 'A message with variables from a fixed set ({{customer.first_name}}, {{booking.time}}, …: app.message_variables) for one channel and locale. A WhatsApp template also names the template approved at Meta, whose body parameters are the variables in order.';
create unique index message_templates_name on app.message_templates (org_id, channel, name, locale) where archived_at is null;

create table app.messages (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  customer_id uuid,
  channel text not null check (channel in ('email', 'sms', 'whatsapp')),
  direction text not null check (direction in ('outbound', 'inbound')),
  purpose text check (purpose in ('transactional', 'marketing')),
  source text not null default 'api',
  template_id uuid,
  recipient text not null,
  subject text,
  body text not null,
  whatsapp_template jsonb,
  status text not null check (status in ('scheduled', 'queued', 'sent', 'delivered', 'read', 'failed', 'cancelled', 'received')),
  send_after timestamptz,
  provider_message_id text,
  error text,
  booking_id uuid,
  created_by_user_id uuid,
  created_by_key_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  sent_at timestamptz,
  delivered_at timestamptz,
  read_at timestamptz,
  failed_at timestamptz,
  primary key (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  foreign key (org_id, template_id) references app.message_templates (org_id, id),
  foreign key (org_id, booking_id) references app.bookings (org_id, id),
  check ((direction = 'inbound') = (status = 'received')),
  check (direction = 'inbound' or purpose is not null)
);
comment on table app.messages is 'Messages to customers (rendered when written: what was sent is what is kept) and from them (replies, STOP). An outbound message goes out through its delivery (app.deliveries.message_id).';
comment on column app.messages.status is 'scheduled (held: quiet hours, or a time asked for), queued, sent (the provider took it), delivered, read, failed, cancelled; received for inbound messages.';
comment on column app.messages.source is 'What wrote it: api (send_message), a booking event (booking_confirmation, booking_reminder, …), a campaign, or the provider (inbound).';
create index messages_by_customer on app.messages (org_id, customer_id, id);
create index messages_by_status on app.messages (org_id, status, id);
create unique index messages_by_provider_id on app.messages (org_id, channel, provider_message_id)
  where provider_message_id is not null;
create index messages_inbound_by_recipient on app.messages (org_id, channel, recipient, created_at)
  where direction = 'inbound';

alter table app.deliveries add column message_id uuid;
alter table app.deliveries add foreign key (org_id, message_id) references app.messages (org_id, id);
create index deliveries_by_message on app.deliveries (org_id, message_id) where message_id is not null;
comment on column app.deliveries.message_id is 'The message this delivery sends (email, sms, whatsapp).';

create table app.messaging_settings (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  quiet_hours_start time,
  quiet_hours_end time,
  transactional_allowed boolean not null default true,
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  check ((quiet_hours_start is null) = (quiet_hours_end is null))
);
comment on table app.messaging_settings is 'An organisation''s messaging rules (one row; its defaults apply until set): quiet hours in its time zone, during which marketing messages wait, and whether transactional messages (confirmations, reminders, receipts) go out without marketing consent.';
create unique index messaging_settings_one on app.messaging_settings (org_id);

grant select, insert, update on app.channels, app.message_templates, app.messages, app.messaging_settings to favcrm_member;

create trigger audit_change after insert or update or delete on app.channels
  for each row execute function audit.record_change('org_id', 'secret_ciphertext', 'secret_digest',
                                                    'webhook_secret_ciphertext', 'webhook_secret_digest',
                                                    'verify_token_digest');
create trigger audit_change after insert or update or delete on app.message_templates
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.messaging_settings
  for each row execute function audit.record_change('org_id');

-- A message sent, delivered, failed or received is an event for webhooks (as V21's triggers).
create function app.webhooks_on_message() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform app.message_webhook(tg_op, old, new);
  return null;
end
$$;
comment on function app.webhooks_on_message() is 'Trigger: a message received, or whose status became sent, delivered or failed, is an event for webhooks (app.message_webhook).';
create trigger webhooks after insert or update of status on app.messages
  for each row execute function app.webhooks_on_message();
