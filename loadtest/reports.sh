#!/usr/bin/env bash
# Issue 16's measure (see loadtest/README.md): each report over a year of data for an organisation
# with 50,000 bookings and 20,000 invoices, beside another organisation holding as many.
#
#  1. Time per call over HTTP: the median of CALLS (5) calls of each report, one after another.
#  2. The plans of the statements inside each report (auto_explain, nested statements, as the
#     member role with the organisation's claims): a report must not read other organisations'
#     rows, so no sequential scan of a tenant table, and every index scan of one is bounded by
#     org_id. The script fails if a plan breaks that.
#
# Rows are written with SQL as the superuser (the audit trigger off for the seed only). Needs a
# release build and psql; about 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18086}
CALLS=${CALLS:-5}
. loadtest/server.sh
start_server reports
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$DATA/run" -p 5432 -U postgres -d postgres)
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
org() { FAVCRM_DATA_DIR=$DATA "$BIN" admin create-org --name "$1" --owner-email "$2" --country GB --json 2>/dev/null; }

seed() { # org id (KEY set to its key)
  seed_round_the_clock_staff
  "${PSQL[@]}" <<SQL
alter table app.customers disable trigger audit_change;
alter table app.bookings disable trigger audit_change;
alter table app.invoices disable trigger audit_change;
alter table app.payments disable trigger audit_change;
insert into app.customers (org_id, name, email, lifecycle_stage, created_at)
select '$1', 'Customer ' || i, 'c' || i || '@example.com', case when i % 50 = 0 then 'vip' else 'customer' end,
       pg_catalog.now() - interval '400 days' + i * interval '3 hours'
  from pg_catalog.generate_series(1, 2000) i;
-- 50,000 bookings over the last 365 days: each of the 40 staff one every 7 hours; 1 in 20 a
-- no-show, 2 in 20 cancelled (one of them late), the rest completed.
insert into app.bookings (org_id, service_id, staff_id, customer_id, status, late_cancel, starts_at, ends_at, blocked,
                          price_amount, currency)
select '$1', '$SERVICE', ('$STAFF_ARRAY'::uuid[])[1 + i % 40], c.id,
       case i % 20 when 0 then 'no_show' when 1 then 'cancelled' when 2 then 'cancelled' else 'completed' end,
       case i % 20 when 1 then true when 2 then false end,
       s, s + interval '1 hour', pg_catalog.tstzrange(s, s + interval '1 hour'), 5000, 'GBP'
  from pg_catalog.generate_series(0, 49999) i,
       lateral (select pg_catalog.date_trunc('day', pg_catalog.now()) - interval '365 days' + (i / 40) * interval '7 hours' s) t,
       lateral (select id from app.customers where org_id = '$1' order by id offset i % 2000 limit 1) c;
-- 20,000 invoices finalised over the year, due 14 days later; three in four paid 3 days later.
insert into app.invoices (org_id, customer_id, status, series, year, sequence, number, currency, due_date,
                          subtotal_amount, total_amount, amount_paid, finalized_at, paid_at)
select '$1', c.id, case when i % 4 = 0 then 'open' else 'paid' end, 'INV', 2000 + i / 10000, 1 + i % 10000,
       'INV-' || i, 'GBP', (f + interval '14 days')::date, 5000 + i % 50 * 100, 5000 + i % 50 * 100,
       case when i % 4 = 0 then 0 else 5000 + i % 50 * 100 end, f, case when i % 4 <> 0 then f + interval '3 days' end
  from pg_catalog.generate_series(0, 19999) i,
       lateral (select pg_catalog.now() - interval '365 days' + i * interval '26 minutes' f) t,
       lateral (select id from app.customers where org_id = '$1' order by id offset i % 2000 limit 1) c;
insert into app.payments (org_id, invoice_id, customer_id, method, amount, currency, received_on)
select org_id, id, customer_id, 'card_terminal', total_amount, currency, (paid_at at time zone 'UTC')::date
  from app.invoices where org_id = '$1' and status = 'paid';
alter table app.customers enable trigger audit_change;
alter table app.bookings enable trigger audit_change;
alter table app.invoices enable trigger audit_change;
alter table app.payments enable trigger audit_change;
SQL
}

echo "seeding two organisations of 2,000 customers, 50,000 bookings and 20,000 invoices each"
OTHER=$(org "Other" other@example.com); BIG=$(org "Big" big@example.com)
KEY=$(echo "$OTHER" | json '["apiKey"]'); seed "$(echo "$OTHER" | json '["organisationId"]')"
KEY=$(echo "$BIG" | json '["apiKey"]'); ORG=$(echo "$BIG" | json '["organisationId"]'); seed "$ORG"
"${PSQL[@]}" -c 'vacuum analyze app.customers, app.bookings, app.invoices, app.payments'
"${PSQL[@]}" -c "select 'in all: ' || (select count(*) from app.bookings) || ' bookings, ' || (select count(*) from app.invoices) || ' invoices'"

read -r FROM TO < <(python3 -c '
import datetime as d
today = d.datetime.now(d.timezone.utc).date()
print(today - d.timedelta(days=364), today)')
REPORTS=(
  "report_revenue /v1/reports/revenue from=$FROM&to=$TO&groupBy=month {\"from\":\"$FROM\",\"to\":\"$TO\",\"groupBy\":\"month\"}"
  "report_bookings /v1/reports/bookings from=$FROM&to=$TO&groupBy=month {\"from\":\"$FROM\",\"to\":\"$TO\",\"groupBy\":\"month\"}"
  "report_customers /v1/reports/customers from=$FROM&to=$TO&groupBy=month {\"from\":\"$FROM\",\"to\":\"$TO\",\"groupBy\":\"month\"}"
  "report_overdue_invoices /v1/reports/overdue-invoices asOf=$TO {\"asOf\":\"$TO\"}"
  "report_loyalty /v1/reports/loyalty from=$FROM&to=$TO&groupBy=month {\"from\":\"$FROM\",\"to\":\"$TO\",\"groupBy\":\"month\"}"
  "report_subscriptions /v1/reports/subscriptions from=$FROM&to=$TO {\"from\":\"$FROM\",\"to\":\"$TO\"}"
  "report_campaigns /v1/reports/campaigns from=$FROM&to=$TO {\"from\":\"$FROM\",\"to\":\"$TO\"}"
)
FAILED=0
printf '%-26s %10s  %s\n' report "ms/call" "plan"
for line in "${REPORTS[@]}"; do
  read -r NAME PATH_ QUERY INPUT <<<"$line"
  times=()
  for _ in $(seq 1 "$CALLS"); do
    times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$BASE$PATH_?$QUERY" -H "Authorization: Bearer $KEY")")
  done
  ms=$(printf '%s\n' "${times[@]}" | sort -n | awk -v n="$CALLS" 'NR == int((n + 1) / 2) { printf "%.1f", $1 * 1000 }')
  # The plans of every statement the report runs, as the member role acting for the organisation.
  plans=$("${PSQL[@]}" 2>&1 >/dev/null <<SQL
load 'auto_explain';
set auto_explain.log_min_duration = 0;
set auto_explain.log_nested_statements = on;
set auto_explain.log_analyze = on;
set auto_explain.log_timing = off;
set auto_explain.log_format = 'json';
set client_min_messages = log;
begin;
set local role favcrm_member;
select auth.act_for_system('$ORG', 'rest', '$NAME');
select api.$NAME('$INPUT'::jsonb);
rollback;
SQL
)
  verdict=$(printf '%s' "$plans" | python3 loadtest/plan_check.py) || FAILED=1
  printf '%-26s %10s  %s\n' "$NAME" "$ms" "$verdict"
done
exit $FAILED
