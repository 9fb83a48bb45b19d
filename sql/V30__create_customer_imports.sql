-- Customer import (issue 16): a file of customers (CSV or JSON rows) is previewed first — each
-- row mapped, checked and matched against the file and the organisation's customers, and what
-- would be created, updated or skipped kept row by row — then committed by its id, exactly as
-- previewed or not at all. The operations are in sql/operations/imports.sql.

create table app.customer_imports (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  status text not null default 'staging' check (status in ('staging', 'previewed', 'committed')),
  format text not null check (format in ('csv', 'json')),
  columns text[] not null default '{}',
  mapping jsonb not null default '{}' check (pg_catalog.jsonb_typeof(mapping) = 'object'),
  on_existing text not null default 'update' check (on_existing in ('update', 'skip')),
  tags text[] not null default '{}' check (pg_catalog.cardinality(tags) <= 50),
  counts jsonb not null default '{}',
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  previewed_at timestamptz,
  expires_at timestamptz not null default pg_catalog.now() + interval '24 hours',
  committed_at timestamptz,
  primary key (org_id, id),
  check ((status = 'committed') = (committed_at is not null))
);
comment on table app.customer_imports is 'A batch of customers to import: staged row by row, previewed (each row''s action decided and kept), then committed exactly as previewed, once. Uncommitted previews expire after 24 hours.';
comment on column app.customer_imports.mapping is 'File column → customer field (name, firstName, lastName, email, phone, lifecycleStage, source, tags, consent.email|sms|whatsapp, customFields.<key>).';
comment on column app.customer_imports.counts is 'How many rows the preview would create, update, skip, and found in error.';

create table app.customer_import_rows (
  org_id uuid not null,
  import_id uuid not null,
  line int not null check (line >= 1),
  raw jsonb not null check (pg_catalog.jsonb_typeof(raw) = 'object'),
  action text check (action in ('create', 'update', 'skip', 'error')),
  reason text,
  errors jsonb,
  duplicate_of int,
  customer_id uuid,
  customer_seen timestamptz,
  customer jsonb,
  changes text[],
  primary key (org_id, import_id, line),
  foreign key (org_id, import_id) references app.customer_imports (org_id, id) on delete cascade
);
comment on table app.customer_import_rows is 'One row of an import: the file''s cells (raw), and from the preview its action, why (reason, errors, the row it duplicates), the customer it creates or updates and that customer''s fields as they will be.';
comment on column app.customer_import_rows.line is 'The row''s number among the file''s data rows (1 is the first row after a CSV header).';
comment on column app.customer_import_rows.customer_seen is 'The updated_at of the customer an update row changes, as the preview saw it: a commit finding another refuses (import_stale).';
comment on column app.customer_import_rows.customer is 'The customer''s fields after the import (create and update rows), in app.customers column names.';

create index customers_org_id_phone_idx on app.customers (org_id, phone) where deleted_at is null and phone is not null;

grant select, insert, update on app.customer_imports to favcrm_member;
grant select, insert, update on app.customer_import_rows to favcrm_member;

-- Audited as members start and commit them (the customers an import changes are audited row by
-- row as ever); the purge of expired previews, which acts for nobody, is not.
create trigger audit_change after insert or update on app.customer_imports
  for each row execute function audit.record_change('org_id');
