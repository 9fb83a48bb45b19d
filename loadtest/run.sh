#!/usr/bin/env bash
# Measures the REST and MCP request path on loopback against a release build with its
# embedded PostgreSQL. Bounded: each scenario runs for DURATION seconds (default 10).
# Needs wrk (Debian: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
PORT=${PORT:-18080}
DATA=$(mktemp -d /tmp/favcrm-load-XXXXXX)
BIN=target/release/favcrm
[ -x "$BIN" ] || cargo build --release
# The per-key budget and the registration limits would refuse a load test from one key and one
# address: they are off here.
FAVCRM_DATA_DIR=$DATA FAVCRM_BIND=127.0.0.1:$PORT FAVCRM_LOG=warn FAVCRM_KEY_REQUESTS_PER_MINUTE=0 \
  FAVCRM_CODE_EMAILS_PER_IP_PER_HOUR=0 FAVCRM_CODE_EMAILS_PER_IP_PER_DAY=0 FAVCRM_SIGNUPS_PER_EMAIL_PER_HOUR=0 \
  "$BIN" serve &
SERVER=$!
trap 'kill -TERM $SERVER; wait $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.2; done
KEY=$(FAVCRM_DATA_DIR=$DATA "$BIN" admin create-org --name Load --owner-email load@example.com --json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
export KEY
BASE=http://127.0.0.1:$PORT
echo "seeding 1000 customers"
for i in $(seq 1 1000); do echo "{\"name\":\"Seed $i\",\"email\":\"seed$i@example.com\"}"; done |
  xargs -d '\n' -P 8 -I{} curl -sf -o /dev/null -X POST "$BASE/v1/customers" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d {}
echo "== GET /v1/customers?limit=25 (read-only transaction, one round trip)"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s loadtest/auth_get.lua "$BASE/v1/customers?limit=25"
echo "== GET /v1/customers?q=seed 99 (trigram search)"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s loadtest/auth_get.lua "$BASE/v1/customers?q=seed%2099"
echo "== MCP tools/list (authentication + the key's tools)"
BODY='{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}' \
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s loadtest/mcp_body.lua "$BASE/mcp"
echo "== MCP tools/call list_customers (authentication + call)"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s loadtest/mcp_list.lua "$BASE/mcp"
# Writes last: the rows they add would change what the reads above measure.
echo "== POST /v1/customers (write + audit trigger)"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s loadtest/post_customer.lua "$BASE/v1/customers"
echo "== POST /v1/signup/request (argon2id hash + row + code email to the mailbox folder)"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s loadtest/signup_request.lua "$BASE/v1/signup/request"
echo "== GET /healthz (no database)"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "$BASE/healthz"
