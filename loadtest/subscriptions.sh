#!/usr/bin/env bash
# Subscription renewals on loopback against a release build with its embedded PostgreSQL:
# SUBSCRIPTIONS monthly memberships (default 2,000), each with credits, renewed by one
# `favcrm worker --once` as of just after their first period, then by two workers at once for
# the second period. Measures renewals a second; checks that every period was invoiced exactly
# once (one invoice and one credit grant per period, numbers without gaps or duplicates).
set -euo pipefail
cd "$(dirname "$0")/.."
SUBSCRIPTIONS=${SUBSCRIPTIONS:-2000}
PORT=${PORT:-18083}
export FAVCRM_SCHEDULER_INTERVAL_SECONDS=0   # only the workers below renew
. loadtest/server.sh
start_server subscriptions
KEY=$(FAVCRM_DATA_DIR=$DATA "$BIN" admin create-org --name Gym --owner-email gym@example.com --json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
PLAN=$(api POST /v1/plans '{"name":"Monthly","price":{"amount":4900},"interval":"month","creditsPerPeriod":8}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "making $SUBSCRIPTIONS subscriptions"
END=$(python3 - "$BASE" "$KEY" "$PLAN" "$SUBSCRIPTIONS" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, key, plan, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def post(path, body):
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))
def member(i):
    customer = post("/v1/customers", {"name": f"Member {i}"})["id"]
    return post("/v1/subscriptions", {"customerId": customer, "planId": plan})["currentPeriodEnd"]
with ThreadPoolExecutor(8) as pool:
    print(max(pool.map(member, range(n))))
PY
)
psql -X -q -At -h "$DATA/run" -p 5432 -U postgres -d postgres -c analyze
worker() { FAVCRM_DATA_DIR=$DATA FAVCRM_LOG=warn "$BIN" worker --once --as-of "$1"; }
AFTER=$(python3 -c "import datetime,sys; print((datetime.datetime.fromisoformat(sys.argv[1].replace('Z','+00:00')) + datetime.timedelta(seconds=1)).isoformat())" "$END")
echo "== one worker, the second period of $SUBSCRIPTIONS subscriptions"
START=$(date +%s.%N)
worker "$AFTER"
python3 -c "import sys; n, s = int(sys.argv[1]), float(sys.argv[2]); print(f'{n / s:.0f} renewals/s ({s:.2f} s)')" \
  "$SUBSCRIPTIONS" "$(echo "$(date +%s.%N) - $START" | bc)"
NEXT=$(python3 -c "import datetime,sys; print((datetime.datetime.fromisoformat(sys.argv[1]) + datetime.timedelta(days=32)).isoformat())" "$AFTER")
echo "== two workers at once, the third period"
START=$(date +%s.%N)
worker "$NEXT" & A=$!
worker "$NEXT" & B=$!
wait $A $B
python3 -c "import sys; n, s = int(sys.argv[1]), float(sys.argv[2]); print(f'{n / s:.0f} renewals/s together ({s:.2f} s)')" \
  "$SUBSCRIPTIONS" "$(echo "$(date +%s.%N) - $START" | bc)"
echo "== every period invoiced once"
psql -X -q -At -h "$DATA/run" -p 5432 -U postgres -d postgres <<SQL
select format('%s periods, %s invoices, %s credit grants, %s distinct numbers; gapless: %s',
  (select count(*) from app.subscription_periods), (select count(*) from app.invoices),
  (select count(*) from app.credit_grants), (select count(distinct number) from app.invoices),
  (select bool_and(m = c) from (select max(sequence) m, count(*) c from app.invoices group by year) y));
SQL
