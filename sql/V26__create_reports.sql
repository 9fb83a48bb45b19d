-- Reports (issue 16, first part): the organisation's reporting settings, and the reports scope.
-- The reports themselves are functions over the real tables (sql/operations/reports.sql).

alter table app.organisations
  add column week_starts_on smallint not null default 1 check (week_starts_on between 1 and 7),
  add column staff_reports text not null default 'own' check (staff_reports in ('own', 'none'));
comment on column app.organisations.week_starts_on is 'The first day of the organisation''s week, ISO (1 Monday … 7 Sunday): where a report grouped by week starts each week.';
comment on column app.organisations.staff_reports is 'What staff see of reports: own (only what concerns their own bookings and invoices) or none.';

-- The reports scope for keys that held every scope their holder's role allowed (see V17). Every
-- role reads reports; staff only their own, or none (app.organisations.staff_reports).
-- keys: begin
alter table app.api_keys no force row level security;
alter table app.memberships no force row level security;
alter table audit.event no force row level security;
alter table app.api_keys disable trigger audit_change;
with roles (role, had, added) as (values
  ('owner', array['approvals:decide','approvals:read','approvals:write','audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write','customers:read','customers:write','keys:read','keys:write','loyalty:read','loyalty:write','messaging:read','messaging:write','organisation:read','organisation:write','subscriptions:read','subscriptions:write','team:read','team:write','webhooks:read','webhooks:write'],
   array['reports:read']),
  ('admin', array['approvals:decide','approvals:read','approvals:write','audit:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write','customers:read','customers:write','keys:read','keys:write','loyalty:read','loyalty:write','messaging:read','messaging:write','organisation:read','organisation:write','subscriptions:read','subscriptions:write','team:read','team:write','webhooks:read','webhooks:write'],
   array['reports:read']),
  ('manager', array['approvals:decide','approvals:read','billing:read','billing:write','bookings:read','bookings:write','commerce:read','commerce:write','customers:read','customers:write','keys:read','keys:write','loyalty:read','loyalty:write','messaging:read','messaging:write','organisation:read','subscriptions:read','subscriptions:write','team:read','team:write'],
   array['reports:read']),
  ('staff', array['billing:read','bookings:read','bookings:write','commerce:read','customers:read','customers:write','loyalty:read','messaging:read','organisation:read','subscriptions:read','team:read'],
   array['reports:read'])),
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
select c.org_id, 'migration', 'V26__create_reports', 'api_keys', c.id, 'update',
       pg_catalog.jsonb_build_object('scopes', c.before), pg_catalog.jsonb_build_object('scopes', c.after)
  from candidates c join changed x on x.org_id = c.org_id and x.id = c.id;
alter table app.api_keys enable trigger audit_change;
alter table audit.event force row level security;
alter table app.api_keys force row level security;
alter table app.memberships force row level security;
-- keys: end
