"""An agent sets up messaging through the official MCP Python SDK: it connects WhatsApp and an
email sender, makes templates and the booking rules (a confirmation by email, a reminder on
WhatsApp a day before), books a customer, drafts a campaign and sends it, which waits for a
person: nothing goes until then.

Usage: python messaging_flow.py <mcp-url> <agent-key> <service-id> <start> setup
       python messaging_flow.py <mcp-url> <agent-key> <approval-id> <campaign-id> check

setup prints {bookingId, customerId, approvalId, campaignId} as JSON; check, run after a person
approved, sees the approval approved and the campaign sent. Run by tests/it/mcp_client.rs.
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


async def session_for(url: str, key: str, work):
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)


async def setup(session: ClientSession, service: str, start: str) -> dict:
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert tools["send_message"].annotations.open_world_hint is True
    assert tools["preview_message"].annotations.read_only_hint is True
    assert tools["disconnect_channel"].annotations.destructive_hint is True

    whatsapp = ok(await session.call_tool("connect_channel", {
        "channel": "whatsapp", "phoneNumberId": "106540352242922", "accessToken": "EAAG-whatsapp-access-token",
        "appSecret": "meta-app-secret-0001", "verifyToken": "verify-me-please"}))
    assert whatsapp["status"] == "connected" and "accessToken" not in json.dumps(whatsapp), whatsapp
    email = ok(await session.call_tool("connect_channel", {"channel": "email", "fromAddress": "hello@glow.example"}))
    assert email["settings"]["fromAddress"] == "hello@glow.example", email
    status = ok(await session.call_tool("get_channel_status", {}))
    assert sorted(c["channel"] for c in status["channels"]) == ["email", "whatsapp"], status

    confirm = ok(await session.call_tool("create_template", {
        "name": "Booked", "channel": "email", "purpose": "transactional",
        "subject": "See you {{booking.date}}", "body": "Hello {{customer.first_name}}, {{booking.service}} at {{booking.time}}."}))
    remind = ok(await session.call_tool("create_template", {
        "name": "Tomorrow", "channel": "whatsapp", "purpose": "transactional", "locale": "en-GB",
        "body": "Hi {{customer.first_name}}, see you at {{booking.time}}.", "whatsappTemplateName": "visit_reminder"}))
    bad = problem(await session.call_tool("create_template", {
        "name": "Bad", "channel": "email", "purpose": "marketing", "subject": "x", "body": "{{customer.secret}}"}))
    assert bad["errors"][0]["code"] == "unknown_variable", bad
    ok(await session.call_tool("create_booking_message_rule", {"event": "confirmation", "templateId": confirm["id"]}))
    ok(await session.call_tool("create_booking_message_rule", {
        "event": "reminder", "templateId": remind["id"], "hoursBefore": 24}))

    booked = ok(await session.call_tool("create_booking", {
        "serviceId": service, "start": start,
        "customer": {"name": "Amy Chan", "email": "amy@example.com", "phone": "+447700900123"}}))
    customer = booked["customerId"]
    ok(await session.call_tool("update_customer", {
        "customerId": customer, "marketingConsent": {"email": {"granted": True, "source": "booking form"}}}))
    messages = ok(await session.call_tool("list_messages", {"customerId": customer}))
    kinds = sorted((m["source"], m["status"]) for m in messages["items"])
    # The confirmation goes at once (queued, or already sent); the reminder waits for its time.
    assert [k[0] for k in kinds] == ["booking_confirmation", "booking_reminder"], kinds
    assert kinds[0][1] in ("queued", "sent") and kinds[1][1] == "scheduled", kinds

    offer = ok(await session.call_tool("create_template", {
        "name": "Spring", "channel": "email", "purpose": "marketing", "subject": "Spring at {{organisation.name}}",
        "body": "Hello {{customer.first_name}}, 20% off this week."}))
    campaign = ok(await session.call_tool("create_campaign", {"name": "Spring", "templateId": offer["id"]}))
    preview = ok(await session.call_tool("preview_campaign", {"campaignId": campaign["id"]}))
    assert preview["recipients"] == 1 and preview["sample"][0]["body"] == "Hello Amy, 20% off this week.", preview
    waiting = problem(await session.call_tool("send_campaign", {"campaignId": campaign["id"]}))
    assert waiting["code"] == "approval_required", waiting
    assert len(waiting["approval"]["snapshot"]["messages"]) == 1, waiting
    cannot = problem(await session.call_tool("approve", {"approvalId": waiting["approvalId"]}))
    assert cannot["code"] == "agent_cannot_decide", cannot
    still = ok(await session.call_tool("get_campaign", {"campaignId": campaign["id"]}))
    assert still["status"] == "awaiting_approval" and still["messages"]["total"] == 0, still
    return {"bookingId": booked["id"], "customerId": customer, "approvalId": waiting["approvalId"],
            "campaignId": campaign["id"]}


async def check(session: ClientSession, approval: str, campaign: str) -> dict:
    decided = ok(await session.call_tool("get_approval", {"approvalId": approval}))
    assert decided["status"] == "approved", decided
    sent = ok(await session.call_tool("get_campaign", {"campaignId": campaign}))
    assert sent["status"] == "sent" and sent["recipients"] == 1, sent
    return {"status": "ok"}


async def main() -> None:
    url, key, a, b, phase = sys.argv[1:6]
    if phase == "setup":
        out = await session_for(url, key, lambda s: setup(s, a, b))
    else:
        out = await session_for(url, key, lambda s: check(s, a, b))
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
