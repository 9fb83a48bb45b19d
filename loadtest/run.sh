#!/usr/bin/env bash
# Measures the REST and MCP request path on loopback against a release build with its
# embedded PostgreSQL. Bounded: each scenario runs for DURATION seconds (default 10).
# Needs wrk (Debian: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
PORT=${PORT:-18080}
. loadtest/server.sh
start_server load
KEY=$(FAVCRM_DATA_DIR=$DATA "$BIN" admin create-org --name Load --owner-email load@example.com --json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
export KEY
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
