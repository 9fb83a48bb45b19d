#!/usr/bin/env bash
# The customer import at its limit (see loadtest/README.md): a 100,000-row CSV file previewed
# and committed over HTTP, then the same file again (every row unchanged), then a changed file
# (every row an update), with the time of each call and the server's peak memory (VmHWM)
# before and after. Needs a release build; about 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18087}
ROWS=${ROWS:-100000}
. loadtest/server.sh
start_server imports
KEY=$(FAVCRM_DATA_DIR=$DATA "$BIN" admin create-org --name "Import" --owner-email imp@example.com --country GB \
  --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')
FILE=$DATA/customers.csv
CHANGED=$DATA/changed.csv
python3 - "$ROWS" "$FILE" "$CHANGED" <<'PY'
import sys
rows, path, changed = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for out, stage in ((path, "customer"), (changed, "vip")):
    with open(out, "w") as f:
        f.write("Full name,Email,Phone,Stage,Tags,Email consent\n")
        for i in range(rows):
            f.write(f"Customer {i},customer{i}@example.com,+4478{i:08},{stage},batch-{i % 7};imported,{'yes' if i % 2 else 'no'}\n")
PY
peak() { awk '/VmHWM/ {print $2}' "/proc/$SERVER/status"; }
timed() { # label, then curl arguments: prints the seconds and the counts
  local out
  out=$(curl -s -w '\n%{time_total}' "$@" -H "Authorization: Bearer $KEY")
  printf '%-34s %6.1f s  %s\n' "$LABEL" "$(tail -1 <<<"$out")" "$(head -1 <<<"$out" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("counts"))')"
  ID=$(head -1 <<<"$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
}
echo "$ROWS rows, $(stat -c %s "$FILE") bytes; server peak memory before: $(peak) KiB"
for round in first unchanged changed; do
  file=$FILE; [ "$round" = changed ] && file=$CHANGED
  LABEL="preview ($round)" timed -X POST "$BASE/v1/customer-imports" -H 'Content-Type: text/csv' --data-binary "@$file"
  [ "$round" = unchanged ] && continue
  LABEL="commit ($round)" timed -X POST "$BASE/v1/customer-imports/$ID/commit"
done
echo "server peak memory after: $(peak) KiB"
