#!/usr/bin/env bash
# Where a booking's database time goes, part by part: each step of api.create_booking run N
# times (default 300) in a PL/pgSQL loop inside one transaction that is rolled back, as
# favcrm_member with a real key's claims, timed with clock_timestamp(). CPU only: no commit, no
# concurrency, no network. 40 staff working round the clock, a 30-minute service open 730 days
# ahead (as in ratios.sh), distinct starts. About 30 seconds. Needs a release build and psql.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-300}  # at most 633: each loop's starts stay inside its own 2,000 half-hours
PORT=${PORT:-18082}
. loadtest/server.sh
start_server booking-parts
ORG=$(FAVCRM_DATA_DIR=$DATA "$BIN" admin create-org --name Parts --owner-email parts@example.com --json 2>/dev/null)
KEY=$(echo "$ORG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
ORG_ID=$(echo "$ORG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["organisationId"])')
DIGEST=$(printf '%s' "$KEY" | sha256sum | cut -d' ' -f1)
seed_round_the_clock_staff
PSQL=(psql -X -q -At -h "$DATA/run" -p 5432 -U postgres -d postgres)
# Some bookings first, so the probes have rows to step over; the loops below book distinct
# starts well before them (loop k: 96 + 2000 k + 3 i half-hours from today), so none collide.
for i in $(seq 1 200); do
  echo "{\"serviceId\":\"$SERVICE\",\"start\":\"$(python3 -c "import datetime,random; d=datetime.datetime.now(datetime.timezone.utc).replace(hour=0,minute=0,second=0,microsecond=0)+datetime.timedelta(minutes=30*random.randint(20000,33600)); print(d.strftime('%Y-%m-%dT%H:%M:%SZ'))")\",\"customer\":{\"name\":\"Seed $i\",\"email\":\"seed$i@example.com\"}}"
done | xargs -d '\n' -P 4 -I{} curl -s -o /dev/null -X POST "$BASE/v1/bookings" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d {}
"${PSQL[@]}" -c 'analyze'
"${PSQL[@]}" 2>&1 <<SQL | sed -n 's/^NOTICE:  //p'
begin;
select set_config('role', 'favcrm_member', true);
select auth.authenticate('\\x$DIGEST'::bytea,
  '{"via":"rest","op":"create_booking","request_id":"parts","args_digest":"00","confirmation_digest":null}') is not null;
do \$\$
declare
  t0 timestamptz;
  n int := $N;
  st uuid[] := (select pg_catalog.array_agg(id) from app.staff);
  s app.services := app.service_for('$SERVICE'::uuid, false);
  v_customer uuid;
  b app.bookings;
  j jsonb;
  x uuid;
  i int;
begin
  t0 := pg_catalog.clock_timestamp();
  for i in 1..n loop
    perform api.create_booking(pg_catalog.jsonb_build_object('serviceId', s.id,
      'start', pg_catalog.date_trunc('day', pg_catalog.now()) + (96 + i * 3) * interval '30 minutes',
      'customer', pg_catalog.jsonb_build_object('name', 'W' || i, 'email', 'w' || i || '@example.com')));
  end loop;
  raise notice '% us  api.create_booking, any staff, a new customer (whole call)', round(extract(epoch from clock_timestamp() - t0) * 1e6 / n);
  t0 := pg_catalog.clock_timestamp();
  for i in 1..n loop
    perform api.create_booking(pg_catalog.jsonb_build_object('serviceId', s.id, 'staffId', st[1 + i % 40],
      'start', pg_catalog.date_trunc('day', pg_catalog.now()) + (2096 + i * 3) * interval '30 minutes',
      'customer', pg_catalog.jsonb_build_object('name', 'V' || i, 'email', 'v' || i || '@example.com')));
  end loop;
  raise notice '% us  api.create_booking, one staff member, a new customer (whole call)', round(extract(epoch from clock_timestamp() - t0) * 1e6 / n);
  t0 := pg_catalog.clock_timestamp();
  for i in 1..n loop perform auth.require_scope('bookings:write'); end loop;
  raise notice '% us  auth.require_scope', round(extract(epoch from clock_timestamp() - t0) * 1e6 / n);
  t0 := pg_catalog.clock_timestamp();
  for i in 1..n loop s := app.service_for(s.id, false); end loop;
  raise notice '% us  app.service_for', round(extract(epoch from clock_timestamp() - t0) * 1e6 / n);
  t0 := pg_catalog.clock_timestamp();
  for i in 1..n loop x := (app.staff_for(st[1])).id; end loop;
  raise notice '% us  app.staff_for', round(extract(epoch from clock_timestamp() - t0) * 1e6 / n);
  t0 := pg_catalog.clock_timestamp();
  for i in 1..n loop
    v_customer := app.booking_customer(pg_catalog.jsonb_build_object('customer',
      pg_catalog.jsonb_build_object('name', 'U' || i, 'email', 'u' || i || '@example.com')));
  end loop;
  raise notice '% us  app.booking_customer, a new customer (insert, search text, audit row)', round(extract(epoch from clock_timestamp() - t0) * 1e6 / n);
  -- The same calls again on purpose: now each finds the customer the loop above created.
  t0 := pg_catalog.clock_timestamp();
  for i in 1..n loop
    v_customer := app.booking_customer(pg_catalog.jsonb_build_object('customer',
      pg_catalog.jsonb_build_object('name', 'U' || i, 'email', 'u' || i || '@example.com')));
  end loop;
  raise notice '% us  app.booking_customer, a known customer (found by e-mail, last activity updated)', round(extract(epoch from clock_timestamp() - t0) * 1e6 / n);
  t0 := pg_catalog.clock_timestamp();
  for i in 1..n loop
    b := app.take_slot(s, pg_catalog.date_trunc('day', pg_catalog.now()) + (4096 + i * 3) * interval '30 minutes',
                       st[1 + i % 40], null, v_customer, 'confirmed', null, null);
  end loop;
  raise notice '% us  app.take_slot, one staff member (checks, calendar lock, insert, audit row)', round(extract(epoch from clock_timestamp() - t0) * 1e6 / n);
  t0 := pg_catalog.clock_timestamp();
  for i in 1..n loop
    b := app.take_slot(s, pg_catalog.date_trunc('day', pg_catalog.now()) + (6096 + i * 3) * interval '30 minutes',
                       null, null, v_customer, 'confirmed', null, null);
  end loop;
  raise notice '% us  app.take_slot, any of 40 staff', round(extract(epoch from clock_timestamp() - t0) * 1e6 / n);
  t0 := pg_catalog.clock_timestamp();
  for i in 1..n loop j := app.booking_json(b); end loop;
  raise notice '% us  app.booking_json', round(extract(epoch from clock_timestamp() - t0) * 1e6 / n);
end
\$\$;
rollback;
SQL
