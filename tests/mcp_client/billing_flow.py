"""An owner's billing day, driven through the official MCP Python SDK: bill a completed booking,
finalise, send a Stripe payment link, have it paid (the event signed here, independently of
favcrm's code, the way Stripe signs), refund part of it and issue a credit note, each through
the confirmation step an agent key must take.

Usage: python billing_flow.py <mcp-url> <agent-key> <webhook-url> <webhook-secret> <booking-id>

Exits 0 when every check passes. Run by tests/it/mcp_client.rs.
"""

import asyncio
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def problem(result) -> dict:
    assert result.is_error, result
    return json.loads(result.content[0].text)


def ok(result) -> dict:
    assert not result.is_error, result.content[0].text
    return result.structured_content


def deliver(webhook_url: str, secret: str, event: dict) -> int:
    """POST the event with a Stripe-Signature: t=<time>,v1=HMAC-SHA256(secret, "t.payload")."""
    payload = json.dumps(event).encode()
    t = str(int(time.time()))
    signature = hmac.new(secret.encode(), t.encode() + b"." + payload, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        webhook_url,
        data=payload,
        headers={"Content-Type": "application/json", "Stripe-Signature": f"t={t},v1={signature}"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


async def confirmed(session: ClientSession, tool: str, args: dict) -> dict:
    """Call, check the preview, and call again with the token."""
    first = problem(await session.call_tool(tool, args))
    assert first["code"] == "confirmation_required", first
    assert first["preview"]["operation"] == tool, first
    return first, ok(await session.call_tool(tool, {**args, "confirmationToken": first["confirmationToken"]}))


async def main(url: str, key: str, webhook_url: str, secret: str, booking: str) -> None:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {t.name: t for t in (await session.list_tools()).tools}
                for name in ("create_invoice", "finalize_invoice", "create_payment_link", "refund_payment",
                             "create_credit_note", "void_invoice"):
                    assert name in tools, f"{name} is not offered"
                assert tools["refund_payment"].annotations.destructive_hint is True
                assert tools["create_payment_link"].annotations.open_world_hint is True
                assert tools["get_invoice"].annotations.read_only_hint is True

                booking_json = ok(await session.call_tool("get_booking", {"bookingId": booking}))
                draft = ok(await session.call_tool(
                    "create_invoice",
                    {"customerId": booking_json["customerId"], "lines": [{"bookingId": booking}],
                     "idempotencyKey": "bill-booking-1"}))
                assert draft["status"] == "draft" and draft["number"] is None, draft
                total = draft["total"]["amount"]
                assert total == booking_json["price"]["amount"], (draft, booking_json)
                # A retried create with the same idempotencyKey gives the same invoice.
                again = ok(await session.call_tool(
                    "create_invoice",
                    {"customerId": booking_json["customerId"], "lines": [{"bookingId": booking}],
                     "idempotencyKey": "bill-booking-1"}))
                assert again["id"] == draft["id"], (again, draft)

                invoice = ok(await session.call_tool("finalize_invoice", {"invoiceId": draft["id"]}))
                assert invoice["status"] == "open" and invoice["number"].endswith("-0001"), invoice
                refused = problem(await session.call_tool(
                    "add_invoice_line", {"invoiceId": invoice["id"], "description": "More", "unitAmount": 1}))
                assert refused["code"] == "invoice_not_draft", refused

                link = ok(await session.call_tool("create_payment_link", {"invoiceId": invoice["id"]}))
                assert link["url"].startswith("https://checkout.stripe.com/"), link
                event = {
                    "id": "evt_sdk_paid", "object": "event", "type": "checkout.session.completed",
                    "data": {"object": {
                        "id": link["providerSessionId"], "object": "checkout.session",
                        "amount_total": link["amount"]["amount"], "currency": link["amount"]["currency"].lower(),
                        "payment_intent": "pi_sdk_1", "payment_status": "paid", "status": "complete",
                        "metadata": {"favcrm_link_id": link["id"]}}},
                }
                for _ in range(3):
                    assert deliver(webhook_url, secret, event) == 200
                assert deliver(webhook_url, "whsec_wrongwrongwrong", event) == 400
                paid = ok(await session.call_tool("get_invoice", {"invoiceId": invoice["id"]}))
                assert paid["status"] == "paid" and len(paid["payments"]) == 1, paid
                payment = paid["payments"][0]

                part = total // 4
                preview, refunded = await confirmed(
                    session, "refund_payment", {"paymentId": payment["id"], "amount": part})
                assert preview["preview"]["effect"]["refund"]["amount"] == part, preview
                assert refunded["refunds"][0]["status"] == "succeeded", refunded
                assert refunded["amountRefunded"]["amount"] == part, refunded

                preview, credit = await confirmed(
                    session, "create_credit_note",
                    {"invoiceId": invoice["id"], "amount": part, "reason": "product_unsatisfactory"})
                assert credit["number"].startswith("CN-") and credit["number"].endswith("-0001"), credit
                assert credit["appliedToAmountDue"]["amount"] == part, credit

                final = ok(await session.call_tool("get_invoice", {"invoiceId": invoice["id"]}))
                assert final["status"] == "paid", final
                assert final["amountPaid"]["amount"] == total - part, final
                assert final["amountCredited"]["amount"] == part, final
                assert final["amountDue"]["amount"] == 0, final
                assert final["total"]["amount"] == total, final
    print("billing flow ok")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
