#!/usr/bin/env bash
# Goal 5 of issue 11, scale with data (see loadtest/README.md): the same request against a
# small organisation and a large one in one database, as a ratio.
#
#  1. list_customers with a search term, at 1,000 and at 100,000 customers: goal <= 3x slower.
#  2. get_available_slots for one staff member over 7 days, in an empty organisation and in one
#     holding 100,000 bookings (other staff, other months) with that staff member's own month
#     nearly full: goal <= 1.5x slower.
#
# Bulk rows are written with SQL as the superuser (triggers that keep search text stay on; the
# audit trigger is off for the seed only). Needs a release build, wrk and psql. Bounded: each
# figure is the best of ROUNDS (2) wrk runs of DURATION (5) seconds; about 2 minutes in all.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-8}
PORT=${PORT:-18082}
command -v wrk >/dev/null || { echo "wrk not found (Debian: apt-get install wrk)" >&2; exit 2; }
. loadtest/server.sh
start_server scale
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$DATA/run" -p 5432 -U postgres -d postgres)
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
org() { FAVCRM_DATA_DIR=$DATA "$BIN" admin create-org --name "$1" --owner-email "$2" --country GB --json 2>/dev/null; }
api() { curl -sf -X "$2" "$BASE$3" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' ${4:+-d "$4"}; }

# Customers: 60 first names x 80 surnames, so a full name is one customer in 4,800 and a
# surname one in 80. Numbered e-mail addresses and phone numbers, as real ones are distinct.
seed_customers() { # org id, count
  "${PSQL[@]}" <<SQL
alter table app.customers disable trigger audit_change;
insert into app.customers (org_id, name, email, phone, created_at)
select '$1', f.n || ' ' || l.n, pg_catalog.lower(f.n || '.' || l.n || i) || '@example.com',
       '+4477' || pg_catalog.lpad(i::text, 8, '0'), pg_catalog.now() - pg_catalog.make_interval(secs => $2 - i)
  from pg_catalog.generate_series(1, $2) i,
       lateral (select (pg_catalog.string_to_array('Amara Ben Chloe Dev Elena Farah Gus Hana Ivan Jade Kofi Lena Mateo Nia Omar Priya Quinn Rosa Sami Tara Uma Victor Wen Xavier Yara Zane Aiko Bruno Carmen Dmitri Esme Felix Grace Hugo Iris Jonas Kira Leo Maya Noor Oscar Pia Rafael Sofia Theo Una Vera Will Ximena Yusuf Zoe Alba Bilal Cora Dara Emil Fern Gil Hedda Ines', ' '))[1 + i % 60] n) f,
       lateral (select (pg_catalog.string_to_array('Okafor Smith Nguyen Garcia Muller Rossi Kowalski Tanaka Singh Chen Silva Dubois Novak Haddad Ibrahim Jensen Kaur Lopez Moreau Ng Olsen Park Quispe Reyes Sato Torres Ueda Varga Walsh Yilmaz Abara Brennan Castillo Dahl Eriksen Fischer Gallo Horvat Iyer Jovanovic Kim Lindqvist Mensah Nakamura Oduya Petrov Qureshi Romano Sandoval Tembo Usman Vogel Wozniak Xu Yamada Zhou Achterberg Bianchi Costa Delgado Eze Ferreira Gomez Huang Ito Juarez Kuznetsov Laine Mwangi Nilsen Ortiz Pham Quinn Rahman Schmidt Tran Uchenna Vidal Weber Zapata', ' '))[1 + (i / 60) % 80] n) l;
alter table app.customers enable trigger audit_change;
analyze app.customers; analyze search.customers;
SQL
}
echo "seeding 1,000 and 100,000 customers"
SMALL=$(org "Small" small@example.com); BIG=$(org "Big" big@example.com)
SMALL_KEY=$(echo "$SMALL" | json '["apiKey"]'); BIG_KEY=$(echo "$BIG" | json '["apiKey"]')
seed_customers "$(echo "$SMALL" | json '["organisationId"]')" 1000
seed_customers "$(echo "$BIG" | json '["organisationId"]')" 100000

# Slots: in each organisation one measured staff member working 06:00-24:00 every day with a
# 30-minute service of their own. The big one also has 40 other staff with 2,500 bookings each
# on the other staff's days from 40 to 700 days ahead, and the measured month nearly full.
HOURS=$(python3 -c 'import json; print(json.dumps({"hours": [{"weekday": d, "start": "06:00", "end": "24:00"} for d in range(1, 8)]}))')
setup_slots() { # key -> "service staff customer"
  local staff service customer
  staff=$(api "$1" POST /v1/staff '{"name":"Measured"}' | json '["id"]')
  api "$1" PUT "/v1/staff/$staff/working-hours" "$HOURS" >/dev/null
  service=$(api "$1" POST /v1/services "{\"name\":\"Trim\",\"durationMinutes\":30,\"maxAdvanceDays\":730,\"staffIds\":[\"$staff\"]}" | json '["id"]')
  customer=$(api "$1" POST /v1/customers '{"name":"Booked"}' | json '["id"]')
  echo "$service $staff $customer"
}
read -r EMPTY_SERVICE _ _ < <(setup_slots "$SMALL_KEY")
read -r BIG_SERVICE BIG_STAFF BIG_CUSTOMER < <(setup_slots "$BIG_KEY")
BIG_ORG=$(echo "$BIG" | json '["organisationId"]')
OTHERS=()
for i in $(seq 1 40); do OTHERS+=("$(api "$BIG_KEY" POST /v1/staff "{\"name\":\"Other $i\"}" | json '["id"]')"); done
OTHER_SERVICE=$(api "$BIG_KEY" POST /v1/services "{\"name\":\"Colour\",\"durationMinutes\":30,\"staffIds\":[\"${OTHERS[0]}\"]}" | json '["id"]')
read -r FROM TO7 TO31 < <(python3 - <<'PY'
import datetime as d
start = (d.datetime.now(d.timezone.utc) + d.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
z = lambda t: t.isoformat().replace('+00:00', 'Z')
print(z(start), z(start + d.timedelta(days=7)), z(start + d.timedelta(days=31)))
PY
)
echo "seeding 100,000 bookings of other staff and 1,000 of the measured one between $FROM and $TO31"
"${PSQL[@]}" <<SQL
alter table app.bookings disable trigger audit_change;
insert into app.bookings (org_id, service_id, staff_id, customer_id, status, starts_at, ends_at, blocked, price_amount, currency)
select '$BIG_ORG', '$OTHER_SERVICE', ('{$(IFS=,; echo "${OTHERS[*]}")}'::uuid[])[1 + i % 40], '$BIG_CUSTOMER', 'confirmed', s, s + interval '30 minutes',
       pg_catalog.tstzrange(s, s + interval '30 minutes'), 0, 'GBP'
  from pg_catalog.generate_series(0, 99999) i,
       lateral (select pg_catalog.date_trunc('day', pg_catalog.now()) + (40 + (i / 40) / 4) * interval '1 day'
                       + (12 + (i / 40) % 4 * 2) * interval '1 hour' s) t;
SQL
api "$BIG_KEY" GET "/v1/services/$BIG_SERVICE/slots?from=$FROM&to=$TO31" |
  python3 -c '
import json, sys
org, svc, staff, cust = sys.argv[1:]
slots = json.load(sys.stdin)["slots"]
picked = [slots[i * len(slots) // 1000] for i in range(min(1000, len(slots)))]
q = lambda v: "\x27" + v + "\x27"
print("insert into app.bookings (org_id, service_id, staff_id, customer_id, status, starts_at, ends_at, blocked, price_amount, currency) values")
print(",\n".join("(" + ", ".join([q(org), q(svc), q(staff), q(cust), q("confirmed"), q(s["start"]), q(s["end"]),
                                  "tstzrange(" + q(s["start"]) + ", " + q(s["end"]) + ")", "0", q("GBP")]) + ")" for s in picked) + ";")
' "$BIG_ORG" "$BIG_SERVICE" "$BIG_STAFF" "$BIG_CUSTOMER" | "${PSQL[@]}"
"${PSQL[@]}" -c 'alter table app.bookings enable trigger audit_change' -c 'analyze app.bookings'
"${PSQL[@]}" -c "select 'bookings in the big organisation: ' || count(*) from app.bookings where org_id = '$BIG_ORG'"

# The plan auth.search_customer_ids gets for the search (the same statement with the values
# its EXECUTE passes; search.customers has no row-level security, so the superuser's plan is
# the function's).
echo "== the search's plan at 100,000 customers"
"${PSQL[@]}" -c "explain (analyze, costs off, timing off, summary off)
  select s.id from search.customers s
   where s.org_id = '$BIG_ORG' and s.deleted = false
     and s.search_text ilike ('%' || app.escape_like('amara okafor') || '%')
   order by s.id desc limit 26"

declare -A FIG
best() { # key, key env, url
  local round v
  for round in $(seq 1 "$ROUNDS"); do
    v=$(KEY=$2 wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s loadtest/auth_get.lua "$3" | sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p')
    FIG[$1]=$(python3 -c "print(max(${FIG[$1]:-0}, $v))")
  done
  printf '%-70s %10.0f\n' "$4" "${FIG[$1]}"
}
echo
echo "== figures, best of $ROUNDS (wrk: $CONNECTIONS connections, requests/s)"
best name_1k "$SMALL_KEY" "$BASE/v1/customers?q=amara%20okafor&limit=25" "list_customers q=\"amara okafor\", 1,000 customers"
best name_100k "$BIG_KEY" "$BASE/v1/customers?q=amara%20okafor&limit=25" "list_customers q=\"amara okafor\", 100,000 customers"
best surname_1k "$SMALL_KEY" "$BASE/v1/customers?q=okafor&limit=25" "list_customers q=okafor, 1,000 customers"
best surname_100k "$BIG_KEY" "$BASE/v1/customers?q=okafor&limit=25" "list_customers q=okafor, 100,000 customers"
best slots_empty "$SMALL_KEY" "$BASE/v1/services/$EMPTY_SERVICE/slots?from=$FROM&to=$TO7" "get_available_slots, 7 days, empty organisation"
best slots_full "$BIG_KEY" "$BASE/v1/services/$BIG_SERVICE/slots?from=$FROM&to=$TO7" "get_available_slots, 7 days, 101,000 bookings, own month nearly full"

echo
echo "== ratios (time at scale / time small; goal in brackets)"
FAILED=0
ratio() { # label, small rps, large rps, goal (at most)
  local value ok
  value=$(python3 -c "print(f'{$2 / $3:.2f}')")
  ok=$(python3 -c "print('ok' if $2 / $3 <= $4 else 'ABOVE')")
  printf '%-70s %6s  [<= %s] %s\n' "$1" "$value" "$4" "$ok"
  [ "$ok" = ok ] || [ -n "${5:-}" ] || FAILED=1
}
ratio "list_customers, a full name: 100,000 / 1,000 customers" "${FIG[name_1k]}" "${FIG[name_100k]}" 3
ratio "list_customers, a surname (1 in 80; informational)" "${FIG[surname_1k]}" "${FIG[surname_100k]}" 3 info
ratio "get_available_slots, 7 days: 101,000 bookings / empty organisation" "${FIG[slots_empty]}" "${FIG[slots_full]}" 1.5
exit $FAILED
