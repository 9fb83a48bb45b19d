"""Reads auto_explain's JSON plans (psql's LOG messages on stdin) and checks that no statement
reads other organisations' rows: no sequential scan of a tenant table (one with org_id), and
every index scan of one has org_id in its index condition. Prints a one-line summary; exits 1
when a plan breaks the rule."""
import json
import re
import sys

TENANT_FREE = {"organisations", "users"}  # global tables, or keyed by the organisation's own id

text = sys.stdin.read()
plans = []
for chunk in re.split(r"(?m)^(?:psql:[^\n]*)?LOG:  ", text):
    start = chunk.find("{")
    if "plan:" not in chunk or start < 0:
        continue
    body = chunk[start:]
    try:
        plans.append(json.loads(body[: body.rfind("}") + 1]))
    except json.JSONDecodeError:
        continue

scans, bad = 0, []


def walk(node):
    global scans
    relation = node.get("Relation Name")
    kind = node.get("Node Type", "")
    if relation and node.get("Schema", "app") == "app" and relation not in TENANT_FREE:
        scans += 1
        if kind == "Seq Scan":
            bad.append(f"seq scan of {relation} ({node.get('Actual Rows', '?')} rows kept)")
        elif kind in ("Index Scan", "Index Only Scan") and "org_id" not in node.get("Index Cond", ""):
            bad.append(f"{kind.lower()} of {relation} not bounded by org_id ({node.get('Index Name')})")
        elif kind == "Bitmap Heap Scan":
            conds = " ".join(child.get("Index Cond", "") for child in node.get("Plans", []))
            if "org_id" not in conds and "org_id" not in node.get("Recheck Cond", ""):
                bad.append(f"bitmap scan of {relation} not bounded by org_id")
    for child in node.get("Plans", []):
        walk(child)


for plan in plans:
    walk(plan.get("Plan", plan))
if bad:
    print(f"{len(plans)} statements, {scans} tenant scans; BAD: " + "; ".join(sorted(set(bad))))
    sys.exit(1)
print(f"{len(plans)} statements, {scans} tenant scans, each bounded by org_id")
