// The SDK against a live server (started by the server's tests: tests/it/sdk.rs), which passes:
// FAVCRM_URL, FAVCRM_KEY (the owner's agent key), FAVCRM_APP_KEY (an owner's app key, which
// decides approvals), FAVCRM_PK (a publishable key for https://glow.example), FAVCRM_ACCESS_TOKEN
// (an OAuth access token for the whole server), FAVCRM_CUSTOMER and FAVCRM_TEMPLATE (a customer
// who consented to marketing email, and a marketing template).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import {
  ApprovalRequired,
  ConfirmationRequired,
  Favcrm,
  FavcrmError,
  NotFound,
  Unauthorized,
  operations,
} from "@favcrm/sdk";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through cargo test (tests/it/sdk.rs)`);
  return value;
};
const baseUrl = env("FAVCRM_URL");
const agent = new Favcrm({ baseUrl, apiKey: env("FAVCRM_KEY") });
const desk = new Favcrm({ baseUrl, apiKey: env("FAVCRM_APP_KEY") });

/** A fetch that records what was sent. */
const recording = () => {
  const sent = [];
  const fetch = (url, init) => {
    sent.push({ url: String(url), ...init });
    return globalThis.fetch(url, init);
  };
  return { sent, fetch };
};

test("the README's booking flow books a slot, typed end to end", () => {
  const out = execFileSync("node", ["dist-examples/booking.js"], {
    env: { ...process.env, FAVCRM_URL: baseUrl, FAVCRM_KEY: env("FAVCRM_KEY") },
    encoding: "utf8",
  });
  assert.match(out, /^Booked [0-9a-f-]{36} for \d{4}-\d\d-\d\dT.+ \(confirmed\)\n$/);
});

test("every POST carries an Idempotency-Key, kept when the caller gives one", async () => {
  const { sent, fetch } = recording();
  const fav = new Favcrm({ baseUrl, apiKey: env("FAVCRM_KEY"), fetch });
  const first = await fav.createCustomer({ name: "Idem Potent" });
  const key = sent[0].headers["idempotency-key"];
  assert.match(key, /^[0-9a-f-]{36}$/);
  await fav.listCustomers({ limit: 1 });
  assert.equal(sent[1].headers["idempotency-key"], undefined, "not on a GET");
  const once = await fav.createCustomer({ name: "Once Only" }, { idempotencyKey: "sdk-test-once" });
  const again = await fav.createCustomer({ name: "Once Only" }, { idempotencyKey: "sdk-test-once" });
  assert.equal(again.id, once.id, "the retry replays the first answer");
  assert.notEqual(first.id, once.id);
});

test("a refusal is a typed error with the server's code and the field at fault", async () => {
  await assert.rejects(agent.createCustomer({ name: "X", email: "not-an-email" }), (error) => {
    assert.ok(error instanceof FavcrmError);
    assert.equal(error.status, 422);
    assert.equal(error.code, "validation_failed");
    assert.equal(error.errors[0].field, "email");
    assert.ok(error.requestId);
    return true;
  });
  await assert.rejects(agent.getCustomer({ customerId: "01900000-0000-7000-8000-000000000000" }), NotFound);
  await assert.rejects(new Favcrm({ baseUrl, apiKey: "fav_mcp_wrong" }).listCustomers(), Unauthorized);
});

test("the confirmation flow shows the preview and repeats with the token only when the person agrees", async () => {
  const customer = await agent.createCustomer({ name: "To Delete" });
  await assert.rejects(agent.deleteCustomer({ customerId: customer.id }), ConfirmationRequired);
  let shown;
  await assert.rejects(
    agent.confirmed("delete_customer", { customerId: customer.id }, (preview) => {
      shown = preview;
      return false;
    }),
    ConfirmationRequired,
  );
  assert.equal(shown.target.id, customer.id);
  assert.equal((await agent.getCustomer({ customerId: customer.id })).id, customer.id, "still there");
  const deleted = await agent.confirmed("delete_customer", { customerId: customer.id }, () => true);
  assert.equal(deleted.id, customer.id);
  assert.ok((await agent.getCustomer({ customerId: customer.id })).deletedAt, "deleted now");
});

test("an agent's message waits for approval, and waitForApproval resolves once a person decides", async () => {
  let approvalId;
  await assert.rejects(
    agent.sendMessage({ customerId: env("FAVCRM_CUSTOMER"), templateId: env("FAVCRM_TEMPLATE") }),
    (error) => {
      assert.ok(error instanceof ApprovalRequired);
      assert.equal(error.approval.status, "pending");
      assert.equal(error.approval.snapshot.recipient, "amy@example.com");
      approvalId = error.approvalId;
      return true;
    },
  );
  const waiting = agent.waitForApproval(approvalId, { intervalMs: 100, timeoutMs: 20_000 });
  await desk.approve({ approvalId });
  const decided = await waiting;
  assert.equal(decided.status, "approved");
  assert.equal(decided.result.body, "Hello Amy, 20% off all week.");
});

test("a paged list is an async iterator over every item", async () => {
  const tag = `page-${Date.now()}`;
  for (const name of ["P One", "P Two", "P Three", "P Four", "P Five"]) {
    await agent.createCustomer({ name, tags: [tag] });
  }
  const { sent, fetch } = recording();
  const fav = new Favcrm({ baseUrl, apiKey: env("FAVCRM_KEY"), fetch });
  const names = [];
  for await (const customer of fav.paginate("list_customers", { tag, limit: 2 })) names.push(customer.name);
  assert.deepEqual(names.sort(), ["P Five", "P Four", "P One", "P Three", "P Two"]);
  assert.equal(sent.length, 3, "three pages of two");
});

test("a publishable key calls only what a web page may, as the page", async () => {
  const page = new Favcrm({ baseUrl, publishableKey: env("FAVCRM_PK") });
  const services = await page.listServices();
  assert.ok(services.items.length > 0);
  const { slots } = await page.getAvailableSlots({ serviceId: services.items[0].id });
  assert.ok(Array.isArray(slots));
  await assert.rejects(page.listCustomers(), /cannot be called with a publishable key/);
  assert.equal(operations.list_customers.publishable, false);
  assert.equal(operations.create_booking.publishable, true);
});

test("an OAuth access token, or a function that returns one, works as a key does", async () => {
  const token = env("FAVCRM_ACCESS_TOKEN");
  const fixed = new Favcrm({ baseUrl, accessToken: token });
  assert.ok((await fixed.getOrganisation()).name);
  let asked = 0;
  const fresh = new Favcrm({
    baseUrl,
    accessToken: async () => {
      asked += 1;
      return token;
    },
  });
  await fresh.listCustomers({ limit: 1 });
  assert.equal(asked, 1);
  assert.throws(() => new Favcrm({ baseUrl, apiKey: "a", accessToken: "b" }), /one of/);
});
