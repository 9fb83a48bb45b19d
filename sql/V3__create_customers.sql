-- Customers and customer notes.

create table app.customers (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  name text not null check (pg_catalog.char_length(name) between 1 and 200),
  email text check (pg_catalog.char_length(email) <= 254 and email = pg_catalog.lower(email)
                    and email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
  phone text check (phone ~ '^\+?[0-9]{5,20}$'),
  lifecycle_stage text not null default 'customer'
    check (lifecycle_stage in ('lead', 'prospect', 'customer', 'vip', 'churned')),
  source text check (pg_catalog.char_length(source) between 1 and 64),
  tags text[] not null default '{}' check (pg_catalog.cardinality(tags) <= 50),
  custom_fields jsonb not null default '{}'
    check (pg_catalog.jsonb_typeof(custom_fields) = 'object' and pg_catalog.octet_length(custom_fields::text) <= 16384),
  marketing_consent jsonb not null default '{}' check (pg_catalog.jsonb_typeof(marketing_consent) = 'object'),
  last_activity_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  deleted_at timestamptz,
  primary key (org_id, id)
);
create unique index customers_org_id_email_key on app.customers (org_id, email)
  where deleted_at is null and email is not null;
create index customers_org_id_tags_idx on app.customers using gin (tags);
create index customers_search_idx on app.customers
  using gin ((name || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '')) ext.gin_trgm_ops);
comment on table app.customers is 'People a business serves. Soft-deleted rows keep deleted_at and can be restored.';
comment on column app.customers.email is 'Lower-cased; unique among the organisation''s customers that are not deleted.';
comment on column app.customers.phone is 'Digits with an optional leading +, separators removed.';
comment on column app.customers.lifecycle_stage is 'lead, prospect, customer, vip or churned.';
comment on column app.customers.tags is 'Lower-case labels, sorted, without duplicates.';
comment on column app.customers.marketing_consent is 'Per channel (email, sms, whatsapp): {"granted": bool, "at": time of the last change, "source": where it was given}.';
comment on column app.customers.last_activity_at is 'Last interaction (a note, later bookings and payments); drives inactiveDays.';

create table app.customer_notes (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  customer_id uuid not null,
  body text not null check (pg_catalog.char_length(body) between 1 and 10000),
  author_user_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  foreign key (org_id, customer_id) references app.customers (org_id, id)
);
create index customer_notes_org_id_customer_id_idx on app.customer_notes (org_id, customer_id, id);
comment on table app.customer_notes is 'Free-text notes the team keeps about a customer. Append-only for runtime roles.';

create trigger audit_change after insert or update or delete on app.customers
  for each row execute function audit.record_change('org_id', 'last_activity_at');
create trigger audit_change after insert or update or delete on app.customer_notes
  for each row execute function audit.record_change('org_id');

grant select, insert, update on app.customers to favcrm_member;
grant select, insert on app.customer_notes to favcrm_member;

