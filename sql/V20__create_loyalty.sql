-- Loyalty, first part: the programme an organisation sets once (points per currency unit paid,
-- points per completed booking with per-service overrides, rounding, expiry, stamps, tiers)
-- and an append-only ledger of points and stamps. Points come in lots: an earning (or a
-- positive adjustment) is a lot with its own expiry, and every later entry against it (a
-- reversal, a redemption, an expiry, a negative adjustment) names it. A lot's points left are
-- the sum of its entries; a balance is the sum over the lots that have not expired. Every
-- event earns once: an earning is unique per (unit, source, source id).

create table app.loyalty_programmes (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  enabled boolean not null default false,
  points_per_unit numeric(12, 4) not null default 0 check (points_per_unit >= 0 and points_per_unit <= 10000),
  rounding text not null default 'down' check (rounding in ('down', 'nearest', 'up')),
  points_per_booking int not null default 0 check (points_per_booking between 0 and 100000),
  -- {serviceId: points} for the services that earn another number of points per booking.
  booking_points_overrides jsonb not null default '{}' check (pg_catalog.jsonb_typeof(booking_points_overrides) = 'object'),
  expiry_months int check (expiry_months between 1 and 120),
  stamps_per_card int check (stamps_per_card between 2 and 100),
  stamp_service_ids uuid[],
  -- [{name, threshold, multiplierBp, discountBp}], by threshold: points earned in a rolling 12 months.
  tiers jsonb not null default '[]' check (pg_catalog.jsonb_typeof(tiers) = 'array'),
  updated_by uuid,
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  -- One programme per organisation.
  unique (org_id)
);
comment on table app.loyalty_programmes is 'An organisation''s loyalty rules, set once: points per currency unit paid and per completed booking, rounding, expiry, stamp cards and tiers. No row: loyalty is off.';

create table app.loyalty_entries (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  customer_id uuid not null,
  unit text not null check (unit in ('points', 'stamps')),
  kind text not null check (kind in ('earn', 'redeem', 'expire', 'adjust', 'reverse')),
  quantity int not null check (quantity between -10000000 and 10000000 and (quantity <> 0 or kind = 'expire')),
  -- The lot the entry belongs to: itself for an earning or a positive adjustment.
  lot_id uuid not null,
  source text not null check (source in ('payment', 'booking', 'refund', 'credit_note', 'adjustment', 'redemption',
                                         'expiry')),
  source_id uuid not null,
  expires_at timestamptz,
  note text check (pg_catalog.char_length(note) <= 500),
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  foreign key (org_id, lot_id) references app.loyalty_entries (org_id, id),
  -- A lot is an earning or a positive adjustment; only a lot expires.
  check ((lot_id = id) = (kind = 'earn' or (kind = 'adjust' and quantity > 0))),
  check (expires_at is null or lot_id = id),
  check (kind <> 'earn' or source in ('payment', 'booking'))
);
-- Exactly once: an event earns once per unit; a refund, a redemption or an expiry draws on a
-- lot once.
create unique index loyalty_entries_earn_once_key on app.loyalty_entries (org_id, unit, source, source_id)
  where kind = 'earn';
create unique index loyalty_entries_draw_once_key on app.loyalty_entries (org_id, unit, kind, source, source_id, lot_id)
  where kind <> 'earn';
create index loyalty_entries_org_id_customer_id_idx on app.loyalty_entries (org_id, customer_id, id);
create index loyalty_entries_org_id_lot_id_idx on app.loyalty_entries (org_id, lot_id);
create index loyalty_entries_lots_idx on app.loyalty_entries (org_id, customer_id, unit, expires_at)
  where lot_id = id;
comment on table app.loyalty_entries is 'Append-only ledger of loyalty points and stamps. Earnings and positive adjustments are lots (lot_id = id, with an expiry); reversals, redemptions, expiries and negative adjustments draw on a lot. A balance is the sum of the entries of the lots not expired.';

create table app.loyalty_rewards (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(name) between 1 and 200),
  description text check (pg_catalog.char_length(description) <= 2000),
  cost_points int check (cost_points between 1 and 10000000),
  -- Or a full stamp card.
  cost_stamp_card boolean not null default false,
  gives text not null check (gives in ('balance_credit', 'service_credit', 'product')),
  amount bigint check (amount > 0),
  currency text check (currency ~ '^[A-Z]{3}$'),
  service_id uuid,
  product_id uuid,
  archived_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, service_id) references app.services (org_id, id),
  foreign key (org_id, product_id) references app.products (org_id, id),
  check ((cost_points is null) = cost_stamp_card),
  check ((gives = 'balance_credit') = (amount is not null and currency is not null)),
  check ((gives = 'service_credit') = (service_id is not null)),
  check ((gives = 'product') = (product_id is not null))
);
comment on table app.loyalty_rewards is 'What points or a full stamp card buy: credit on the customer''s balance (a discount on an invoice paid with it), a free session of a service, or a product.';

create table app.loyalty_redemptions (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  customer_id uuid not null,
  reward_id uuid not null,
  status text not null default 'redeemed' check (status in ('redeemed', 'reversed')),
  unit text not null check (unit in ('points', 'stamps')),
  cost int not null check (cost > 0),
  credit_grant_id uuid,
  order_id uuid,
  reason text check (pg_catalog.char_length(reason) <= 500),
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  reversed_at timestamptz,
  primary key (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  foreign key (org_id, reward_id) references app.loyalty_rewards (org_id, id),
  foreign key (org_id, credit_grant_id) references app.credit_grants (org_id, id),
  foreign key (org_id, order_id) references app.orders (org_id, id)
);
create index loyalty_redemptions_org_id_customer_id_idx on app.loyalty_redemptions (org_id, customer_id, id);
comment on table app.loyalty_redemptions is 'A reward a customer took: what it cost (drawn from the ledger as redeem entries) and what it gave; reversed gives the points back and takes the reward back.';

-- A reward of credit on the balance is an entry of the customer's balance ledger.
alter table app.customer_balance_entries drop constraint customer_balance_entries_source_kind_check;
alter table app.customer_balance_entries add constraint customer_balance_entries_source_kind_check
  check (source_kind in ('credit_note', 'overpayment', 'failed_refund', 'payment', 'refund', 'reward',
                         'reward_reversed'));

-- Tiers as they change: each customer's tier kept beside the ledger (a summary a test proves
-- equal to what the ledger says), with when it must next be looked at (when the oldest earning
-- in its 12 months leaves them), and every promotion and demotion as an event.
create table app.loyalty_members (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  customer_id uuid not null,
  tier text,
  review_at timestamptz,
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, customer_id),
  foreign key (org_id, customer_id) references app.customers (org_id, id)
);
create index loyalty_members_review_at_idx on app.loyalty_members (review_at) where review_at is not null;
comment on table app.loyalty_members is 'Each customer''s loyalty tier as the ledger makes it, and when the scheduler must look again (an earning leaving the rolling 12 months may demote).';

create table app.loyalty_tier_events (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  customer_id uuid not null,
  from_tier text,
  to_tier text,
  direction text not null check (direction in ('promotion', 'demotion')),
  points_earned_12_months bigint not null,
  at timestamptz not null,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id)
);
create index loyalty_tier_events_org_id_customer_id_idx on app.loyalty_tier_events (org_id, customer_id, at);
comment on table app.loyalty_tier_events is 'Each time a customer''s tier changed: promoted by what they earned, or demoted as earnings left the rolling 12 months (for messaging later).';

create trigger audit_change after insert or update or delete on app.loyalty_rewards
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.loyalty_redemptions
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.loyalty_tier_events
  for each row execute function audit.record_change('org_id');
grant select, insert, update on app.loyalty_rewards, app.loyalty_redemptions to favcrm_member;
grant select, insert on app.loyalty_tier_events to favcrm_member;
grant select, insert, update on app.loyalty_members to favcrm_member;
create trigger audit_change after insert or update or delete on app.loyalty_members
  for each row execute function audit.record_change('org_id');

create trigger audit_change after insert or update or delete on app.loyalty_programmes
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.loyalty_entries
  for each row execute function audit.record_change('org_id');
grant select, insert, update on app.loyalty_programmes to favcrm_member;
grant select, insert on app.loyalty_entries to favcrm_member;

-- Keys that held every scope of their holder's role keep doing so: they gain the loyalty
-- scopes (owners, admins and managers loyalty:read and loyalty:write; staff loyalty:read), as
-- V17 to V19 did.
-- keys: begin
alter table app.api_keys no force row level security;
alter table app.memberships no force row level security;
alter table audit.event no force row level security;
alter table app.api_keys disable trigger audit_change;
with roles (role, had, added) as (values
  ('owner', array['audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read',
                  'commerce:write','customers:read','customers:write','keys:read','keys:write','organisation:read',
                  'organisation:write','subscriptions:read','subscriptions:write','team:read','team:write'],
   array['loyalty:read','loyalty:write']),
  ('admin', array['audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read',
                  'commerce:write','customers:read','customers:write','keys:read','keys:write','organisation:read',
                  'organisation:write','subscriptions:read','subscriptions:write','team:read','team:write'],
   array['loyalty:read','loyalty:write']),
  ('manager', array['billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write',
                    'customers:read','customers:write','keys:read','keys:write','organisation:read',
                    'subscriptions:read','subscriptions:write','team:read','team:write'],
   array['loyalty:read','loyalty:write']),
  ('staff', array['billing:read','bookings:read','bookings:write','commerce:read','customers:read','customers:write',
                  'organisation:read','subscriptions:read','team:read'],
   array['loyalty:read'])),
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
select c.org_id, 'migration', 'V20__create_loyalty', 'api_keys', c.id, 'update',
       pg_catalog.jsonb_build_object('scopes', c.before), pg_catalog.jsonb_build_object('scopes', c.after)
  from candidates c join changed x on x.org_id = c.org_id and x.id = c.id;
alter table app.api_keys enable trigger audit_change;
alter table audit.event force row level security;
alter table app.api_keys force row level security;
alter table app.memberships force row level security;
-- keys: end

-- Earning happens in the transaction that records the event, whichever way it comes (a payment
-- recorded by hand or by Stripe's event, a refund that succeeds at once or when Stripe says so,
-- a booking completed): these triggers hand each event to the earning entry points of
-- sql/operations/loyalty.sql, which apply the programme's rules exactly once per event.
create function app.loyalty_on_payment() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform auth.earn_loyalty_for_payment(new.id);
  return null;
end
$$;
comment on function app.loyalty_on_payment() is 'Trigger: a payment recorded earns its loyalty points (auth.earn_loyalty_for_payment).';

create function app.loyalty_on_refund() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.status = 'succeeded' and (tg_op = 'INSERT' or old.status is distinct from 'succeeded') then
    perform auth.reverse_loyalty_for_refund(new.id);
  end if;
  return null;
end
$$;
comment on function app.loyalty_on_refund() is 'Trigger: a refund that succeeded takes back its share of the payment''s points (auth.reverse_loyalty_for_refund).';

create function app.loyalty_on_booking() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.status = 'completed' and old.status is distinct from 'completed' then
    perform auth.earn_loyalty_for_booking(new.id);
  end if;
  return null;
end
$$;
comment on function app.loyalty_on_booking() is 'Trigger: a booking completed earns its points and stamp (auth.earn_loyalty_for_booking).';

create trigger loyalty_earn after insert on app.payments
  for each row execute function app.loyalty_on_payment();
create trigger loyalty_reverse after insert or update of status on app.refunds
  for each row execute function app.loyalty_on_refund();
create trigger loyalty_earn after update of status on app.bookings
  for each row execute function app.loyalty_on_booking();
