"""A customer who books, pays and comes back, through the official MCP Python SDK: the owner
sets the loyalty rules, a completed booking earns its points and stamp, paying its invoice earns
points on the amount paid, completing it again and paying nothing more earns nothing more, a
reward is redeemed through the confirmation step, and the ledger adds up to the balance.

Usage: python loyalty_flow.py <mcp-url> <agent-key> <service-id> <started-booking-id>

Exits 0 when every check passes. Run by tests/it/mcp_client.rs.
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def problem(result) -> dict:
    assert result.is_error, result
    return json.loads(result.content[0].text)


def ok(result) -> dict:
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def main(url: str, key: str, service: str, booking: str) -> None:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {t.name: t for t in (await session.list_tools()).tools}
                assert tools["redeem_reward"].annotations.destructive_hint is True
                assert tools["get_loyalty_balance"].annotations.read_only_hint is True
                assert tools["update_loyalty_programme"].annotations.idempotent_hint is True

                programme = ok(await session.call_tool("update_loyalty_programme", {
                    "enabled": True, "pointsPerUnit": 1, "pointsPerBooking": 10, "stampsPerCard": 5,
                    "stampServiceIds": [service], "expiryMonths": 12}))
                assert programme["enabled"] is True, programme

                done = ok(await session.call_tool("complete_booking", {"bookingId": booking}))
                customer = done["customerId"]
                again = ok(await session.call_tool("complete_booking", {"bookingId": booking}))
                assert again["status"] == "completed"
                earned = ok(await session.call_tool("get_loyalty_balance", {"customerId": customer}))
                assert (earned["points"], earned["stamps"]) == (10, 1), earned

                invoice = ok(await session.call_tool("create_invoice", {
                    "customerId": customer, "lines": [{"bookingId": booking, "unitAmount": 12000}]}))
                invoice = ok(await session.call_tool("finalize_invoice", {"invoiceId": invoice["id"]}))
                ok(await session.call_tool("record_payment", {
                    "invoiceId": invoice["id"], "amount": 12000, "method": "card_terminal"}))
                paid = ok(await session.call_tool("get_loyalty_balance", {"customerId": customer}))
                assert paid["points"] == 130, paid

                reward = ok(await session.call_tool("create_reward", {
                    "name": "10.00 off", "costPoints": 100, "gives": "balance_credit", "amount": {"amount": 1000}}))
                first = problem(await session.call_tool("redeem_reward", {"customerId": customer, "rewardId": reward["id"]}))
                assert first["code"] == "confirmation_required", first
                assert first["preview"]["target"]["points"] == 130, first
                redeemed = ok(await session.call_tool("redeem_reward", {
                    "customerId": customer, "rewardId": reward["id"], "confirmationToken": first["confirmationToken"]}))
                assert redeemed["status"] == "redeemed" and redeemed["cost"] == 100, redeemed
                short = problem(await session.call_tool("redeem_reward", {"customerId": customer, "rewardId": reward["id"]}))
                assert short["code"] in ("confirmation_required", "insufficient_points"), short
                if short["code"] == "confirmation_required":
                    short = problem(await session.call_tool("redeem_reward", {
                        "customerId": customer, "rewardId": reward["id"], "confirmationToken": short["confirmationToken"]}))
                assert short["code"] == "insufficient_points" and short["available"] == 30, short

                now = ok(await session.call_tool("get_loyalty_balance", {"customerId": customer}))
                ledger = ok(await session.call_tool("list_loyalty_ledger", {"customerId": customer}))
                points = sum(e["quantity"] for e in ledger["items"] if e["unit"] == "points")
                assert now["points"] == points == 30, (now, ledger)
    print("loyalty flow: ok")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
