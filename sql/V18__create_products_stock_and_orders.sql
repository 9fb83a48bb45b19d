-- Commerce, first part: products get a SKU and, when they track stock, a stock level that is
-- the sum of an append-only ledger of movements (received, counted, adjusted, reserved by an
-- order and released when it is cancelled). No counter is edited in place: a movement that
-- would take the level below zero is refused under the product's row lock. Orders hold lines of
-- products and services, reserve stock when made and are paid through an invoice.

alter table app.products
  add column sku text check (sku ~ '^[A-Z0-9][A-Z0-9._-]{0,63}$'),
  add column track_stock boolean not null default false;
create unique index products_org_id_sku_key on app.products (org_id, sku);
comment on column app.products.sku is 'Stock-keeping unit, unique in the organisation, stored upper-case (sku-1 and SKU-1 are one).';
comment on column app.products.track_stock is 'When true, the product has a stock level (the sum of its movements) that never goes below zero.';

create table app.promotions (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  code text not null check (code ~ '^[A-Z0-9][A-Z0-9_-]{1,39}$'),
  description text check (pg_catalog.char_length(description) <= 500),
  percent_off_bp int check (percent_off_bp between 1 and 10000),
  amount_off bigint check (amount_off > 0),
  currency text check (currency ~ '^[A-Z]{3}$'),
  applies_to text[] not null default '{products,services}'
    check (applies_to <@ '{products,services,plans}' and pg_catalog.cardinality(applies_to) > 0),
  min_spend bigint not null default 0 check (min_spend >= 0),
  starts_at timestamptz,
  ends_at timestamptz,
  max_redemptions int check (max_redemptions > 0),
  max_per_customer int check (max_per_customer > 0),
  deactivated_at timestamptz,
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  -- Either a percentage, or an amount in a currency.
  check ((percent_off_bp is null) <> (amount_off is null) and (amount_off is null) = (currency is null)),
  check (ends_at is null or starts_at is null or ends_at > starts_at)
);
create unique index promotions_org_id_code_key on app.promotions (org_id, code);
comment on table app.promotions is 'Codes that take a percentage or an amount off what an order spends on the kinds it applies to, within a window, up to a number of redemptions in all and per customer.';

create table app.orders (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  customer_id uuid not null,
  status text not null default 'open' check (status in ('open', 'fulfilled', 'cancelled')),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  memo text check (pg_catalog.char_length(memo) <= 5000),
  invoice_id uuid,
  promotion_id uuid,
  discount_amount bigint not null default 0 check (discount_amount >= 0),
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  fulfilled_at timestamptz,
  cancelled_at timestamptz,
  primary key (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id),
  foreign key (org_id, invoice_id) references app.invoices (org_id, id),
  foreign key (org_id, promotion_id) references app.promotions (org_id, id)
);
create index orders_org_id_promotion_id_idx on app.orders (org_id, promotion_id, customer_id);
create index orders_org_id_customer_id_idx on app.orders (org_id, customer_id, id);
create index orders_org_id_invoice_id_idx on app.orders (org_id, invoice_id);
comment on table app.orders is 'Things a customer buys: open (stock reserved) → fulfilled, or cancelled (stock released). Paid through an invoice (invoice_id) made by pay_order. A promotion redeemed is the order''s promotion_id: its redemptions are the orders that name it and are not cancelled, counted under the promotion''s row lock.';

create table app.order_lines (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  order_id uuid not null,
  position int not null check (position > 0),
  kind text not null check (kind in ('product', 'service')),
  product_id uuid,
  service_id uuid,
  description text not null check (pg_catalog.char_length(description) between 1 and 500),
  quantity int not null check (quantity between 1 and 1000000),
  unit_amount bigint not null check (unit_amount >= 0),
  discount_amount bigint not null default 0 check (discount_amount >= 0),
  primary key (org_id, id),
  foreign key (org_id, order_id) references app.orders (org_id, id),
  foreign key (org_id, product_id) references app.products (org_id, id),
  foreign key (org_id, service_id) references app.services (org_id, id),
  check ((kind = 'product') = (product_id is not null) and (kind = 'service') = (service_id is not null))
);
create unique index order_lines_org_id_order_id_position_key on app.order_lines (org_id, order_id, position);
create index order_lines_org_id_product_id_idx on app.order_lines (org_id, product_id);
create index order_lines_org_id_service_id_idx on app.order_lines (org_id, service_id);
comment on table app.order_lines is 'An order''s lines, priced when the order was made (tax comes with the invoice).';

create table app.stock_movements (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  product_id uuid not null,
  quantity int not null check (quantity <> 0 and quantity between -1000000 and 1000000),
  reason text not null check (reason in ('received', 'count', 'adjustment', 'damaged', 'returned', 'reserved',
                                         'released')),
  order_id uuid,
  note text check (pg_catalog.char_length(note) <= 500),
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, product_id) references app.products (org_id, id),
  foreign key (org_id, order_id) references app.orders (org_id, id)
);
create index stock_movements_org_id_product_id_idx on app.stock_movements (org_id, product_id, id);
create index stock_movements_org_id_order_id_idx on app.stock_movements (org_id, order_id);
comment on table app.stock_movements is 'Append-only ledger of a product''s stock: the level is the sum of its quantities (positive in, negative out).';

create trigger audit_change after insert or update or delete on app.stock_movements
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.promotions
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.orders
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.order_lines
  for each row execute function audit.record_change('org_id');
grant select, insert on app.stock_movements, app.order_lines to favcrm_member;
-- A promotion's discount is spread over the lines of the order just made.
grant update (discount_amount) on app.order_lines to favcrm_member;
grant select, insert, update on app.orders, app.promotions to favcrm_member;

-- Keys that held every scope of their holder's role keep doing so: they gain the commerce
-- scopes (owners, admins and managers commerce:read and commerce:write; staff commerce:read),
-- as V17 did for billing.
-- keys: begin
alter table app.api_keys no force row level security;
alter table app.memberships no force row level security;
alter table audit.event no force row level security;
alter table app.api_keys disable trigger audit_change;
with roles (role, had, added) as (values
  ('owner', array['audit:read','billing:read','billing:write','bookings:read','bookings:write','customers:read',
                  'customers:write','keys:read','keys:write','organisation:read','organisation:write','team:read',
                  'team:write'],
   array['commerce:read','commerce:write']),
  ('admin', array['audit:read','billing:read','billing:write','bookings:read','bookings:write','customers:read',
                  'customers:write','keys:read','keys:write','organisation:read','organisation:write','team:read',
                  'team:write'],
   array['commerce:read','commerce:write']),
  ('manager', array['billing:read','billing:write','bookings:read','bookings:write','customers:read','customers:write',
                    'keys:read','keys:write','organisation:read','team:read','team:write'],
   array['commerce:read','commerce:write']),
  ('staff', array['billing:read','bookings:read','bookings:write','customers:read','customers:write',
                  'organisation:read','team:read'],
   array['commerce:read'])),
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
select c.org_id, 'migration', 'V18__create_products_stock_and_orders', 'api_keys', c.id, 'update',
       pg_catalog.jsonb_build_object('scopes', c.before), pg_catalog.jsonb_build_object('scopes', c.after)
  from candidates c join changed x on x.org_id = c.org_id and x.id = c.id;
alter table app.api_keys enable trigger audit_change;
alter table audit.event force row level security;
alter table app.api_keys force row level security;
alter table app.memberships force row level security;
-- keys: end
