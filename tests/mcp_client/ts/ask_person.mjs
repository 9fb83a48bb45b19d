// The person confirms, not the model: the official MCP TypeScript SDK (v2, the 2026-07-28
// protocol) as a client that can ask its person, in both of the SDK's protocol modes.
//
// Usage: node ask_person.mjs <mcp-url> <agent-key> <mode> <customer-id> [<customer-id> <template-id>]
//   mode "modern": versionNegotiation auto, so the 2026-07-28 protocol. delete_customer answers
//     input_required; the SDK puts the question to the elicitation handler (the person) and
//     retries with the answer. Declined: nothing deleted. Ticked: deleted. Then an agent's
//     send_message is approved by the person in the same way, and its answer is the message.
//   mode "legacy": the 2025 handshake with the same capabilities. The server opens a session for
//     such a client and asks with elicitation/create while the call waits; the same flows.
// Prints one JSON line with what the person was asked. Run by tests/it/mcp_client.rs.

import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const [url, key, mode, customerId, recipientId, templateId] = process.argv.slice(2);

/** The person: answers each question with the next answer queued, and remembers the question. */
const answers = [];
const asked = [];
function client() {
  const c = new Client(
    { name: "favcrm-ask-person", version: "1.0.0" },
    {
      capabilities: { elicitation: { form: {} } },
      versionNegotiation: { mode: mode === "modern" ? "auto" : "legacy" },
    },
  );
  c.setRequestHandler("elicitation/create", async (request) => {
    asked.push(request.params);
    const answer = answers.shift();
    assert.ok(answer, `asked without an answer queued: ${request.params.message}`);
    return answer;
  });
  return c;
}

function problem(result) {
  assert.equal(result.isError, true, JSON.stringify(result));
  return JSON.parse(result.content[0].text);
}

const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const mcp = client();
await mcp.connect(transport);
const out = { protocolVersion: mcp.getNegotiatedProtocolVersion(), era: mcp.getProtocolEra() };

if (mode === "modern") {
  assert.equal(out.protocolVersion, "2026-07-28", JSON.stringify(out));
} else {
  assert.notEqual(out.protocolVersion, "2026-07-28", JSON.stringify(out));
}
// Declined: the tool's answer says so, and nothing was deleted.
answers.push({ action: "decline" });
const declined = problem(await mcp.callTool({ name: "delete_customer", arguments: { customerId } }));
assert.equal(declined.code, "not_confirmed", JSON.stringify(declined));
const still = await mcp.callTool({ name: "get_customer", arguments: { customerId } });
assert.equal(still.structuredContent.deletedAt, null, JSON.stringify(still));
// Ticked: deleted, and the SDK validated the answer against the tool's outputSchema.
answers.push({ action: "accept", content: { confirm: true } });
const deleted = await mcp.callTool({ name: "delete_customer", arguments: { customerId } });
assert.equal(deleted.isError, false, JSON.stringify(deleted));
assert.ok(deleted.structuredContent.deletedAt, JSON.stringify(deleted));
assert.equal(asked.length, 2);
assert.equal(asked[1].requestedSchema.properties.confirm.type, "boolean");
out.deleteQuestion = asked[1].message;
// An agent's message: the person approves it in the client, and the answer is the message.
answers.push({ action: "accept", content: { confirm: true } });
const sent = await mcp.callTool({
  name: "send_message",
  arguments: { customerId: recipientId, templateId, idempotencyKey: `ask-person-${mode}` },
});
assert.equal(sent.isError, false, JSON.stringify(sent));
assert.equal(asked.length, 3);
out.approvalQuestion = asked[2].message;
out.message = sent.structuredContent;

await mcp.close();
console.log(JSON.stringify(out));
