#!/usr/bin/env bash
# The outbox on loopback against a release build with its embedded PostgreSQL: EVENTS customers
# made (default 2,000) with a webhook endpoint that wants customer.created, the server's own
# outbox worker off, so the deliveries wait; then one `favcrm worker --once` sends them to a
# local receiver (Python, answering 204), and for the next EVENTS two workers at once. Measures
# webhook deliveries a second, signed (Standard Webhooks) and recorded; checks that every
# delivery was sent and attempted exactly once.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-2000}
PORT=${PORT:-18084}
RECEIVER_PORT=${RECEIVER_PORT:-18085}
export FAVCRM_OUTBOX_WORKER=false FAVCRM_ALLOW_PRIVATE_WEBHOOKS=true FAVCRM_SCHEDULER_INTERVAL_SECONDS=0
python3 - "$RECEIVER_PORT" <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
PY
RECEIVER=$!
. loadtest/server.sh
start_server outbox
trap 'kill $RECEIVER; kill -TERM $SERVER; wait $SERVER 2>/dev/null; [ -n "${KEEP_DATA:-}" ] || rm -rf "$DATA"' EXIT
KEY=$(FAVCRM_DATA_DIR=$DATA "$BIN" admin create-org --name Hooks --owner-email hooks@example.com --json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
api POST /v1/webhook-endpoints "{\"url\":\"http://127.0.0.1:$RECEIVER_PORT/hook\",\"eventTypes\":[\"customer.created\"]}" >/dev/null
customers() {
  python3 - "$BASE" "$KEY" "$EVENTS" "$1" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, key, n, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def post(i):
    request = urllib.request.Request(f"{base}/v1/customers", data=json.dumps({"name": f"Customer {batch}-{i}"}).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
with ThreadPoolExecutor(8) as pool:
    list(pool.map(post, range(n)))
PY
}
worker() { FAVCRM_DATA_DIR=$DATA FAVCRM_LOG=warn "$BIN" worker --once >/dev/null; }
rate() { python3 -c "import sys; n, s = int(sys.argv[1]), float(sys.argv[2]); print(f'{n / s:.0f} deliveries/s{sys.argv[3]} ({s:.2f} s)')" "$EVENTS" "$1" "$2"; }
echo "making $EVENTS customers (an event and a delivery each)"
customers a
psql -X -q -At -h "$DATA/run" -p 5432 -U postgres -d postgres -c analyze
echo "== one worker"
START=$(date +%s.%N)
worker
rate "$(echo "$(date +%s.%N) - $START" | bc)" ""
customers b
echo "== two workers at once"
START=$(date +%s.%N)
worker & A=$!
worker & B=$!
wait $A $B
rate "$(echo "$(date +%s.%N) - $START" | bc)" " together"
echo "== every delivery sent, each attempted once"
psql -X -q -At -h "$DATA/run" -p 5432 -U postgres -d postgres <<SQL
select format('%s deliveries, %s sent, %s attempts, most attempts of one: %s',
  (select count(*) from app.deliveries), (select count(*) from app.deliveries where status = 'sent'),
  (select count(*) from app.delivery_attempts), (select max(attempts) from app.deliveries));
SQL
