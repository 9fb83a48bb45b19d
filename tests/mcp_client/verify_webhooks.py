"""Verifies webhook deliveries with the Standard Webhooks reference library (PyPI
`standardwebhooks`), not with favcrm's own code.

Reads a JSON file {"secrets": [whsec_…], "deliveries": [{"headers": {...}, "body": "…"}]} and
prints, for each delivery, its webhook-id, its event type and the indexes of the secrets whose
signature it carries. Exits non-zero when a delivery carries no valid signature, or when a
tampered copy of one is accepted.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        given = json.load(f)
    results = []
    for delivery in given["deliveries"]:
        headers = {k.lower(): v for k, v in delivery["headers"].items()}
        body = delivery["body"]
        verified_with = []
        event = None
        for i, secret in enumerate(given["secrets"]):
            try:
                event = Webhook(secret).verify(body, headers)
                verified_with.append(i)
            except WebhookVerificationError:
                pass
        if not verified_with:
            sys.exit(f"no secret verifies delivery {headers.get('webhook-id')}")
        tampered = body.replace('"data"', '"data" ', 1) if '"data"' in body else body + " "
        for secret in given["secrets"]:
            try:
                Webhook(secret).verify(tampered, headers)
                sys.exit(f"a tampered copy of {headers.get('webhook-id')} was accepted")
            except WebhookVerificationError:
                pass
        results.append({"id": headers["webhook-id"], "type": event["type"], "verifiedWith": verified_with})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
