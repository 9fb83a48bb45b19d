// Drive a running favcrm server with the official MCP TypeScript SDK, which validates every
// result that carries structuredContent against the tool's outputSchema (as MCP Inspector does).
//
// Usage: node check_server.mjs <mcp-url> <api-key>
// Exits 0 when every check passes; prints what failed otherwise. Run by tests/it/mcp_client.rs.

import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, key] = process.argv.slice(2);

/** The problem object of an error result, read as an agent on this SDK reads it. */
function problem(result) {
  assert.equal(result.isError, true, JSON.stringify(result));
  assert.equal(result.content[0].type, "text");
  return JSON.parse(result.content[0].text);
}

const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const client = new Client({ name: "favcrm-ts-check", version: "1.0.0" });
await client.connect(transport);

const { tools } = await client.listTools();
const names = tools.map((t) => t.name);
for (const expected of ["create_customer", "delete_customer", "get_organisation", "cancel_booking"]) {
  assert.ok(names.includes(expected), `${expected} missing from ${names}`);
}
for (const tool of tools) {
  assert.equal(tool.outputSchema?.type, "object", `${tool.name} has no object outputSchema`);
}

// Successes are validated against their outputSchema by the SDK itself.
const org = await client.callTool({ name: "get_organisation", arguments: {} });
assert.equal(org.isError, false, JSON.stringify(org));
const created = await client.callTool({
  name: "create_customer",
  arguments: { name: "Tess Script", email: "tess.ts@example.com" },
});
assert.equal(created.isError, false, JSON.stringify(created));
const customer = created.structuredContent;
await client.callTool({ name: "list_customers", arguments: { q: "tess" } });

// A failing tool: the SDK hands the error to the agent instead of throwing it away.
const bad = await client.callTool({ name: "create_customer", arguments: { name: "X", email: "not-an-email" } });
assert.equal(problem(bad).errors[0].field, "email");
const missing = await client.callTool({
  name: "get_customer",
  arguments: { customerId: "00000000-0000-7000-8000-000000000000" },
});
assert.equal(problem(missing).code, "not_found");

// A destructive tool through its confirmation: the preview and token come back as an error result.
const asked = problem(await client.callTool({ name: "delete_customer", arguments: { customerId: customer.id } }));
assert.equal(asked.code, "confirmation_required", JSON.stringify(asked));
assert.equal(asked.preview.target.name, "Tess Script");
const deleted = await client.callTool({
  name: "delete_customer",
  arguments: { customerId: customer.id, confirmationToken: asked.confirmationToken },
});
assert.equal(deleted.isError, false, JSON.stringify(deleted));
assert.ok(deleted.structuredContent.deletedAt, JSON.stringify(deleted));

await client.close();
console.log("mcp typescript sdk: all checks passed");
