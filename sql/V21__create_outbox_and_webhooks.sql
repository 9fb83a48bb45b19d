-- Side effects through an outbox, and outgoing webhooks (issue 15, first part).
--
-- A delivery (an email, later a text or WhatsApp message, a webhook call) is a row written in
-- the transaction of the change that causes it; workers perform due rows after commit, record
-- each attempt, retry with backoff and give up into a dead letter that the API shows. Mail to
-- people outside any organisation (registration and invitation codes) waits in a table of its
-- own, sealed. Webhook endpoints receive the organisation's events, signed as the Standard
-- Webhooks specification says. The rules are written at the top of
-- sql/operations/outbox.sql and sql/operations/webhooks.sql.

create table app.webhook_endpoints (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  url text not null check (url ~ '^https?://' and pg_catalog.length(url) <= 2000),
  description text check (pg_catalog.length(description) <= 500),
  event_types text[] not null check (pg_catalog.cardinality(event_types) between 1 and 50),
  secret_generation int not null default 1 check (secret_generation >= 1),
  previous_secret_until timestamptz,
  created_by_user_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  deleted_at timestamptz,
  primary key (org_id, id)
);
comment on table app.webhook_endpoints is 'Where an organisation''s events are sent (Standard Webhooks). The signing secret is not stored: the server derives it from its secrets key, the endpoint and the secret''s generation.';
comment on column app.webhook_endpoints.event_types is 'Event types sent here: exact (booking.created), a family (booking.*) or every event (*).';
comment on column app.webhook_endpoints.secret_generation is 'Which secret signs deliveries; rotate_webhook_secret counts it up.';
comment on column app.webhook_endpoints.previous_secret_until is 'Until then deliveries carry a second signature with the previous generation''s secret, so a receiver can switch secrets without missing events.';
create index webhook_endpoints_live on app.webhook_endpoints (org_id) where deleted_at is null;

create table app.webhook_events (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  type text not null,
  data jsonb not null,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id)
);
comment on table app.webhook_events is 'Events an endpoint wanted when they happened: the type and the resource as the API showed it then. The id is each delivery''s webhook-id.';

create table app.deliveries (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  kind text not null check (kind in ('email', 'sms', 'whatsapp', 'webhook')),
  status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'dead', 'cancelled')),
  recipient text not null,
  payload jsonb not null default '{}',
  idempotency_key text not null,
  attempts int not null default 0,
  attempts_at_retry int not null default 0,
  next_attempt_at timestamptz not null default pg_catalog.now(),
  lease_until timestamptz,
  last_error text,
  provider_ref text,
  endpoint_id uuid,
  event_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  sent_at timestamptz,
  primary key (org_id, id),
  foreign key (org_id, endpoint_id) references app.webhook_endpoints (org_id, id),
  foreign key (org_id, event_id) references app.webhook_events (org_id, id),
  check ((kind = 'webhook') = (endpoint_id is not null and event_id is not null)),
  check (status <> 'sending' or lease_until is not null)
);
comment on table app.deliveries is 'The outbox: one side effect each, written with the change that causes it and performed by a worker after commit.';
comment on column app.deliveries.status is 'pending (due at next_attempt_at, also between retries), sending (a worker holds it until lease_until), sent, dead (gave up; retry_delivery sends it again) or cancelled.';
comment on column app.deliveries.recipient is 'An email address, a phone number or a URL: what lists show.';
comment on column app.deliveries.payload is 'What to send, for a message: rendered when it was written (a webhook''s is its event).';
comment on column app.deliveries.idempotency_key is 'Sent to the provider where it takes one, so an attempt repeated after a crash is not performed twice.';
comment on column app.deliveries.attempts_at_retry is 'The attempts made before the last retry_delivery: the worker''s limit counts the attempts after it.';
comment on column app.deliveries.lease_until is 'While sending: when another worker may take it over (the one holding it stopped).';
create index deliveries_due on app.deliveries (next_attempt_at) where status = 'pending';
create index deliveries_leased on app.deliveries (lease_until) where status = 'sending';
create index deliveries_by_endpoint on app.deliveries (org_id, endpoint_id, id) where endpoint_id is not null;
create index deliveries_by_status on app.deliveries (org_id, status, id);

create table app.delivery_attempts (
  org_id uuid not null,
  delivery_id uuid not null,
  attempt int not null,
  started_at timestamptz not null,
  finished_at timestamptz not null default pg_catalog.now(),
  outcome text not null check (outcome in ('sent', 'failed', 'refused')),
  response_status int,
  error text,
  primary key (org_id, delivery_id, attempt),
  foreign key (org_id, delivery_id) references app.deliveries (org_id, id)
);
comment on table app.delivery_attempts is 'What each attempt of a delivery came to: sent, failed (to be retried) or refused (the provider will never take it). An attempt cut off by a stopped worker has no row.';

create table app.account_mail (
  id uuid primary key,
  template text not null check (template in ('signup_code', 'signup_notice', 'invite_code')),
  recipient text not null,
  fields jsonb not null default '{}',
  sealed_code bytea,
  status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'dead')),
  attempts int not null default 0,
  next_attempt_at timestamptz not null default pg_catalog.now(),
  lease_until timestamptz,
  last_error text,
  created_at timestamptz not null default pg_catalog.now(),
  sent_at timestamptz,
  check (status <> 'sending' or lease_until is not null),
  check (status <> 'sent' or sealed_code is null)
);
comment on table app.account_mail is 'Mail favcrm sends about a person''s account (registration and invitation codes), rendered by the server from a template and fields. No runtime role reaches it; only the registration and invitation entry points write it and the outbox worker reads it.';
comment on column app.account_mail.sealed_code is 'The one-time code, sealed by the server under its secrets key and bound to this row''s id, so the database never holds a code; emptied once the mail is sent.';
create index account_mail_due on app.account_mail (next_attempt_at) where status = 'pending';
create index account_mail_leased on app.account_mail (lease_until) where status = 'sending';

grant select, insert, update on app.deliveries, app.webhook_endpoints to favcrm_member;
grant select on app.webhook_events to favcrm_member;
grant select, insert on app.delivery_attempts to favcrm_member;

create trigger audit_change after insert or update or delete on app.webhook_endpoints
  for each row execute function audit.record_change('org_id');

-- The new toolsets' scopes for keys that held every scope their holder's role allowed (see V17).
-- keys: begin
alter table app.api_keys no force row level security;
alter table app.memberships no force row level security;
alter table audit.event no force row level security;
alter table app.api_keys disable trigger audit_change;
with roles (role, had, added) as (values
  ('owner', array['audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read',
                  'commerce:write','customers:read','customers:write','keys:read','keys:write','loyalty:read',
                  'loyalty:write','organisation:read','organisation:write','subscriptions:read','subscriptions:write',
                  'team:read','team:write'],
   array['messaging:read','messaging:write','webhooks:read','webhooks:write']),
  ('admin', array['audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read',
                  'commerce:write','customers:read','customers:write','keys:read','keys:write','loyalty:read',
                  'loyalty:write','organisation:read','organisation:write','subscriptions:read','subscriptions:write',
                  'team:read','team:write'],
   array['messaging:read','messaging:write','webhooks:read','webhooks:write']),
  ('manager', array['billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write',
                    'customers:read','customers:write','keys:read','keys:write','loyalty:read','loyalty:write',
                    'organisation:read','subscriptions:read','subscriptions:write','team:read','team:write'],
   array['messaging:read','messaging:write']),
  ('staff', array['billing:read','bookings:read','bookings:write','commerce:read','customers:read','customers:write',
                  'loyalty:read','organisation:read','subscriptions:read','team:read'],
   array['messaging:read'])),
candidates as (
  select k.org_id, k.id, k.scopes as before,
         array(select distinct s from pg_catalog.unnest(k.scopes || r.added) s order by s) as after
    from app.api_keys k
    join app.memberships m on m.org_id = k.org_id and m.user_id = k.user_id
    join roles r on r.role = m.role
   where k.scopes @> r.had and not k.scopes @> r.added),
changed as (
  update app.api_keys k set scopes = c.after, claims = null
    from candidates c
   where k.org_id = c.org_id and k.id = c.id
  returning k.org_id, k.id)
insert into audit.event (org_id, via, operation, table_name, row_id, action, before, after)
select c.org_id, 'migration', 'V21__create_outbox_and_webhooks', 'api_keys', c.id, 'update',
       pg_catalog.jsonb_build_object('scopes', c.before), pg_catalog.jsonb_build_object('scopes', c.after)
  from candidates c join changed x on x.org_id = c.org_id and x.id = c.id;
alter table app.api_keys enable trigger audit_change;
alter table audit.event force row level security;
alter table app.api_keys force row level security;
alter table app.memberships force row level security;
-- keys: end

-- Events happen in the transaction of the change: these triggers hand each change to
-- sql/operations/webhooks.sql, which writes an event and its deliveries only when an endpoint
-- of the organisation wants that type (most organisations have none: one index probe).
create function app.webhooks_on_customer() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform app.customer_webhook(tg_op, old, new);
  return null;
end
$$;
comment on function app.webhooks_on_customer() is 'Trigger: a customer created, changed or deleted is an event for webhooks (app.customer_webhook).';

create function app.webhooks_on_booking() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform app.booking_webhook(tg_op, old, new);
  return null;
end
$$;
comment on function app.webhooks_on_booking() is 'Trigger: a booking made, moved or whose status changed is an event for webhooks (app.booking_webhook).';

create function app.webhooks_on_invoice() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform app.invoice_webhook(tg_op, old, new);
  return null;
end
$$;
comment on function app.webhooks_on_invoice() is 'Trigger: an invoice finalised, paid, voided or marked uncollectible is an event for webhooks (app.invoice_webhook).';

create function app.webhooks_on_payment() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform app.payment_webhook(new.id, 'payment.received');
  return null;
end
$$;
comment on function app.webhooks_on_payment() is 'Trigger: a payment recorded is an event for webhooks (app.payment_webhook).';

create function app.webhooks_on_refund() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.status = 'succeeded' and (tg_op = 'INSERT' or old.status is distinct from 'succeeded') then
    perform app.payment_webhook(new.payment_id, 'payment.refunded');
  end if;
  return null;
end
$$;
comment on function app.webhooks_on_refund() is 'Trigger: a refund that succeeded is a payment.refunded event for webhooks (app.payment_webhook).';

create trigger webhooks after insert or update of name, email, phone, lifecycle_stage, tags, custom_fields,
  marketing_consent, deleted_at on app.customers
  for each row execute function app.webhooks_on_customer();
create trigger webhooks after insert or update of status, starts_at, ends_at, staff_id on app.bookings
  for each row execute function app.webhooks_on_booking();
create trigger webhooks after insert or update of status on app.invoices
  for each row execute function app.webhooks_on_invoice();
create trigger webhooks after insert on app.payments
  for each row execute function app.webhooks_on_payment();
create trigger webhooks after insert or update of status on app.refunds
  for each row execute function app.webhooks_on_refund();
