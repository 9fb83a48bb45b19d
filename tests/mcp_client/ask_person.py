"""The person confirms, not the model, through the official MCP Python SDK: the client declares
form elicitation (its elicitation callback is the person). On the 2026-07-28 protocol (mode auto)
a destructive tool answers input_required, and the SDK asks the callback and retries with the
answer; on the 2025 handshake (mode legacy) the server opens a session and asks with
elicitation/create while the call waits. Cancelled: nothing is deleted. Ticked: deleted.

Usage: python ask_person.py <mcp-url> <agent-key> <customer-id> <auto|legacy>
Prints {protocolVersion, questions} as JSON. Run by tests/it/mcp_client.rs.
"""

import asyncio
import json
import sys

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import ElicitResult


async def main(url: str, key: str, customer_id: str, mode: str) -> None:
    answers = [ElicitResult(action="cancel"), ElicitResult(action="accept", content={"confirm": True})]
    questions = []

    async def person(context, params):
        questions.append({"message": params.message, "schema": params.requested_schema})
        return answers.pop(0)

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode, elicitation_callback=person) as client:
            assert (client.protocol_version == "2026-07-28") == (mode == "auto"), client.protocol_version
            cancelled = await client.call_tool("delete_customer", {"customerId": customer_id})
            assert cancelled.is_error, cancelled
            assert json.loads(cancelled.content[0].text)["code"] == "not_confirmed", cancelled.content[0].text
            still = await client.call_tool("get_customer", {"customerId": customer_id})
            assert still.structured_content["deletedAt"] is None, still
            deleted = await client.call_tool("delete_customer", {"customerId": customer_id})
            assert not deleted.is_error, deleted.content[0].text
            assert deleted.structured_content["deletedAt"], deleted
            assert len(questions) == 2, questions
            print(json.dumps({"protocolVersion": client.protocol_version, "questions": questions}))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
