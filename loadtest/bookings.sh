#!/usr/bin/env bash
# Bookings on loopback against a release build with its embedded PostgreSQL. Bounded: each
# scenario runs DURATION seconds (default 10). Needs wrk and python3.
#
#  1. get_available_slots for one staff member over 7 and over 31 days, with 1,000 bookings
#     that month (30-minute service on a 30-minute grid, hours 06:00–24:00 every day: 1,116
#     starts in 31 days, so about nine in ten are taken).
#  2. create_booking throughput under 32 concurrent clients, each booking a distinct free slot:
#     all with one staff member, then spread over eight.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
PORT=${PORT:-18081}
. loadtest/server.sh
start_server bookings
KEY=$(FAVCRM_DATA_DIR=$DATA "$BIN" admin create-org --name Load --owner-email load@example.com --country GB --json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
export KEY
BASE=http://127.0.0.1:$PORT
id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
HOURS=$(python3 -c 'import json; print(json.dumps({"hours": [{"weekday": d, "start": "06:00", "end": "24:00"} for d in range(1, 8)]}))')
staff() {
  local s; s=$(api POST /v1/staff "{\"name\":\"$1\"}" | id)
  api PUT "/v1/staff/$s/working-hours" "$HOURS" >/dev/null
  echo "$s"
}
SEEDED=$(staff "Seeded stylist")
FREE=$(staff "Free stylist")
TEAM=""
for i in 1 2 3 4 5 6 7 8; do TEAM="$TEAM${TEAM:+,}$(staff "Team $i")"; done
SERVICE=$(api POST /v1/services "{\"name\":\"Trim\",\"durationMinutes\":30,\"maxAdvanceDays\":730,\"staffIds\":[\"$SEEDED\"]}" | id)
WRITE_SERVICE=$(api POST /v1/services "{\"name\":\"Wash\",\"durationMinutes\":30,\"maxAdvanceDays\":730,\"staffIds\":[\"$FREE\"]}" | id)
TEAM_JSON=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1].split(",")))' "$TEAM")
TEAM_SERVICE=$(api POST /v1/services "{\"name\":\"Blow-dry\",\"durationMinutes\":30,\"maxAdvanceDays\":730,\"staffIds\":$TEAM_JSON}" | id)
# The month: 31 days from tomorrow, midnight UTC.
read -r FROM TO7 TO31 < <(python3 - <<'PY'
import datetime as d
start = (d.datetime.now(d.timezone.utc) + d.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
print(start.isoformat().replace('+00:00', 'Z'), (start + d.timedelta(days=7)).isoformat().replace('+00:00', 'Z'),
      (start + d.timedelta(days=31)).isoformat().replace('+00:00', 'Z'))
PY
)
echo "seeding 1,000 bookings for one staff member between $FROM and $TO31"
curl -sf "$BASE/v1/services/$SERVICE/slots?from=$FROM&to=$TO31" -H "Authorization: Bearer $KEY" |
  python3 -c '
import json, sys
slots = json.load(sys.stdin)["slots"]
# 1,000 starts spread evenly over the month.
picked = [slots[i * len(slots) // 1000] for i in range(min(1000, len(slots)))]
for i, s in enumerate(picked):
    print(json.dumps({"serviceId": sys.argv[1], "start": s["start"], "customer": {"name": f"Seed {i}", "email": f"seed{i}@example.com"}}))
' "$SERVICE" |
  xargs -d '\n' -P 8 -I{} curl -sf -o /dev/null -X POST "$BASE/v1/bookings" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d {}
curl -sf "$BASE/v1/booking-stats?from=$FROM&to=$TO31" -H "Authorization: Bearer $KEY"; echo
echo "== get_available_slots, 7 days, one staff member"
wrk -t2 -c8 -d"${DURATION}s" --latency -s loadtest/auth_get.lua "$BASE/v1/services/$SERVICE/slots?from=$FROM&to=$TO7"
echo "== get_available_slots, 31 days, one staff member"
wrk -t2 -c8 -d"${DURATION}s" --latency -s loadtest/auth_get.lua "$BASE/v1/services/$SERVICE/slots?from=$FROM&to=$TO31"
echo "== create_booking, 32 concurrent clients, distinct free slots of one staff member"
SERVICE=$WRITE_SERVICE wrk -t2 -c32 -d"${DURATION}s" --latency -s loadtest/create_booking.lua "$BASE/v1/bookings"
echo "== create_booking, 32 concurrent clients, distinct free slots of eight staff members"
SERVICE=$TEAM_SERVICE STAFF=$TEAM wrk -t2 -c32 -d"${DURATION}s" --latency -s loadtest/create_booking.lua "$BASE/v1/bookings"
