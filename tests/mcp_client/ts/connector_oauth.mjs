// A connector-style MCP client, built on the official TypeScript SDK's OAuth support: it is
// given only the server's URL. Its first request is refused with 401; the SDK discovers the
// authorization server from the challenge, registers itself (RFC 7591), and asks for the
// person's browser to open the authorization URL, which this script prints for the test to
// open in headless Chromium. The person signs in and consents there; the browser comes back to
// this script's loopback listener (RFC 8252) with the code, which the SDK exchanges (PKCE).
// Then, as the agent: list tools, create a customer, and ask to send a message, which waits
// for the person's approval.
//
// Usage: node connector_oauth.mjs <server>/mcp <customerId> <templateId>
// Prints one line per step: AUTHORIZE <url>, CALLBACK, TOOLS <n>, CREATED <json>, APPROVAL <id>.

import http from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const [url, customerId, templateId] = process.argv.slice(2);
const fail = (message) => {
  console.error(message);
  process.exit(1);
};
setTimeout(() => fail("the connector flow did not finish within 120 seconds"), 120_000).unref();

// The loopback listener the browser comes back to.
const listener = http.createServer();
await new Promise((resolve) => listener.listen(0, "127.0.0.1", resolve));
const redirectUrl = `http://127.0.0.1:${listener.address().port}/callback`;
const callback = new Promise((resolve) => {
  listener.on("request", (req, res) => {
    const at = new URL(req.url, redirectUrl);
    if (at.pathname !== "/callback") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>Connected</title><h1>Connected to favcrm. You can close this window.</h1>");
    resolve(Object.fromEntries(at.searchParams));
  });
});

// What a desktop client would keep on disk, kept in memory.
const kept = { state: `state-${Math.random().toString(36).slice(2)}` };
const provider = {
  get redirectUrl() {
    return redirectUrl;
  },
  get clientMetadata() {
    return {
      client_name: "Connector test",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  },
  state: () => kept.state,
  clientInformation: () => kept.client,
  saveClientInformation: (client) => {
    kept.client = client;
  },
  tokens: () => kept.tokens,
  saveTokens: (tokens) => {
    kept.tokens = tokens;
  },
  redirectToAuthorization: (authorizationUrl) => {
    console.log(`AUTHORIZE ${authorizationUrl.href}`);
  },
  saveCodeVerifier: (verifier) => {
    kept.verifier = verifier;
  },
  codeVerifier: () => kept.verifier,
};

const connect = async () => {
  const client = new Client({ name: "favcrm-connector-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  await client.connect(transport);
  return { client, transport };
};

// 1. The server by URL alone: refused, and the SDK starts the sign-in.
let first;
try {
  await connect();
  fail("connected without signing in");
} catch (error) {
  if (!(error instanceof UnauthorizedError)) throw error;
  first = error;
}
if (!kept.client?.client_id?.startsWith("fav_client_")) fail(`not registered: ${JSON.stringify(kept.client)}`);

// 2. The person signs in and consents in the browser, which comes back here.
const back = await callback;
console.log("CALLBACK");
if (back.error) fail(`authorization refused: ${JSON.stringify(back)}`);
if (back.state !== kept.state) fail(`state ${back.state} is not ${kept.state}`);
const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
await transport.finishAuth(back.code);
if (!kept.tokens?.access_token?.startsWith("fav_oat_")) fail(`no access token: ${JSON.stringify(kept.tokens)}`);

// 3. The agent works with its token.
const { client } = await connect();
const { tools } = await client.listTools();
console.log(`TOOLS ${tools.length}`);
if (!tools.some((t) => t.name === "create_customer")) fail("create_customer is not offered");
const created = await client.callTool({ name: "create_customer", arguments: { name: "Ada Lovelace" } });
if (created.isError) fail(`create_customer failed: ${JSON.stringify(created)}`);
console.log(`CREATED ${JSON.stringify(created.structuredContent)}`);
const asked = await client.callTool({ name: "send_message", arguments: { customerId, templateId } });
const problem = asked.structuredContent ?? JSON.parse(asked.content[0].text);
if (!asked.isError || problem.code !== "approval_required") fail(`send_message did not wait: ${JSON.stringify(asked)}`);
console.log(`APPROVAL ${problem.approvalId}`);
await client.close();
listener.close();
void first;
