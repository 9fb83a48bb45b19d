//! The MCP endpoint, spoken to as plain JSON-RPC over HTTP (the CLI and scripts' style) and
//! with the handshake: tool listing and filtering, schemas, truthful annotations, errors.

use favcrm::catalog;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Org, TestApp};

impl TestApp {
    /// A JSON-RPC POST with no handshake and no MCP headers, as `curl -d` sends it.
    pub async fn rpc(
        &self,
        key: Option<&str>,
        path: &str,
        method: &str,
        params: Value,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let res = self.mcp_post(key, path, &body, headers).send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A JSON POST of `body` to an MCP path, with the key (if any) and `headers`.
    pub fn mcp_post(
        &self,
        key: Option<&str>,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req
    }

    pub async fn tools(&self, key: &str, path: &str, headers: &[(&str, &str)]) -> Vec<Value> {
        let (status, body) = self.rpc(Some(key), path, "tools/list", json!({}), headers).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["result"]["tools"].as_array().unwrap().clone()
    }

    /// `tools/call`; returns the result object (content, structuredContent, isError).
    pub async fn tool(&self, key: &str, name: &str, arguments: Value) -> Value {
        let (status, body) =
            self.rpc(Some(key), "/mcp", "tools/call", json!({"name": name, "arguments": arguments}), &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("error").is_none(), "{name}: JSON-RPC error {body}");
        body["result"].clone()
    }
}

/// The problem an error result carries: `isError`, no `structuredContent` (it would have to
/// match the tool's `outputSchema`), and the problem object as JSON text.
pub fn problem(result: &Value) -> Value {
    assert_eq!(result["isError"], true, "not an error: {result}");
    assert!(result.get("structuredContent").is_none_or(Value::is_null), "an error with structuredContent: {result}");
    let text = result["content"][0]["text"].as_str().unwrap_or_else(|| panic!("no text: {result}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("the error text is not a problem object ({e}): {text}"))
}

fn names(tools: &[Value]) -> Vec<String> {
    tools.iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
}

/// An app back-end key for the owner (no confirmation step), made through the API.
async fn app_key(app: &TestApp, org: &Org) -> String {
    let res =
        app.confirmed(&org.key, Method::POST, "/v1/api-keys", Some(json!({"name": "tests", "kind": "app"}))).await;
    res.body["apiKey"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_plain_post_lists_every_tool_sorted_with_no_handshake() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let tools = app.tools(&org.key, "/mcp", &[]).await;
    let listed = names(&tools);
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    let keyed = catalog::all().iter().filter(|op| !op.is_public()).count();
    assert_eq!(listed.len(), keyed, "the owner sees every operation that needs a key");
    for tool in &tools {
        let a = &tool["annotations"];
        for hint in ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] {
            assert!(a[hint].is_boolean(), "{} lacks {hint}", tool["name"]);
        }
        assert_eq!(tool["inputSchema"]["type"], "object");
        assert_eq!(tool["inputSchema"]["additionalProperties"], false);
        assert_eq!(tool["outputSchema"]["type"], "object");
        assert!(tool["title"].is_string() && tool["description"].as_str().unwrap().len() > 40);
        let mutating = a["readOnlyHint"] == false;
        assert_eq!(tool["inputSchema"]["properties"]["idempotencyKey"].is_object(), mutating, "{}", tool["name"]);
    }
}

#[tokio::test]
async fn the_handshake_style_works_too() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let accept = ("accept", "application/json, text/event-stream");
    let (status, init) = app
        .rpc(
            Some(&org.key),
            "/mcp",
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
            &[accept],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{init}");
    assert_eq!(init["result"]["serverInfo"]["name"], "favcrm");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    let res = app
        .http
        .post(format!("{}/mcp", app.base))
        .bearer_auth(&org.key)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let tools = app.tools(&org.key, "/mcp", &[accept, ("mcp-protocol-version", "2025-06-18")]).await;
    assert!(names(&tools).contains(&"create_customer".to_string()));
}

#[tokio::test]
async fn a_bad_key_or_header_gets_http_401_with_a_bearer_challenge_and_no_key_gets_only_the_no_key_tools() {
    let app = TestApp::spawn().await;
    app.create_org("Glow").await;
    let (status, body) = app.rpc(Some("fav_mcp_not-a-real-key"), "/mcp", "tools/list", json!({}), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let res = app
        .http
        .post(format!("{}/mcp", app.base))
        .header("authorization", "Basic abc")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let (status, body) = app.rpc(None, "/mcp", "tools/list", json!({}), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tools = body["result"]["tools"].as_array().unwrap();
    assert!(tools.iter().all(|t| catalog::find(t["name"].as_str().unwrap()).unwrap().is_public()), "{body}");
    assert_eq!(tools.len(), 4);
}

#[tokio::test]
async fn a_tool_call_with_an_unknown_or_revoked_key_is_http_401_on_the_very_next_request() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let call = json!({"name": "list_customers", "arguments": {}});
    let (status, body) = app.rpc(Some("fav_mcp_not-a-real-key"), "/mcp", "tools/call", call.clone(), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "invalid_api_key", "{body}");

    let created = app.post(&org.key, "/v1/api-keys", json!({"name": "Claude", "scopes": ["customers:read"]})).await;
    let spare = created.body["apiKey"].as_str().unwrap().to_string();
    let (status, body) = app.rpc(Some(&spare), "/mcp", "tools/call", call.clone(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let revoked =
        app.delete_confirmed(&org.key, &format!("/v1/api-keys/{}", created.body["id"].as_str().unwrap())).await;
    assert_eq!(revoked.body["status"], "revoked");
    let res = app
        .http
        .post(format!("{}/mcp", app.base))
        .bearer_auth(&spare)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    // A no-key tool ignores a key sent along, as on REST.
    let (status, body) = app
        .rpc(
            Some("fav_mcp_not-a-real-key"),
            "/mcp",
            "tools/call",
            json!({"name": "accept_team_invite_request", "arguments": {"token": "fav_inv_nothing"}}),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_unknown_tool_and_a_malformed_request_are_json_rpc_errors() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (_, body) =
        app.rpc(Some(&org.key), "/mcp", "tools/call", json!({"name": "drop_database", "arguments": {}}), &[]).await;
    assert!(body["error"]["code"].is_i64(), "{body}");
    let (_, body) = app.rpc(Some(&org.key), "/mcp", "tools/call", json!({"arguments": {}}), &[]).await;
    assert!(body["error"].is_object(), "{body}");
}

/// Records the samples name.
pub struct Fixture {
    bookings: crate::bookings::BookingFixture,
    billing: crate::billing::BillingFixture,
    commerce: crate::commerce::CommerceFixture,
    subscriptions: crate::subscriptions::SubscriptionsFixture,
    loyalty: crate::loyalty::LoyaltyFixture,
    outbox: crate::webhooks::OutboxFixture,
    messaging: crate::messaging::MessagingFixture,
    approvals: crate::approvals::ApprovalsFixture,
    digest: String,
    post: String,
    import: String,
    customer: String,
    spare_key: String,
    rotatable_key: String,
    invite: String,
    member_to_update: String,
    member_to_remove: String,
}

/// Inputs for every tool, valid for `org`, naming records of the fixture.
pub fn sample(op: &str, f: &Fixture) -> Value {
    let (customer, spare_key) = (f.customer.as_str(), f.spare_key.as_str());
    if let Some(input) = crate::bookings::booking_sample(op, &f.bookings) {
        return input;
    }
    if let Some(input) = crate::billing::billing_sample(op, &f.billing) {
        return input;
    }
    if let Some(input) = crate::commerce::commerce_sample(op, &f.commerce) {
        return input;
    }
    if let Some(input) = crate::subscriptions::subscriptions_sample(op, &f.subscriptions) {
        return input;
    }
    if let Some(input) = crate::loyalty::loyalty_sample(op, &f.loyalty) {
        return input;
    }
    if let Some(input) = crate::webhooks::outbox_sample(op, &f.outbox) {
        return input;
    }
    if let Some(input) = crate::messaging::messaging_sample(op, &f.messaging) {
        return input;
    }
    if let Some(input) = crate::approvals::approvals_sample(op, &f.approvals) {
        return input;
    }
    if let Some(input) = crate::content::content_sample(op, &f.post) {
        return input;
    }
    if let Some(input) = crate::imports::import_sample(op, &f.import) {
        return input;
    }
    if let Some(input) = crate::reports::reports_sample(op, &f.digest) {
        return input;
    }
    match op {
        "rotate_api_key" => json!({"apiKeyId": f.rotatable_key}),
        "list_team_members" | "list_team_invites" | "list_my_organisations" => json!({}),
        "create_team_member_invite" => json!({"email": "new@example.com", "name": "New", "role": "staff"}),
        "revoke_team_invite" => json!({"inviteId": f.invite}),
        "update_team_member_role" => json!({"memberId": f.member_to_update, "role": "manager"}),
        "remove_team_member" => json!({"memberId": f.member_to_remove}),
        "list_customers" | "get_organisation" | "list_api_keys" | "list_audit_events" => json!({}),
        "get_customer" | "delete_customer" | "restore_customer" | "list_customer_notes" => {
            json!({"customerId": customer})
        }
        "create_customer" => json!({"name": "Cleo", "tags": ["new"]}),
        "update_customer" => json!({"customerId": customer, "lifecycleStage": "vip", "customFields": {"k": 1}}),
        "add_customer_tags" | "remove_customer_tags" => json!({"customerId": customer, "tags": ["facial"]}),
        "add_customer_note" => json!({"customerId": customer, "body": "likes mornings"}),
        "update_organisation" => json!({"defaultCurrency": "HKD"}),
        "create_api_key" => json!({"name": "another", "scopes": ["customers:read"]}),
        "get_api_key" | "revoke_api_key" => json!({"apiKeyId": spare_key}),
        other => panic!("add a sample input for {other} to tests/it/mcp.rs"),
    }
}

pub async fn fixture(app: &TestApp) -> (Org, String, Fixture) {
    let org = app.create_org("Glow").await;
    let key = app_key(app, &org).await;
    let customer = app.customer(&org, json!({"name": "Amy", "tags": ["facial"]})).await.to_string();
    let new_key = |name: &'static str| {
        let org = org.clone();
        async move {
            app.post(&org.key, "/v1/api-keys", json!({"name": name})).await.body["id"].as_str().unwrap().to_string()
        }
    };
    let spare_key = new_key("spare").await;
    let rotatable_key = new_key("rotatable").await;
    let invite = app
        .post(&org.key, "/v1/team-invites", json!({"email": "inv@example.com", "name": "Inv", "role": "staff"}))
        .await;
    app.add_member(&org, "staff", None).await;
    app.add_member(&org, "staff", None).await;
    let members = app.get(&org.key, "/v1/team-members").await;
    let staff: Vec<String> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "staff")
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let bookings = crate::bookings::booking_fixture(app, &org).await;
    let billing = crate::billing::billing_fixture(app, &org, &bookings).await;
    let commerce = crate::commerce::commerce_fixture(app, &org).await;
    let subscriptions = crate::subscriptions::subscriptions_fixture(app, &org).await;
    let loyalty = crate::loyalty::loyalty_fixture(app, &org).await;
    let outbox = crate::webhooks::outbox_fixture(app, &org).await;
    let messaging = crate::messaging::messaging_fixture(app, &org).await;
    let approvals = crate::approvals::approvals_fixture(app, &org).await;
    let digest = crate::reports::digest_fixture(app, &org).await;
    let post = crate::content::content_fixture(app, &org).await;
    let import = crate::imports::import_fixture(app, &org).await;
    let fixture = Fixture {
        bookings,
        billing,
        commerce,
        subscriptions,
        loyalty,
        outbox,
        messaging,
        approvals,
        digest,
        post,
        import,
        customer,
        spare_key,
        rotatable_key,
        invite: invite.body["id"].as_str().unwrap().to_string(),
        member_to_update: staff[0].clone(),
        member_to_remove: staff[1].clone(),
    };
    (org, key, fixture)
}

#[tokio::test]
async fn every_tool_answers_with_output_that_matches_its_schema_and_refuses_unknown_fields() {
    let app = TestApp::spawn().await;
    let (_, key, f) = fixture(&app).await;
    let tools = app.tools(&key, "/mcp", &[]).await;
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        let validator = jsonschema::validator_for(&tool["outputSchema"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let result = app.tool(&key, name, sample(name, &f)).await;
        assert_eq!(result["isError"], false, "{name}: {result}");
        let output = &result["structuredContent"];
        let errors: Vec<String> =
            validator.iter_errors(output).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{name} output does not match its outputSchema: {errors:?}\n{output}");
        let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(&text, output, "{name}: the text copy differs from structuredContent");

        let mut extra = sample(name, &f);
        extra["notAField"] = json!(1);
        let refused = app.tool(&key, name, extra).await;
        assert_eq!(refused["isError"], true, "{name} accepted an unknown field");
        assert_eq!(problem(&refused)["errors"][0]["code"], "unknown_field", "{name}");
    }
}

#[tokio::test]
async fn annotations_are_true_read_only_tools_change_nothing_and_idempotent_tools_repeat_to_the_same_state() {
    let app = TestApp::spawn().await;
    let (org, key, f) = fixture(&app).await;
    let tools = app.tools(&key, "/mcp", &[]).await;
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        let a = &tool["annotations"];
        let op = catalog::find(name).unwrap();
        assert_eq!(a["readOnlyHint"], op.read_only(), "{name}");
        let input = sample(name, &f);
        if a["readOnlyHint"] == true {
            let before = app.fingerprint(org.id).await;
            let result = app.tool(&key, name, input).await;
            assert_eq!(result["isError"], false, "{name}: {result}");
            assert_eq!(app.fingerprint(org.id).await, before, "read-only {name} changed something");
        } else if a["idempotentHint"] == true {
            let first = app.tool(&key, name, input.clone()).await;
            assert_eq!(first["isError"], false, "{name}: {first}");
            let after_one = app.fingerprint(org.id).await;
            let second = app.tool(&key, name, input).await;
            assert_eq!(second["isError"], false, "{name}: {second}");
            assert_eq!(app.fingerprint(org.id).await, after_one, "idempotent {name} changed state on the second call");
        }
    }
}

#[tokio::test]
async fn scopes_decide_which_tools_are_listed_and_the_database_refuses_the_rest() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let reader = app.post(&org.key, "/v1/api-keys", json!({"name": "reader", "readOnly": true})).await.body["apiKey"]
        .as_str()
        .unwrap()
        .to_string();
    let tools = app.tools(&reader, "/mcp", &[]).await;
    assert!(!tools.is_empty());
    assert!(tools.iter().all(|t| t["annotations"]["readOnlyHint"] == true), "{:?}", names(&tools));
    let refused = app.tool(&reader, "create_customer", json!({"name": "Amy"})).await;
    assert_eq!(refused["isError"], true);
    assert_eq!(problem(&refused)["code"], "insufficient_scope");
    assert_eq!(app.count("app.customers", None).await, 0);

    let (_, staff) = app.add_member(&org, "staff", None).await;
    let staff_tools = names(&app.tools(&staff, "/mcp", &[]).await);
    for hidden in ["create_api_key", "list_audit_events", "update_organisation"] {
        assert!(!staff_tools.contains(&hidden.to_string()), "staff see {hidden}");
    }
    assert!(staff_tools.contains(&"create_customer".to_string()));
}

#[tokio::test]
async fn toolsets_and_read_only_mode_narrow_the_list_and_the_calls() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let by_url = app.tools(&org.key, "/mcp?toolsets=keys", &[]).await;
    assert_eq!(
        names(&by_url),
        [
            "create_api_key",
            "create_publishable_key",
            "get_api_key",
            "list_api_keys",
            "list_publishable_keys",
            "revoke_api_key",
            "revoke_publishable_key",
            "rotate_api_key"
        ]
    );
    let by_header =
        app.tools(&org.key, "/mcp", &[("X-MCP-Toolsets", "organisation"), ("X-MCP-Readonly", "true")]).await;
    assert_eq!(names(&by_header), ["get_organisation", "list_my_organisations"]);
    let read_only = app.tools(&org.key, "/mcp?readOnly=true", &[]).await;
    assert!(read_only.iter().all(|t| t["annotations"]["readOnlyHint"] == true));

    let (_, body) = app
        .rpc(
            Some(&org.key),
            "/mcp?toolsets=keys",
            "tools/call",
            json!({"name": "create_customer", "arguments": {"name": "Amy"}}),
            &[],
        )
        .await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    assert_eq!(problem(&body["result"])["code"], "tool_not_enabled");
    assert_eq!(app.count("app.customers", None).await, 0);

    let crm =
        app.post(&org.key, "/v1/api-keys", json!({"name": "crm", "toolsets": ["customers"]})).await.body["apiKey"]
            .as_str()
            .unwrap()
            .to_string();
    let crm_tools = app.tools(&crm, "/mcp", &[]).await;
    assert!(names(&crm_tools).iter().all(|n| n.contains("customer")), "{:?}", names(&crm_tools));
}

#[tokio::test]
async fn an_agent_cannot_delete_over_mcp_without_a_confirmation_token() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let id = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let first = app.tool(&org.key, "delete_customer", json!({"customerId": id})).await;
    let asked = problem(&first);
    assert_eq!(asked["code"], "confirmation_required");
    assert_eq!(asked["preview"]["target"]["name"], "Amy");
    assert!(app.get(&org.key, &format!("/v1/customers/{id}")).await.body["deletedAt"].is_null());
    let token = asked["confirmationToken"].as_str().unwrap();
    let done = app.tool(&org.key, "delete_customer", json!({"customerId": id, "confirmationToken": token})).await;
    assert_eq!(done["isError"], false, "{done}");
    let again = app.tool(&org.key, "delete_customer", json!({"customerId": id, "confirmationToken": token})).await;
    assert_eq!(problem(&again)["code"], "invalid_confirmation_token");
    // A token obtained over MCP also works over REST for the same key: it is the caller's property.
    app.post(&org.key, &format!("/v1/customers/{id}/restore"), json!({})).await;
    let token = problem(&app.tool(&org.key, "delete_customer", json!({"customerId": id})).await)["confirmationToken"]
        .as_str()
        .unwrap()
        .to_string();
    let rest = app
        .call_with(
            Some(&org.key),
            Method::DELETE,
            &format!("/v1/customers/{id}"),
            None,
            &[("Confirmation-Token", &token)],
        )
        .await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.body);
}

#[tokio::test]
async fn the_idempotency_key_argument_makes_a_retried_create_safe() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let args = json!({"name": "Amy", "idempotencyKey": "agent-retry-1"});
    let first = app.tool(&org.key, "create_customer", args.clone()).await;
    let second = app.tool(&org.key, "create_customer", args).await;
    assert_eq!(first["structuredContent"]["id"], second["structuredContent"]["id"]);
    assert_eq!(app.count("app.customers", None).await, 1);
    let reused = app.tool(&org.key, "create_customer", json!({"name": "Ben", "idempotencyKey": "agent-retry-1"})).await;
    assert_eq!(problem(&reused)["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn the_server_card_and_the_skills_are_discoverable() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let card: Value = app
        .http
        .get(format!("{}/.well-known/mcp/server-card.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(card["name"], "favcrm");
    assert_eq!(card["tools"].as_array().unwrap().len(), catalog::all().len());
    let (_, listed) = app.rpc(Some(&org.key), "/mcp", "resources/list", json!({}), &[]).await;
    let uris: Vec<&str> =
        listed["result"]["resources"].as_array().unwrap().iter().map(|r| r["uri"].as_str().unwrap()).collect();
    assert!(
        uris.contains(&"skill://favcrm/customer-lifecycle") && uris.contains(&"skill://favcrm/api-keys"),
        "{uris:?}"
    );
    let (_, read) =
        app.rpc(Some(&org.key), "/mcp", "resources/read", json!({"uri": "skill://favcrm/api-keys"}), &[]).await;
    assert!(read["result"]["contents"][0]["text"].as_str().unwrap().contains("# API keys"), "{read}");
}

#[test]
fn every_skill_is_indexed_and_its_front_matter_is_well_formed() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/skills");
    let index: Value = serde_json::from_str(favcrm::skills::INDEX).unwrap();
    let mut dirs: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("SKILL.md").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut indexed: Vec<String> =
        index["skills"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect();
    indexed.sort();
    assert_eq!(dirs, indexed);
    let served: Vec<&str> = favcrm::skills::all().iter().map(|s| s.name).collect();
    assert_eq!(served.len(), dirs.len());
    for skill in favcrm::skills::all() {
        assert_eq!(favcrm::skills::front_matter(skill.text, "name").as_deref(), Some(skill.name));
        assert!(skill.description.starts_with("Use when"), "{}", skill.name);
        for section in ["## Purpose", "## Operating rules", "## Standard flow", "## Failure handling"] {
            assert!(skill.text.contains(section), "{} lacks {section}", skill.name);
        }
        let entry = index["skills"].as_array().unwrap().iter().find(|s| s["name"] == skill.name).unwrap();
        assert_eq!(entry["description"], skill.description.as_str());
    }
}

#[tokio::test]
async fn a_web_page_cannot_make_its_visitors_browsers_call_mcp() {
    let mut settings = crate::common::relaxed();
    settings.mcp_allowed_origins = Some(vec!["https://app.example".into()]);
    let app = TestApp::spawn_with(settings).await;
    let signup =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "register_organisation_request",
        "arguments": {"email": "victim@example.com", "organisationName": "Spam"}}})
        .to_string();
    let post = |content_type: &'static str, origin: Option<String>| {
        let mut req =
            app.http.post(format!("{}/mcp", app.base)).header("content-type", content_type).body(signup.clone());
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // What a cross-site form or fetch without preflight can send.
    let (status, body) = post("text/plain", Some("https://evil.example".into())).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("origin_not_allowed")), "{body}");
    let (status, body) = post("application/json", Some("https://evil.example".into())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = post("text/plain", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type")));
    let (status, _) = post("application/x-www-form-urlencoded", None).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(app.mails_to("victim@example.com").await.is_empty(), "no mail went out");
    // The operator's origin and the server's own may call.
    let (status, body) = post("application/json", Some("https://app.example".into())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let own = app.base.clone();
    let (status, body) = post("application/json; charset=utf-8", Some(own)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.mails_to("victim@example.com").await.len(), 2);
}

#[test]
fn tools_that_ask_for_confirmation_say_so_and_are_marked_destructive_unless_they_only_create() {
    for op in catalog::all() {
        let tool = favcrm::web::mcp::tool_json(op);
        let destructive = tool["annotations"]["destructiveHint"] == true;
        let description = tool["description"].as_str().unwrap();
        if op.confirm {
            assert!(description.contains("confirmation_required"), "{}: {description}", op.name);
            // Minting a key is confirmed because it hands out power, not because it destroys.
            assert!(
                destructive || op.name == "create_api_key",
                "{} asks for confirmation but is not destructive",
                op.name
            );
        }
        if destructive {
            assert!(op.confirm, "{} is destructive without a confirmation step", op.name);
        }
        if let Some(catalog::Preview::Target(read)) = op.preview {
            let read = catalog::find(read).unwrap_or_else(|| panic!("{} previews with unknown {read}", op.name));
            assert!(read.read_only(), "{} previews with {}, which writes", op.name, read.name);
        }
    }
}

#[tokio::test]
async fn a_staff_key_is_offered_exactly_the_tools_its_role_can_call() {
    let app = TestApp::spawn().await;
    let (org, _, f) = fixture(&app).await;
    let (_, staff_key) = app.add_member(&org, "staff", None).await;
    let offered = names(&app.tools(&staff_key, "/mcp", &[]).await);
    let staff_scopes: Vec<String> =
        app.admin().await.query_one("select auth.role_scopes('staff')", &[]).await.unwrap().get(0);
    let mut checked = 0;
    for op in catalog::all().iter().filter(|op| !op.is_public()) {
        if !staff_scopes.iter().any(|s| s == op.scope) {
            assert!(!offered.contains(&op.name.to_string()), "{} offered without its scope", op.name);
            continue;
        }
        let (method, path, body) = crate::isolation::request_for(op, &sample(op.name, &f));
        let res = app.confirmed(&staff_key, method, &path, body).await;
        // Refused for the role: 403 forbidden that names no field (a field names a refusal of
        // that input, such as booking a colleague).
        let refused_for_role =
            res.status == StatusCode::FORBIDDEN && res.code() == "forbidden" && res.field().is_empty();
        let is_offered = offered.contains(&op.name.to_string());
        assert_eq!(
            is_offered, !refused_for_role,
            "{}: offered {is_offered}, answered {} {}",
            op.name, res.status, res.body
        );
        checked += 1;
    }
    assert!(checked > 30, "{checked}");
    assert!(!offered.contains(&"create_service".to_string()) && offered.contains(&"create_booking".to_string()));
}

#[tokio::test]
async fn an_unknown_toolset_is_refused_with_the_valid_names() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (status, body) = app.rpc(Some(&org.key), "/mcp?toolsets=customers,booking", "tools/list", json!({}), &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")),
        "{body}"
    );
    assert_eq!(
        (body["errors"][0]["field"].as_str(), body["errors"][0]["code"].as_str()),
        (Some("toolsets"), Some("unknown_toolset"))
    );
    assert!(body["toolsets"].as_array().unwrap().contains(&json!("bookings")), "{body}");
    let tools = app.tools(&org.key, "/mcp?toolsets=customers,bookings", &[]).await;
    assert!(names(&tools).contains(&"create_booking".to_string()));
}

#[tokio::test]
async fn keys_can_be_made_for_every_scope_and_toolset_the_database_knows() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let admin = app.admin().await;
    let scopes: Vec<String> = admin.query_one("select auth.all_scopes()", &[]).await.unwrap().get(0);
    let toolsets: Vec<String> = admin.query_one("select auth.all_toolsets()", &[]).await.unwrap().get(0);
    let op = catalog::find("create_api_key").unwrap();
    let enum_of = |field: &str| -> Vec<String> {
        let mut values: Vec<String> = op.input_schema["properties"][field]["items"]["enum"]
            .as_array()
            .or_else(|| op.input_schema["properties"][field]["anyOf"][0]["items"]["enum"].as_array())
            .unwrap_or_else(|| panic!("{field}: {}", op.input_schema["properties"][field]))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        values.sort();
        values
    };
    assert_eq!(enum_of("scopes"), scopes, "the schema's scopes are the database's");
    assert_eq!(enum_of("toolsets"), toolsets, "the schema's toolsets are the database's");
    let made = app
        .confirmed(
            &org.key,
            Method::POST,
            "/v1/api-keys",
            Some(
                json!({"name": "front desk", "scopes": ["bookings:read", "bookings:write"], "toolsets": ["bookings"]}),
            ),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let tools = app.tools(made.body["apiKey"].as_str().unwrap(), "/mcp", &[]).await;
    assert!(names(&tools).iter().all(|n| catalog::find(n).unwrap().toolset == "bookings"));
    assert!(names(&tools).contains(&"create_booking".to_string()));
}

/// The gate answers a plain `tools/call` itself, without rmcp's per-request transport; any
/// request it does not recognise as plain goes through rmcp. Both roads must give the same
/// answer, byte for byte: every read tool but the clock's, an error result, an unknown tool, a
/// string id.
#[tokio::test]
async fn a_tool_call_the_gate_answers_itself_is_answered_exactly_as_rmcp_answers_it() {
    let app = TestApp::spawn().await;
    let (_, key, f) = fixture(&app).await;
    let call = |body: String, through_rmcp: bool| {
        let mut req = app
            .http
            .post(format!("{}/mcp", app.base))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body);
        if through_rmcp {
            // A standard header (SEP-2243) the gate leaves to rmcp to check.
            req = req.header("mcp-method", "tools/call");
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status(), res.headers().get("content-type").cloned(), res.text().await.unwrap())
        }
    };
    let mut bodies: Vec<Value> = catalog::all()
        .iter()
        // (get_organisation tells the local time to the second: two calls may straddle one.)
        .filter(|op| op.read_only() && !op.is_public() && op.name != "get_organisation")
        .map(|op| {
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                         "params": {"name": op.name, "arguments": sample(op.name, &f)}})
        })
        .collect();
    bodies.extend([
        json!({"jsonrpc": "2.0", "id": "call-1", "method": "tools/call", "params": {"name": "list_customers"}}),
        json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
               "params": {"name": "get_customer", "arguments": {"customerId": "not-a-uuid"}}}),
        json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "drop_database", "arguments": {}}}),
    ]);
    assert!(bodies.len() > 10);
    for body in bodies {
        let direct = call(body.to_string(), false).await;
        let rmcp = call(body.to_string(), true).await;
        assert_eq!(direct.0, StatusCode::OK, "{body}: {}", direct.2);
        assert_eq!(direct, rmcp, "{body}: the gate's answer differs from rmcp's");
    }
    // What rmcp would refuse still goes to rmcp: a protocol version it does not know.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_organisation"}});
    let res = app
        .http
        .post(format!("{}/mcp", app.base))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "1999-01-01")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}
