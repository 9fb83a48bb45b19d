#!/usr/bin/env bash
# Billing on loopback against a release build with its embedded PostgreSQL: creating a draft
# invoice of three taxed lines, finalising drafts (every finalisation of a series queues on
# its counter row: this is the gapless-numbering throughput), recording payments, and reading an
# invoice and a page of invoices. Bounded: each scenario runs DURATION seconds (default 8).
# Needs wrk (Debian: apt-get install wrk). Measures; asserts nothing but that every number is
# used once and none is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-16}
DRAFTS=${DRAFTS:-$((DURATION * 1500))}
PORT=${PORT:-18082}
. loadtest/server.sh
start_server billing
KEY=$(FAVCRM_DATA_DIR=$DATA "$BIN" admin create-org --name Billing --owner-email billing@example.com --json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
export KEY
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
export CUSTOMER=$(api POST /v1/customers '{"name":"Billed"}' | json '["id"]')
export TAX=$(api POST /v1/tax-rates '{"name":"VAT 20%","percentageBp":2000}' | json '["id"]')
IDS=$(mktemp /tmp/favcrm-billing-ids-XXXXXX)
CLEANUP="$IDS"
# Fresh tables have no statistics: without a first ANALYZE the planner reads every line of
# every invoice to count one invoice's (autovacuum would analyze within a minute in real use).
wrk -t2 -c8 -d2s -s loadtest/create_invoice.lua "$BASE/v1/invoices" >/dev/null
psql -X -q -At -h "$DATA/run" -p 5432 -U postgres -d postgres -c analyze
echo "== POST /v1/invoices (a draft of three lines, two taxed)"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s loadtest/create_invoice.lua "$BASE/v1/invoices"
echo "making $DRAFTS drafts to finalise"
python3 - "$BASE" "$KEY" "$CUSTOMER" "$DRAFTS" > "$IDS" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, key, customer, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def draft(i):
    body = json.dumps({"customerId": customer, "lines": [{"description": f"Item {i}", "unitAmount": 1000}]}).encode()
    request = urllib.request.Request(f"{base}/v1/invoices", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))["id"]
with ThreadPoolExecutor(8) as pool:
    print("\n".join(pool.map(draft, range(n))))
PY
export IDS
psql -X -q -At -h "$DATA/run" -p 5432 -U postgres -d postgres -c analyze
echo "== POST /v1/invoices/{id}/finalize (gapless numbers: one counter row per series and year)"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s loadtest/finalize_invoice.lua "$BASE"
export INVOICE=$(api POST /v1/invoices "{\"customerId\":\"$CUSTOMER\",\"lines\":[{\"description\":\"Big\",\"unitAmount\":100000000}]}" | json '["id"]')
api POST "/v1/invoices/$INVOICE/finalize" >/dev/null
echo "== POST /v1/payments (1 minor unit each, all on one open invoice: each queues on the invoice's row)"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s loadtest/record_payment.lua "$BASE/v1/payments"
echo "== GET /v1/invoices/{id} (lines, payments, credit notes)"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s loadtest/auth_get.lua "$BASE/v1/invoices/$(sed -n 2p "$IDS")"
echo "== GET /v1/invoices?limit=25"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s loadtest/auth_get.lua "$BASE/v1/invoices?limit=25"
echo "== numbers given: each once, none skipped"
python3 - "$BASE" "$KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
numbers, cursor = [], None
while True:
    url = f"{base}/v1/invoices?limit=100" + (f"&cursor={cursor}" if cursor else "")
    page = json.load(urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})))
    numbers += [i["number"] for i in page["items"] if i["number"]]
    cursor = page["nextCursor"]
    if not cursor:
        break
by_year = {}
for n in numbers:
    series, year, seq = n.split("-")
    by_year.setdefault((series, year), []).append(int(seq))
for (series, year), seqs in by_year.items():
    seqs.sort()
    assert seqs == list(range(1, len(seqs) + 1)), f"{series}-{year}: gaps or duplicates"
    print(f"{series}-{year}: 1..{len(seqs)}, no gaps, no duplicates")
PY
