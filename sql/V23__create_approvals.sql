-- Approvals (issue 15, third part): what an agent key asks for that the organisation wants a
-- person to approve (a message to a customer, a refund) waits as an approval holding an immutable
-- snapshot of exactly what will happen; a person (or an app key) approves or rejects it, and on
-- approval exactly the snapshot is carried out, once. The rules are written at the top of
-- sql/operations/approvals.sql.

create table app.approvals (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  operation text not null,
  summary text not null,
  snapshot jsonb not null,
  status text not null default 'pending'
    check (status in ('pending', 'approved', 'rejected', 'failed')),
  requested_by_key_id uuid,
  requested_by_user_id uuid,
  requested_via text,
  decided_by_key_id uuid,
  decided_by_user_id uuid,
  decided_via text,
  decided_at timestamptz,
  decision_note text check (pg_catalog.char_length(decision_note) <= 500),
  result jsonb,
  error text,
  expires_at timestamptz not null,
  created_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id),
  check ((status = 'pending') = (decided_at is null))
);
comment on table app.approvals is 'An operation an agent key asked for that waits for a person: the snapshot of exactly what will happen (a message as rendered with its recipient, a refund''s amount), who asked, who decided, and what carrying it out gave.';
comment on column app.approvals.snapshot is 'Immutable: what approve carries out, exactly (no column or policy lets it change).';
comment on column app.approvals.status is 'pending (until expires_at: then it is shown as expired and can no longer be approved), approved (carried out; result), rejected, failed (approved, but what it would do was no longer allowed: error).';
create index approvals_by_status on app.approvals (org_id, status, id);

create table app.approval_settings (
  org_id uuid not null references app.organisations (id),
  id uuid not null default app.uuid_v7(),
  operations text[] not null,
  expires_after_hours int not null default 72 check (expires_after_hours between 1 and 720),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (org_id, id)
);
comment on table app.approval_settings is 'Which operations an agent key''s call turns into an approval (one row; until set: send_message, send_campaign and refund_payment) and how long an approval waits.';
create unique index approval_settings_one on app.approval_settings (org_id);

grant select, insert, update on app.approvals, app.approval_settings to favcrm_member;
-- The snapshot and who asked are never changed after the approval is written.
revoke update on app.approvals from favcrm_member;
grant update (status, decided_by_key_id, decided_by_user_id, decided_via, decided_at, decision_note, result, error)
  on app.approvals to favcrm_member;

create trigger audit_change after insert or update or delete on app.approvals
  for each row execute function audit.record_change('org_id');
create trigger audit_change after insert or update or delete on app.approval_settings
  for each row execute function audit.record_change('org_id');

-- The approvals scopes for keys that held every scope their holder's role allowed (see V17).
-- keys: begin
alter table app.api_keys no force row level security;
alter table app.memberships no force row level security;
alter table audit.event no force row level security;
alter table app.api_keys disable trigger audit_change;
with roles (role, had, added) as (values
  ('owner', array['audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read',
                  'commerce:write','customers:read','customers:write','keys:read','keys:write','loyalty:read',
                  'loyalty:write','messaging:read','messaging:write','organisation:read','organisation:write',
                  'subscriptions:read','subscriptions:write','team:read','team:write','webhooks:read','webhooks:write'],
   array['approvals:decide','approvals:read','approvals:write']),
  ('admin', array['audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read',
                  'commerce:write','customers:read','customers:write','keys:read','keys:write','loyalty:read',
                  'loyalty:write','messaging:read','messaging:write','organisation:read','organisation:write',
                  'subscriptions:read','subscriptions:write','team:read','team:write','webhooks:read','webhooks:write'],
   array['approvals:decide','approvals:read','approvals:write']),
  ('manager', array['billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write',
                    'customers:read','customers:write','keys:read','keys:write','loyalty:read','loyalty:write',
                    'messaging:read','messaging:write','organisation:read','subscriptions:read','subscriptions:write',
                    'team:read','team:write'],
   array['approvals:decide','approvals:read'])),
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
select c.org_id, 'migration', 'V23__create_approvals', 'api_keys', c.id, 'update',
       pg_catalog.jsonb_build_object('scopes', c.before), pg_catalog.jsonb_build_object('scopes', c.after)
  from candidates c join changed x on x.org_id = c.org_id and x.id = c.id;
alter table app.api_keys enable trigger audit_change;
alter table audit.event force row level security;
alter table app.api_keys force row level security;
alter table app.memberships force row level security;
-- keys: end

-- An approval asked for, approved or rejected is an event for webhooks (as V21's triggers).
create function app.webhooks_on_approval() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform app.approval_webhook(tg_op, old, new);
  return null;
end
$$;
comment on function app.webhooks_on_approval() is 'Trigger: an approval asked for, approved, rejected or failed is an event for webhooks (app.approval_webhook).';
create trigger webhooks after insert or update of status on app.approvals
  for each row execute function app.webhooks_on_approval();
