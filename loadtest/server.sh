# Sourced by the load scripts: starts a release build on its own embedded PostgreSQL in a
# temporary data directory on 127.0.0.1:$PORT and stops it (deleting the data unless KEEP_DATA
# is set, and the folders in CLEANUP) when the script exits. Sets DATA, BIN, SERVER and BASE.
# The per-key budget and the registration and sensitive-request limits would refuse a load
# test from one key and one address: they are off here.
start_server() { # name (for the data folder)
  DATA=$(mktemp -d "/tmp/favcrm-$1-XXXXXX")
  BIN=target/release/favcrm
  [ -x "$BIN" ] || cargo build --release
  FAVCRM_DATA_DIR=$DATA FAVCRM_BIND=127.0.0.1:$PORT FAVCRM_LOG=warn FAVCRM_KEY_REQUESTS_PER_MINUTE=0 \
    FAVCRM_SENSITIVE_REQUESTS_PER_HOUR=0 FAVCRM_CODE_EMAILS_PER_IP_PER_HOUR=0 FAVCRM_CODE_EMAILS_PER_IP_PER_DAY=0 \
    FAVCRM_SIGNUPS_PER_EMAIL_PER_HOUR=0 "$BIN" serve &
  SERVER=$!
  trap 'kill -TERM $SERVER; wait $SERVER 2>/dev/null; [ -n "${KEEP_DATA:-}" ] || rm -rf "$DATA"; rm -rf ${CLEANUP:-}' EXIT
  until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.2; done
  BASE=http://127.0.0.1:$PORT
}

# A call to the server with $KEY.
api() { curl -sf -X "$1" "$BASE$2" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' ${3:+-d "$3"}; }

# The booking scenario's organisation: 40 staff working round the clock and a 30-minute service
# open 730 days ahead that any of them gives. Sets STAFF (their ids), STAFF_ARRAY (a PostgreSQL
# uuid[] literal) and SERVICE.
seed_round_the_clock_staff() {
  local hours id staff_json i
  hours=$(python3 -c 'import json; print(json.dumps({"hours": [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(1, 8)]}))')
  STAFF=()
  for i in $(seq 1 40); do
    id=$(api POST /v1/staff "{\"name\":\"Stylist $i\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    api PUT "/v1/staff/$id/working-hours" "$hours" >/dev/null
    STAFF+=("$id")
  done
  staff_json=$(printf '"%s",' "${STAFF[@]}"); staff_json="[${staff_json%,}]"
  SERVICE=$(api POST /v1/services "{\"name\":\"Trim\",\"durationMinutes\":30,\"maxAdvanceDays\":730,\"staffIds\":$staff_json}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  STAFF_ARRAY="{$(IFS=,; echo "${STAFF[*]}")}"
}
