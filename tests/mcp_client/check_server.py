"""Drive a running favcrm server with the official MCP Python SDK.

Usage: python check_server.py <mcp-url> <api-key> <mailbox-folder>

Exits 0 when every check passes; prints what failed otherwise. Run by tests/it/mcp_client.rs.
"""

import asyncio
import email
import json
import email.policy
import pathlib
import re
import time
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def problem(result) -> dict:
    """The problem object of an error result: JSON text, and no structured content (which would
    have to match the tool's output schema)."""
    assert result.is_error, result
    assert result.structured_content is None, result
    return json.loads(result.content[0].text)


async def session_checks(url: str, key: str) -> None:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                assert init.server_info.name == "favcrm", init.server_info

                tools = (await session.list_tools()).tools
                names = [t.name for t in tools]
                assert names == sorted(names), names
                for expected in ("create_customer", "list_customers", "delete_customer", "get_organisation"):
                    assert expected in names, f"{expected} missing from {names}"
                by_name = {t.name: t for t in tools}
                for tool in tools:
                    assert tool.title, f"{tool.name} has no title"
                    assert tool.description, f"{tool.name} has no description"
                    assert tool.input_schema.get("type") == "object", tool.name
                    assert tool.input_schema.get("additionalProperties") is False, tool.name
                    assert tool.output_schema and tool.output_schema.get("type") == "object", tool.name
                    a = tool.annotations
                    assert a is not None, tool.name
                    for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
                        assert getattr(a, hint) is not None, f"{tool.name} leaves {hint} unset"
                assert by_name["list_customers"].annotations.read_only_hint is True
                assert by_name["delete_customer"].annotations.destructive_hint is True
                assert by_name["create_customer"].annotations.read_only_hint is False
                assert "name" in by_name["create_customer"].input_schema["required"]

                created = await session.call_tool("create_customer", {"name": "Amy Chan", "email": "amy.sdk@example.com"})
                assert not created.is_error, created
                customer = created.structured_content
                assert customer["name"] == "Amy Chan", customer
                assert created.content and created.content[0].type == "text"

                listed = await session.call_tool("list_customers", {"q": "amy.sdk"})
                assert not listed.is_error, listed
                assert [c["id"] for c in listed.structured_content["items"]] == [customer["id"]], listed

                bad = await session.call_tool("create_customer", {"name": "X", "email": "not-an-email"})
                assert problem(bad)["errors"][0]["field"] == "email", bad

                unknown_field = await session.call_tool("create_customer", {"name": "X", "colour": "red"})
                assert unknown_field.is_error, unknown_field

                refused = problem(await session.call_tool("delete_customer", {"customerId": customer["id"]}))
                assert refused["code"] == "confirmation_required", refused
                token = refused["confirmationToken"]
                deleted = await session.call_tool(
                    "delete_customer", {"customerId": customer["id"], "confirmationToken": token}
                )
                assert not deleted.is_error, deleted
                assert deleted.structured_content["deletedAt"], deleted.structured_content

                resources = (await session.list_resources()).resources
                uris = [str(r.uri) for r in resources]
                assert "skill://favcrm/customer-lifecycle" in uris, uris


async def bad_key(url: str) -> None:
    async with httpx2.AsyncClient() as http:
        res = await http.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            headers={"Accept": "application/json, text/event-stream", "Authorization": "Bearer fav_mcp_wrong"},
        )
        assert res.status_code == 401, res.status_code
        assert res.headers["www-authenticate"].startswith("Bearer"), res.headers


def latest_code(mailbox: pathlib.Path, to: str) -> str:
    """The 6-digit code in the newest message to `to` in the server's mailbox folder (the
    server's outbox sends it just after answering, so wait for it a little)."""
    for _ in range(200):
        for path in sorted(mailbox.glob("*.eml"), reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] and to in message["To"]:
                text = message.get_body(preferencelist=("plain",)).get_content()
                return re.search(r"\b\d{6}\b", text).group(0)
        time.sleep(0.05)
    raise AssertionError(f"no mail to {to} in {mailbox}")


async def signup_without_a_key(url: str, mailbox: pathlib.Path) -> None:
    """A newcomer with only an MCP client and an inbox creates a workspace and gets a key.

    Without a key, /mcp asks for a sign-in (HTTP 401 with the OAuth challenge); the keyless
    session for registration is on /mcp/public."""
    http = create_mcp_http_client()
    async with http:
        async with streamable_http_client(url + "/public", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                names = sorted(t.name for t in (await session.list_tools()).tools)
                assert names == [
                    "accept_team_invite_request",
                    "accept_team_invite_verify",
                    "register_organisation_request",
                    "register_organisation_verify",
                ], names
                started = await session.call_tool(
                    "register_organisation_request",
                    {"email": "sdk@example.com", "organisationName": "SDK Studio", "country": "GB"},
                )
                assert not started.is_error, started
                request_id = started.structured_content["requestId"]
                wrong = await session.call_tool(
                    "register_organisation_verify", {"requestId": request_id, "code": "000000"}
                )
                code = latest_code(mailbox, "sdk@example.com")
                if code != "000000":
                    assert problem(wrong)["errors"][0]["code"] == "invalid_code", wrong
                done = await session.call_tool("register_organisation_verify", {"requestId": request_id, "code": code})
                assert not done.is_error, done
                new_key = done.structured_content["apiKey"]
                assert new_key.startswith("fav_mcp_"), done.structured_content
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {new_key}"})
    async with http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                org = await session.call_tool("get_organisation", {})
                assert org.structured_content["name"] == "SDK Studio", org
                assert org.structured_content["timezone"] == "Europe/London", org


async def main() -> int:
    url, key, mailbox = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    await session_checks(url, key)
    await bad_key(url)
    await signup_without_a_key(url, mailbox)
    print("mcp python sdk: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
