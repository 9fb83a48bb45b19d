"""A studio's sales, driven through the official MCP Python SDK: a monthly membership that is
invoiced and gives credits, a 10-class pack, a class booked with a credit (and a second
customer refused for having none), products with stock and a promotion code on an order, and
a membership cancelled at period end through the confirmation step an agent key must take.

Usage: python studio_sales_flow.py <mcp-url> <agent-key> <service-id> <start-1> <start-2>

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


async def main(url: str, key: str, service: str, start1: str, start2: str) -> None:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {t.name: t for t in (await session.list_tools()).tools}
                for name in ("create_plan", "create_subscription", "sell_package", "get_credit_balance",
                             "list_credit_ledger", "create_order", "create_promotion", "cancel_subscription"):
                    assert name in tools, f"{name} is not offered"
                assert tools["cancel_subscription"].annotations.destructive_hint is True
                assert tools["get_credit_balance"].annotations.read_only_hint is True
                assert tools["sell_package"].annotations.idempotent_hint is False

                amy = ok(await session.call_tool("create_customer", {"name": "Amy Member", "email": "amy@example.com"}))
                ben = ok(await session.call_tool("create_customer", {"name": "Ben Walk-in"}))

                plan = ok(await session.call_tool("create_plan", {
                    "name": "Monthly membership", "price": {"amount": 8900}, "interval": "month",
                    "creditsPerPeriod": 4, "creditServiceIds": [service]}))
                sub = ok(await session.call_tool("create_subscription", {
                    "customerId": amy["id"], "planId": plan["id"], "idempotencyKey": "amy-membership"}))
                assert sub["status"] == "active" and sub["periods"][0]["invoiceStatus"] == "open", sub
                invoice = ok(await session.call_tool("get_invoice", {"invoiceId": sub["periods"][0]["invoiceId"]}))
                assert invoice["total"]["amount"] == 8900, invoice
                again = ok(await session.call_tool("create_subscription", {
                    "customerId": amy["id"], "planId": plan["id"], "idempotencyKey": "amy-membership"}))
                assert again["id"] == sub["id"], "a retried create is the same subscription"

                sale = ok(await session.call_tool("sell_package", {
                    "customerId": amy["id"], "name": "10-class pack", "sessions": 10,
                    "price": {"amount": 12000}, "validityDays": 90}))
                assert sale["grant"]["remaining"] == 10 and sale["invoice"]["status"] == "open", sale
                balance = ok(await session.call_tool("get_credit_balance", {"customerId": amy["id"]}))
                assert balance["available"] == 14, balance
                # The membership's credits expire first, so they are spent first.
                assert balance["grants"][0]["source"] == "subscription", balance

                booked = ok(await session.call_tool("create_booking", {
                    "serviceId": service, "start": start1, "customerId": amy["id"], "payWith": "credits"}))
                assert booked["paidWith"] == "credits", booked
                assert booked["creditGrantId"] == balance["grants"][0]["id"], booked
                refused = problem(await session.call_tool("create_booking", {
                    "serviceId": service, "start": start2, "customerId": ben["id"], "payWith": "credits"}))
                assert refused["code"] == "no_credits", refused
                balance = ok(await session.call_tool("get_credit_balance", {"customerId": amy["id"]}))
                assert balance["available"] == 13, balance
                ledger = ok(await session.call_tool("list_credit_ledger", {"customerId": amy["id"]}))
                assert sum(e["quantity"] for e in ledger["items"]) == 13, ledger

                mat = ok(await session.call_tool("create_product", {
                    "name": "Yoga mat", "sku": "MAT-1", "price": {"amount": 3500}, "trackStock": True}))
                ok(await session.call_tool("adjust_stock", {"productId": mat["id"], "quantity": 5, "reason": "received"}))
                ok(await session.call_tool("create_promotion", {
                    "code": "MEMBER10", "percentOffBp": 1000, "appliesTo": ["products"], "maxPerCustomer": 1}))
                order = ok(await session.call_tool("create_order", {
                    "customerId": amy["id"], "lines": [{"productId": mat["id"], "quantity": 2}],
                    "promotionCode": "member10"}))
                assert order["discount"]["amount"] == 700 and order["amount"]["amount"] == 6300, order
                paid = ok(await session.call_tool("pay_order", {"orderId": order["id"]}))
                assert paid["paymentStatus"] == "awaiting_payment", paid
                stock = ok(await session.call_tool("get_product", {"productId": mat["id"]}))
                assert stock["stockOnHand"] == 3, stock
                used = problem(await session.call_tool("create_order", {
                    "customerId": amy["id"], "lines": [{"productId": mat["id"]}], "promotionCode": "MEMBER10"}))
                assert used["code"] == "promotion_limit_reached", used

                first = problem(await session.call_tool("cancel_subscription", {"subscriptionId": sub["id"]}))
                assert first["code"] == "confirmation_required", first
                assert first["preview"]["target"]["id"] == sub["id"], first
                cancelled = ok(await session.call_tool("cancel_subscription", {
                    "subscriptionId": sub["id"], "confirmationToken": first["confirmationToken"]}))
                assert cancelled["cancelAtPeriodEnd"] is True and cancelled["renewsAt"] is None, cancelled
    print("studio sales flow: ok")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
