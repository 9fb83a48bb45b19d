-- Memberships and session packs. A plan is a price per interval with benefits (class credits
-- each period); a subscription puts a customer on a plan and is renewed by the scheduler,
-- which writes one subscription_periods row per period (unique: a period is invoiced once
-- however many workers run) with the period's invoice and credit grant. Credits are grants
-- (from a pack sold, a period, or an adjustment) and an append-only ledger of entries against
-- them: a grant's credits left are the sum of its entries, and they stop counting at its expiry.

create table app.plans (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(name) between 1 and 200),
  description text check (pg_catalog.char_length(description) <= 5000),
  price_amount bigint not null check (price_amount >= 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  interval_unit text not null check (interval_unit in ('week', 'month', 'year')),
  interval_count int not null default 1 check (interval_count between 1 and 52),
  trial_days int not null default 0 check (trial_days between 0 and 365),
  tax_rate_id uuid,
  credits_per_period int not null default 0 check (credits_per_period between 0 and 1000),
  credit_service_ids uuid[],
  service_discount_bp int not null default 0 check (service_discount_bp between 0 and 10000),
  grace_days int not null default 7 check (grace_days between 0 and 90),
  web_listing text not null default 'listed' check (web_listing in ('listed', 'price_hidden', 'unlisted')),
  archived_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, tax_rate_id) references app.tax_rates (org_id, id)
);
comment on table app.plans is 'Memberships sold by the period: a price every interval_count interval_units, an optional free trial, credits granted each period for the services named (all when credit_service_ids is null), and a discount on services billed to members.';

alter table app.products
  add column web_listing text not null default 'listed' check (web_listing in ('listed', 'price_hidden', 'unlisted')),
  -- A session pack: selling the product (sell_package, or an order billed) grants its credits.
  add column package_sessions int check (package_sessions between 1 and 1000),
  add column package_service_ids uuid[],
  add column package_validity_days int check (package_validity_days between 1 and 3650),
  add constraint products_package_check
    check (package_sessions is not null or (package_service_ids is null and package_validity_days is null));
comment on column app.products.package_sessions is 'When set, the product is a session pack: each one sold grants this many credits (for package_service_ids, or every service; valid package_validity_days, or forever).';
comment on column app.products.web_listing is 'What publishable keys (web pages) see of the product while it is active: listed with its price, listed without it, or nothing.';

create table app.subscriptions (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  customer_id uuid not null,
  plan_id uuid not null,
  next_plan_id uuid,
  status text not null check (status in ('scheduled', 'trialing', 'active', 'past_due', 'paused', 'cancelled')),
  collection text not null default 'invoice' check (collection in ('invoice', 'stripe')),
  promotion_id uuid,
  discount_bp int check (discount_bp between 1 and 10000),
  discount_amount bigint check (discount_amount > 0),
  -- Periods are counted from the anchor date (local, in the organisation's time zone): period n
  -- runs from anchor + n intervals to anchor + n + 1, so a month-end anchor does not drift.
  anchor_date date not null,
  cycle int not null default 0 check (cycle >= 0),
  trial_ends_at timestamptz,
  current_period_start timestamptz,
  current_period_end timestamptz,
  -- When the scheduler next acts: the end of the current period (or the start, while scheduled).
  renews_at timestamptz,
  -- When the latest period's invoice must be paid by; past it, the subscription is past_due.
  pays_by timestamptz,
  cancel_at_period_end boolean not null default false,
  paused_at timestamptz,
  cancelled_at timestamptz,
  ended_at timestamptz,
  last_renewal_error text,
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  foreign key (org_id, plan_id) references app.plans (org_id, id),
  foreign key (org_id, next_plan_id) references app.plans (org_id, id),
  foreign key (org_id, promotion_id) references app.promotions (org_id, id),
  check (discount_bp is null or discount_amount is null)
);
create index subscriptions_org_id_customer_id_idx on app.subscriptions (org_id, customer_id, id);
create index subscriptions_org_id_plan_id_idx on app.subscriptions (org_id, plan_id);
create index subscriptions_org_id_promotion_id_idx on app.subscriptions (org_id, promotion_id, customer_id);
-- The scheduler's question, across organisations: which subscriptions are due?
create index subscriptions_renews_at_idx on app.subscriptions (renews_at)
  where status in ('scheduled', 'trialing', 'active', 'past_due');
create index subscriptions_pays_by_idx on app.subscriptions (pays_by) where pays_by is not null;
create index subscriptions_past_due_idx on app.subscriptions (org_id) where status = 'past_due';
comment on table app.subscriptions is 'A customer on a plan: scheduled → trialing → active ⇄ past_due, paused ⇄ active, → cancelled. The scheduler renews it at renews_at (one subscription_periods row per period).';

create table app.subscription_periods (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  subscription_id uuid not null,
  plan_id uuid not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null check (ends_at > starts_at),
  trial boolean not null default false,
  invoice_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, subscription_id) references app.subscriptions (org_id, id),
  foreign key (org_id, plan_id) references app.plans (org_id, id),
  foreign key (org_id, invoice_id) references app.invoices (org_id, id)
);
-- Exactly once: a period of a subscription exists once, whoever renews it.
create unique index subscription_periods_once_key on app.subscription_periods (org_id, subscription_id, starts_at);
create index subscription_periods_org_id_invoice_id_idx on app.subscription_periods (org_id, invoice_id);
comment on table app.subscription_periods is 'Each period a subscription ran: its plan, its invoice (none in a trial) and, through credit_grants, its credits. Unique per start: a period is never invoiced twice.';

create table app.credit_grants (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  customer_id uuid not null,
  source text not null check (source in ('package', 'subscription', 'adjustment', 'reward')),
  name text not null check (pg_catalog.char_length(name) between 1 and 200),
  quantity int not null check (quantity between 1 and 10000),
  service_ids uuid[],
  expires_at timestamptz,
  invoice_id uuid,
  subscription_period_id uuid,
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  foreign key (org_id, invoice_id) references app.invoices (org_id, id),
  foreign key (org_id, subscription_period_id) references app.subscription_periods (org_id, id)
);
create index credit_grants_org_id_customer_id_idx on app.credit_grants (org_id, customer_id, expires_at);
create index credit_grants_org_id_invoice_id_idx on app.credit_grants (org_id, invoice_id);
create unique index credit_grants_period_key on app.credit_grants (org_id, subscription_period_id);
comment on table app.credit_grants is 'Credits given to a customer at once (a pack sold, a subscription period, an adjustment), usable for the services named (all when service_ids is null) until expires_at.';

create table app.credit_entries (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  grant_id uuid not null,
  customer_id uuid not null,
  kind text not null check (kind in ('grant', 'use', 'return', 'expire', 'adjust')),
  -- An expiry records what was left, nothing included: every grant's end is in the ledger.
  quantity int not null check ((quantity <> 0 or kind = 'expire') and quantity between -10000 and 10000),
  booking_id uuid,
  note text check (pg_catalog.char_length(note) <= 500),
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, grant_id) references app.credit_grants (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  foreign key (org_id, booking_id) references app.bookings (org_id, id),
  check ((kind in ('use', 'return')) = (booking_id is not null)),
  check ((kind in ('grant', 'return')) = (quantity > 0) or kind = 'adjust')
);
create index credit_entries_org_id_grant_id_idx on app.credit_entries (org_id, grant_id);
create index credit_entries_org_id_customer_id_idx on app.credit_entries (org_id, customer_id, id);
-- A booking uses a credit once and gets it back at most once; a grant is given and expires once.
create unique index credit_entries_use_key on app.credit_entries (org_id, booking_id) where kind = 'use';
create unique index credit_entries_return_key on app.credit_entries (org_id, booking_id) where kind = 'return';
create unique index credit_entries_grant_key on app.credit_entries (org_id, grant_id) where kind = 'grant';
create unique index credit_entries_expire_key on app.credit_entries (org_id, grant_id) where kind = 'expire';
comment on table app.credit_entries is 'Append-only ledger of credits: given (grant), spent on a booking (use), given back by a free cancellation (return), lapsed (expire), corrected (adjust). A grant''s credits left are the sum of its entries.';

-- A service whose bookings are paid with a credit when the customer has one (create_booking
-- without payWith).
alter table app.services add column pay_with_credits boolean not null default false;
comment on column app.services.pay_with_credits is 'When true, a booking that does not say how it is paid spends one of the customer''s usable credits if there is one (else it is priced as usual).';

-- The credit a booking was paid with. A rescheduled booking keeps it.
alter table app.bookings add column credit_grant_id uuid;
alter table app.bookings add constraint bookings_credit_grant_fkey
  foreign key (org_id, credit_grant_id) references app.credit_grants (org_id, id);
comment on column app.bookings.credit_grant_id is 'The credit grant that paid for the booking (payWith credits); its price is not invoiced.';

create trigger audit_change after insert or update or delete on app.plans
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.subscriptions
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.subscription_periods
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.credit_grants
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.credit_entries
  for each row execute function audit.record_change('org_id');
grant select, insert, update on app.plans, app.subscriptions to favcrm_member;
grant select, insert on app.subscription_periods, app.credit_grants, app.credit_entries to favcrm_member;
-- A period is written first (the exactly-once guard), then linked to the invoice made for it.
grant update (invoice_id) on app.subscription_periods to favcrm_member;

-- Keys that held every scope of their holder's role keep doing so: they gain the subscriptions
-- scopes (owners, admins and managers subscriptions:read and subscriptions:write; staff
-- subscriptions:read), as V17 and V18 did.
-- keys: begin
alter table app.api_keys no force row level security;
alter table app.memberships no force row level security;
alter table audit.event no force row level security;
alter table app.api_keys disable trigger audit_change;
with roles (role, had, added) as (values
  ('owner', array['audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read',
                  'commerce:write','customers:read','customers:write','keys:read','keys:write','organisation:read',
                  'organisation:write','team:read','team:write'],
   array['subscriptions:read','subscriptions:write']),
  ('admin', array['audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read',
                  'commerce:write','customers:read','customers:write','keys:read','keys:write','organisation:read',
                  'organisation:write','team:read','team:write'],
   array['subscriptions:read','subscriptions:write']),
  ('manager', array['billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write',
                    'customers:read','customers:write','keys:read','keys:write','organisation:read','team:read',
                    'team:write'],
   array['subscriptions:read','subscriptions:write']),
  ('staff', array['billing:read','bookings:read','bookings:write','commerce:read','customers:read','customers:write',
                  'organisation:read','team:read'],
   array['subscriptions:read'])),
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
select c.org_id, 'migration', 'V19__create_plans_subscriptions_and_credits', 'api_keys', c.id, 'update',
       pg_catalog.jsonb_build_object('scopes', c.before), pg_catalog.jsonb_build_object('scopes', c.after)
  from candidates c join changed x on x.org_id = c.org_id and x.id = c.id;
alter table app.api_keys enable trigger audit_change;
alter table audit.event force row level security;
alter table app.api_keys force row level security;
alter table app.memberships force row level security;
-- keys: end
