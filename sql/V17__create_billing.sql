-- Billing: tax rates, products, invoices with their lines, gapless document numbers, payments,
-- refunds, credit notes and the customer's credit balance.
--
-- Money is bigint minor units with the ISO 4217 code beside it. Amounts on a line are computed
-- once, when the line is written, by one rule (sql/operations/billing.sql, app.price_line); an
-- invoice's totals are the sums of its lines, kept on the invoice and frozen when it is
-- finalised. What money did afterwards (payments, refunds, credit notes) is recorded in rows of
-- its own, never by editing a finalised invoice; the invoice keeps running sums of them
-- (amount_paid, amount_credited, amount_credited_to_balance) under its row lock, and a test
-- holds them equal to the rows.

-- ---------------------------------------------------------------------------------------
-- Organisation settings
-- ---------------------------------------------------------------------------------------
alter table app.organisations
  add column invoice_prefix text not null default 'INV' check (invoice_prefix ~ '^[A-Z0-9]{1,10}$'),
  add column credit_note_prefix text not null default 'CN' check (credit_note_prefix ~ '^[A-Z0-9]{1,10}$'),
  add column payment_terms_days int not null default 14 check (payment_terms_days between 0 and 365),
  add column staff_billing_access boolean not null default false;
comment on column app.organisations.invoice_prefix is 'The series a new invoice is numbered in unless it names another: INV gives INV-2027-0001.';
comment on column app.organisations.credit_note_prefix is 'The series credit notes are numbered in: CN gives CN-2027-0001.';
comment on column app.organisations.payment_terms_days is 'Days from finalisation to the due date when an invoice sets neither.';
comment on column app.organisations.staff_billing_access is 'When true, staff read the invoices and payments of bookings assigned to them; otherwise staff see no billing at all.';

-- Whether the caller's organisation lets staff read billing. Policies call it once per
-- statement, wrapped as (select auth.staff_billing_access()); it reads the organisation row
-- under the caller's own policy.
create function auth.staff_billing_access() returns boolean
language sql stable parallel safe as $$
  select coalesce((select o.staff_billing_access from app.organisations o where o.id = auth.org_id()), false)
$$;
comment on function auth.staff_billing_access() is 'Whether the current organisation lets staff read the billing of their own bookings (app.organisations.staff_billing_access).';
grant execute on function auth.staff_billing_access() to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- What can be put on an invoice
-- ---------------------------------------------------------------------------------------
create table app.tax_rates (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(name) between 1 and 100),
  percentage_bp int not null check (percentage_bp between 0 and 10000),
  inclusive boolean not null,
  active boolean not null default true,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id)
);
comment on table app.tax_rates is 'Tax rates the organisation charges. The percentage and whether prices include it never change once created (a line copies them); deactivate a rate and create another instead.';
comment on column app.tax_rates.percentage_bp is 'The rate in basis points: 2000 is 20 %, 825 is 8.25 %.';
comment on column app.tax_rates.inclusive is 'true: prices already include the tax (it is taken out of them); false: the tax is added on top.';

create table app.products (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(name) between 1 and 200),
  description text check (pg_catalog.char_length(description) <= 5000),
  price_amount bigint not null check (price_amount >= 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  tax_rate_id uuid,
  archived_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, tax_rate_id) references app.tax_rates (org_id, id)
);
comment on table app.products is 'Things sold besides services, with a price and a default tax rate (stock and orders come with commerce).';

alter table app.services add column tax_rate_id uuid,
  add column invoice_on_complete boolean not null default false,
  add column invoice_fees boolean not null default false;
comment on column app.services.invoice_on_complete is 'When true, completing a booking of this service starts a draft invoice for its price.';
comment on column app.services.invoice_fees is 'When true, a late cancellation or no-show with a fee starts a draft invoice for the fee.';
alter table app.services add foreign key (org_id, tax_rate_id) references app.tax_rates (org_id, id);
comment on column app.services.tax_rate_id is 'The tax rate an invoice line for this service gets unless the line names another.';

-- ---------------------------------------------------------------------------------------
-- Gapless numbers: one counter row per organisation, kind, series and year, incremented in the
-- transaction that finalises the document. The row stays locked until that transaction ends, so
-- numbers are handed out one at a time, and a rollback takes its number back with it.
-- ---------------------------------------------------------------------------------------
create table app.document_counters (
  org_id uuid not null references app.organisations (id),
  kind text not null check (kind in ('invoice', 'credit_note')),
  series text not null check (series ~ '^[A-Z0-9]{1,10}$'),
  year int not null check (year between 2000 and 9999),
  last_number int not null check (last_number > 0),
  primary key (org_id, kind, series, year)
);
comment on table app.document_counters is 'The last number given to an invoice or credit note per series and year. Never a sequence: a sequence leaves gaps when a transaction rolls back.';

-- ---------------------------------------------------------------------------------------
-- Invoices
-- ---------------------------------------------------------------------------------------
create table app.invoices (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  customer_id uuid not null,
  status text not null default 'draft' check (status in ('draft', 'open', 'paid', 'void', 'uncollectible')),
  series text not null check (series ~ '^[A-Z0-9]{1,10}$'),
  year int,
  sequence int check (sequence > 0),
  number text,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  memo text check (pg_catalog.char_length(memo) <= 5000),
  due_date date,
  payment_terms_days int check (payment_terms_days between 0 and 365),
  subtotal_amount bigint not null default 0 check (subtotal_amount >= 0),
  discount_amount bigint not null default 0 check (discount_amount >= 0),
  tax_amount bigint not null default 0 check (tax_amount >= 0),
  total_amount bigint not null default 0 check (total_amount >= 0),
  taxes jsonb not null default '[]',
  amount_paid bigint not null default 0 check (amount_paid >= 0),
  amount_credited bigint not null default 0 check (amount_credited >= 0),
  amount_credited_to_balance bigint not null default 0 check (amount_credited_to_balance >= 0),
  staff_user_id uuid,
  created_by uuid,
  finalized_at timestamptz,
  paid_at timestamptz,
  voided_at timestamptz,
  uncollectible_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  -- A number exactly when finalised (a draft voided before finalisation never gets one).
  constraint invoices_numbered check ((number is null) = (finalized_at is null)),
  constraint invoices_credit_bound check (amount_credited <= total_amount),
  -- What is still owed never goes below zero: overpayment is refused.
  constraint invoices_amount_due check (total_amount - amount_credited - amount_paid + amount_credited_to_balance >= 0)
);
create unique index invoices_org_id_number_key on app.invoices (org_id, number);
create unique index invoices_org_id_series_year_sequence_key on app.invoices (org_id, series, year, sequence);
create index invoices_org_id_customer_id_idx on app.invoices (org_id, customer_id, id);
create index invoices_org_id_staff_user_id_idx on app.invoices (org_id, staff_user_id);
create index invoices_org_id_status_due_date_idx on app.invoices (org_id, status, due_date);
comment on table app.invoices is 'Invoices: draft (editable) → open (finalised, numbered, frozen) → paid | void | uncollectible. Totals are the sums of the lines; amount due = total − credited − paid + credited to balance.';
comment on column app.invoices.taxes is 'Tax per rate, as the API shows it: [{taxRateId, name, percentageBp, inclusive, taxableAmount: {amount, currency}, amount: {amount, currency}}], kept with the totals.';
comment on column app.invoices.amount_paid is 'Payments received less refunds (the sum of app.payments.amount - amount_refunded for the invoice).';
comment on column app.invoices.amount_credited is 'The sum of the invoice''s credit notes.';
comment on column app.invoices.amount_credited_to_balance is 'The part of the credit notes that went to the customer''s credit balance because the invoice was already paid.';
comment on column app.invoices.staff_user_id is 'The team member behind the booking the invoice bills, if any: staff read only these, and only when the organisation allows.';

create table app.invoice_lines (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  invoice_id uuid not null,
  position int not null check (position > 0),
  kind text not null check (kind in ('service', 'product', 'booking', 'fee', 'custom')),
  service_id uuid,
  product_id uuid,
  booking_id uuid,
  description text not null check (pg_catalog.char_length(description) between 1 and 500),
  quantity int not null check (quantity between 1 and 1000000),
  unit_amount bigint not null check (unit_amount >= 0),
  discount_bp int check (discount_bp between 0 and 10000),
  discount_amount bigint not null check (discount_amount >= 0),
  tax_rate_id uuid,
  tax_name text,
  tax_bp int check (tax_bp between 0 and 10000),
  tax_inclusive boolean,
  amount bigint not null check (amount >= 0),
  tax_amount bigint not null check (tax_amount >= 0),
  total_amount bigint not null check (total_amount >= 0),
  staff_user_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, invoice_id) references app.invoices (org_id, id),
  foreign key (org_id, service_id) references app.services (org_id, id),
  foreign key (org_id, product_id) references app.products (org_id, id),
  foreign key (org_id, booking_id) references app.bookings (org_id, id),
  foreign key (org_id, tax_rate_id) references app.tax_rates (org_id, id),
  check (discount_amount <= quantity::bigint * unit_amount),
  check ((tax_rate_id is null) = (tax_bp is null))
);
create unique index invoice_lines_org_id_invoice_id_position_key on app.invoice_lines (org_id, invoice_id, position);
create index invoice_lines_org_id_booking_id_idx on app.invoice_lines (org_id, booking_id);
create index invoice_lines_org_id_staff_user_id_idx on app.invoice_lines (org_id, staff_user_id);
comment on column app.invoice_lines.position is 'The line''s place on its invoice, in the order lines were added (ids made in the same millisecond are not ordered).';
comment on table app.invoice_lines is 'An invoice''s lines with their amounts as computed when written: amount = quantity × unit − discount; tax on top (exclusive) or taken out (inclusive); total with tax. The rate is copied so a later rate never changes a line.';

alter table app.bookings add column invoice_id uuid;
alter table app.bookings add foreign key (org_id, invoice_id) references app.invoices (org_id, id);
comment on column app.bookings.invoice_id is 'The invoice that bills this booking (its price or its fee), when there is one.';

-- ---------------------------------------------------------------------------------------
-- Money received and given back
-- ---------------------------------------------------------------------------------------
create table app.payments (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  invoice_id uuid not null,
  customer_id uuid not null,
  method text not null check (method in ('cash', 'card_terminal', 'bank_transfer', 'other', 'stripe', 'credit_balance')),
  amount bigint not null check (amount > 0),
  amount_refunded bigint not null default 0,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  received_on date not null,
  reference text check (pg_catalog.char_length(reference) <= 200),
  provider_payment_id text,
  staff_user_id uuid,
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, invoice_id) references app.invoices (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  check (amount_refunded between 0 and amount)
);
create index payments_org_id_invoice_id_idx on app.payments (org_id, invoice_id, id);
create index payments_org_id_staff_user_id_idx on app.payments (org_id, staff_user_id);
create index payments_org_id_customer_id_idx on app.payments (org_id, customer_id, id);
-- A provider's payment is recorded once, however often the provider tells of it.
create unique index payments_org_id_provider_payment_id_key on app.payments (org_id, provider_payment_id);
comment on table app.payments is 'Money received for an invoice: recorded by hand (cash, card terminal, bank transfer, other), from Stripe, or taken from the customer''s credit balance. Append-only; refunds are rows of app.refunds (amount_refunded is their running sum).';

create table app.credit_notes (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  invoice_id uuid not null,
  customer_id uuid not null,
  series text not null check (series ~ '^[A-Z0-9]{1,10}$'),
  year int not null,
  sequence int not null check (sequence > 0),
  number text not null,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  reason text check (reason in ('duplicate', 'fraudulent', 'order_change', 'product_unsatisfactory', 'other')),
  memo text check (pg_catalog.char_length(memo) <= 5000),
  amount bigint not null check (amount > 0),
  tax_amount bigint not null check (tax_amount >= 0 and tax_amount <= amount),
  applied_amount bigint not null check (applied_amount >= 0),
  refund_amount bigint not null check (refund_amount >= 0),
  balance_amount bigint not null check (balance_amount >= 0),
  staff_user_id uuid,
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, invoice_id) references app.invoices (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  -- Every unit of a credit note goes somewhere: off the amount due, back as a refund, or to
  -- the customer's credit balance.
  check (applied_amount + refund_amount + balance_amount = amount)
);
create unique index credit_notes_org_id_number_key on app.credit_notes (org_id, number);
create unique index credit_notes_org_id_series_year_sequence_key on app.credit_notes (org_id, series, year, sequence);
create index credit_notes_org_id_invoice_id_idx on app.credit_notes (org_id, invoice_id, id);
create index credit_notes_org_id_staff_user_id_idx on app.credit_notes (org_id, staff_user_id);
comment on table app.credit_notes is 'Corrections of a finalised invoice, numbered in their own series. applied_amount reduced the amount due; refund_amount went back as refunds; balance_amount went to the customer''s credit balance.';

create table app.credit_note_lines (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  credit_note_id uuid not null,
  position int not null check (position > 0),
  invoice_line_id uuid not null,
  description text not null,
  amount bigint not null check (amount > 0),
  tax_amount bigint not null check (tax_amount >= 0 and tax_amount <= amount),
  primary key (org_id, id),
  foreign key (org_id, credit_note_id) references app.credit_notes (org_id, id),
  foreign key (org_id, invoice_line_id) references app.invoice_lines (org_id, id)
);
create unique index credit_note_lines_org_id_credit_note_id_position_key on app.credit_note_lines (org_id, credit_note_id, position);
create index credit_note_lines_org_id_invoice_line_id_idx on app.credit_note_lines (org_id, invoice_line_id);
comment on table app.credit_note_lines is 'What a credit note credits line by line (amount with tax); never more in total than the invoice line.';

create table app.refunds (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  payment_id uuid not null,
  invoice_id uuid not null,
  credit_note_id uuid,
  amount bigint not null check (amount > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  reason text check (pg_catalog.char_length(reason) <= 500),
  provider_refund_id text,
  status text not null default 'succeeded' check (status in ('pending', 'succeeded', 'failed')),
  failure_reason text,
  staff_user_id uuid,
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, payment_id) references app.payments (org_id, id),
  foreign key (org_id, invoice_id) references app.invoices (org_id, id),
  foreign key (org_id, credit_note_id) references app.credit_notes (org_id, id)
);
create index refunds_org_id_payment_id_idx on app.refunds (org_id, payment_id, id);
create index refunds_org_id_invoice_id_idx on app.refunds (org_id, invoice_id);
create index refunds_org_id_credit_note_id_idx on app.refunds (org_id, credit_note_id);
create index refunds_org_id_staff_user_id_idx on app.refunds (org_id, staff_user_id);
create unique index refunds_org_id_provider_refund_id_key on app.refunds (org_id, provider_refund_id);
comment on table app.refunds is 'Money given back from a payment, never more than it brought in. A refund through Stripe is pending until Stripe answers (it counts against the payment meanwhile, so two refunds cannot both take the same money); a failed one gives its amount back.';

create table app.customer_balance_entries (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  customer_id uuid not null,
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  amount bigint not null check (amount <> 0),
  source_kind text not null check (source_kind in ('credit_note', 'overpayment', 'failed_refund', 'payment', 'refund')),
  source_id uuid not null,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, source_kind, source_id),
  foreign key (org_id, customer_id) references app.customers (org_id, id)
);
create index customer_balance_entries_org_id_customer_id_idx on app.customer_balance_entries (org_id, customer_id, id);
comment on table app.customer_balance_entries is 'The customer''s credit balance as an append-only ledger: positive entries are credit the business owes the customer (a credit note''s excess, an overpayment, a refund Stripe refused, a refund of a payment made from the balance), negative ones credit spent (a payment from the balance). One entry per source (unique), so replaying a source changes nothing.';

-- ---------------------------------------------------------------------------------------
-- Stripe: the organisation's own account, payment links (Checkout Sessions) and the events
-- Stripe sends, each recorded once.
-- ---------------------------------------------------------------------------------------
create table app.payment_providers (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  provider text not null check (provider in ('stripe')),
  secret_key_ciphertext bytea not null,
  secret_key_digest bytea not null check (pg_catalog.length(secret_key_digest) = 32),
  key_hint text not null,
  livemode boolean not null,
  webhook_secret_ciphertext bytea not null,
  webhook_secret_digest bytea not null check (pg_catalog.length(webhook_secret_digest) = 32),
  connected_by uuid,
  connected_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, provider)
);
comment on table app.payment_providers is 'The organisation''s own Stripe account: its secret key and webhook signing secret, encrypted by the server with the operator''s key (XChaCha20-Poly1305, bound to the organisation), never returned. The SHA-256 of the webhook secret lets the database check that an event was verified with the right one.';
comment on column app.payment_providers.key_hint is 'The key''s kind and last four characters (sk_test_…4242), for people to recognise it.';

create table app.payment_links (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  invoice_id uuid not null,
  provider text not null default 'stripe' check (provider in ('stripe')),
  status text not null default 'creating' check (status in ('creating', 'open', 'paid', 'failed')),
  amount bigint not null check (amount > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  provider_session_id text,
  url text,
  expires_at timestamptz,
  failure_reason text,
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, invoice_id) references app.invoices (org_id, id)
);
create index payment_links_org_id_invoice_id_idx on app.payment_links (org_id, invoice_id);
create unique index payment_links_org_id_provider_session_id_key on app.payment_links (org_id, provider_session_id);
comment on table app.payment_links is 'Stripe Checkout Sessions made for an open invoice''s amount due: creating until Stripe answered, then open with its URL, paid when Stripe reports the payment.';

create table app.provider_events (
  org_id uuid not null references app.organisations (id),
  provider text not null check (provider in ('stripe')),
  event_id text not null check (pg_catalog.char_length(event_id) between 1 and 255),
  type text not null,
  received_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, provider, event_id)
);
comment on table app.provider_events is 'Every provider event (webhook) acted on, once: a redelivery of the same event id changes nothing.';

create trigger audit_change after insert or update or delete on app.payment_providers
  for each row execute function audit.record_change('org_id', 'secret_key_ciphertext', 'secret_key_digest',
                                                     'webhook_secret_ciphertext', 'webhook_secret_digest');
create trigger audit_change after insert or update or delete on app.payment_links
  for each row execute function audit.record_change('org_id');

grant select, insert, update, delete on app.payment_providers to favcrm_member;
grant select, insert, update on app.payment_links to favcrm_member;
grant select on app.provider_events to favcrm_member;
grant update (status, provider_refund_id, failure_reason, updated_at) on app.refunds to favcrm_member;
-- A refund Stripe refused moves that part of a credit note to the customer's credit balance.
grant update (refund_amount, balance_amount) on app.credit_notes to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Audit, grants. No DELETE grant on any of them but lines (of drafts): money rows are never erased.
-- ---------------------------------------------------------------------------------------
create trigger audit_change after insert or update or delete on app.tax_rates
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.products
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.invoices
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.invoice_lines
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.payments
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.refunds
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.credit_notes
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.credit_note_lines
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.customer_balance_entries
  for each row execute function audit.record_change('org_id');

grant select, insert, update on app.tax_rates, app.products, app.invoices, app.document_counters to favcrm_member;
grant select, insert, delete on app.invoice_lines to favcrm_member;
-- A draft's lines follow the invoice to the staff member of the first booking billed on it.
grant update (staff_user_id) on app.invoice_lines to favcrm_member;
grant select, insert, update on app.payments to favcrm_member;
grant select, insert on app.refunds, app.credit_notes, app.credit_note_lines, app.customer_balance_entries
  to favcrm_member;

-- ---------------------------------------------------------------------------------------
-- Keys that held everything their holder's role allowed keep doing so: they gain the billing
-- scopes the role now has (owners, admins and managers billing:read and billing:write; staff
-- billing:read). A key narrowed on purpose (a subset of its role's scopes) is left as it is.
-- Without this, an existing owner could not reach billing at all: a key holds an explicit
-- list, and a key can only mint keys within its own. The tables' RLS is lifted for the
-- statement (the migration runs as their owner, which FORCE would hold to the policies) and
-- forced again. The keys' stored claims are dropped, to be built afresh.
-- ---------------------------------------------------------------------------------------
-- keys: begin
alter table app.api_keys no force row level security;
alter table app.memberships no force row level security;
alter table audit.event no force row level security;
alter table app.api_keys disable trigger audit_change;
with roles (role, had, added) as (values
  ('owner', array['audit:read','bookings:read','bookings:write','customers:read','customers:write','keys:read',
                  'keys:write','organisation:read','organisation:write','team:read','team:write'],
   array['billing:read','billing:write']),
  ('admin', array['audit:read','bookings:read','bookings:write','customers:read','customers:write','keys:read',
                  'keys:write','organisation:read','organisation:write','team:read','team:write'],
   array['billing:read','billing:write']),
  ('manager', array['bookings:read','bookings:write','customers:read','customers:write','keys:read','keys:write',
                    'organisation:read','team:read','team:write'],
   array['billing:read','billing:write']),
  ('staff', array['bookings:read','bookings:write','customers:read','customers:write','organisation:read','team:read'],
   array['billing:read'])),
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
select c.org_id, 'migration', 'V17__create_billing', 'api_keys', c.id, 'update',
       pg_catalog.jsonb_build_object('scopes', c.before), pg_catalog.jsonb_build_object('scopes', c.after)
  from candidates c join changed x on x.org_id = c.org_id and x.id = c.id;
alter table app.api_keys enable trigger audit_change;
alter table audit.event force row level security;
alter table app.api_keys force row level security;
alter table app.memberships force row level security;
-- keys: end
