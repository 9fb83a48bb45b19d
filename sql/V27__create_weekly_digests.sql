-- The weekly digest (issue 16): each organisation's week summed up once it is over (revenue,
-- bookings, no-shows, overdue invoices, inactive VIPs, beside the week before), kept as a
-- snapshot, and emailed to its owners through the outbox when the organisation asks for it.
-- Made by the scheduler (auth.make_weekly_digest, sql/operations/digests.sql).

alter table app.organisations add column digest_email boolean not null default false;
comment on column app.organisations.digest_email is 'Whether the weekly digest is emailed to the organisation''s owners (it is kept either way).';

create table app.report_digests (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  week_start date not null,
  week_end date not null check (week_end = week_start + 6),
  timezone text not null,
  summary jsonb not null check (pg_catalog.jsonb_typeof(summary) = 'object'),
  emailed_to text[] not null default '{}',
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  unique (org_id, week_start)
);
comment on table app.report_digests is 'One organisation''s week summed up once it was over, in its time zone and from its first weekday: revenue, bookings, no-shows, overdue invoices and inactive VIPs beside the week before. Written once per week (unique), never changed.';
comment on column app.report_digests.emailed_to is 'The owners'' addresses the digest was queued to (the outbox has each delivery).';

grant select, insert on app.report_digests to favcrm_member;

create trigger audit_change after insert or update or delete on app.report_digests
  for each row execute function audit.record_change('org_id');
