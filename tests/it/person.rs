//! The person confirms, not the model: a client on the 2026-07-28 protocol that declares form
//! elicitation gets a question for its person (`input_required`) instead of a confirmation
//! token or a bare `approval_required`; only the person's ticked answer, echoed with the sealed
//! request state for the same key, tool and arguments, goes ahead, and only once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::approvals::{consenting_customer, marketing_template};
use crate::common::{Org, TestApp};
use crate::mcp::problem;

const MODERN: &str = "2026-07-28";

impl TestApp {
    /// `tools/call` as a 2026-07-28 client sends it: the per-request `_meta` envelope, declaring
    /// form elicitation when `asks` is set, plus `extra` params (`inputResponses`,
    /// `requestState`). Returns the JSON-RPC result.
    pub async fn modern_tool(&self, key: &str, name: &str, arguments: Value, asks: bool, extra: Value) -> Value {
        let capabilities = if asks { json!({"elicitation": {"form": {}}}) } else { json!({}) };
        let mut params = json!({
            "name": name,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": capabilities,
                "io.modelcontextprotocol/clientInfo": {"name": "favcrm-tests", "version": "1.0.0"},
            },
        });
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            params.extend(extra.clone());
        }
        let headers = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", name)];
        let (status, body) = self.rpc(Some(key), "/mcp", "tools/call", params, &headers).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("error").is_none(), "{name}: JSON-RPC error {body}");
        body["result"].clone()
    }
}

/// The question an `input_required` result puts to the person, and its request state.
fn question(result: &Value) -> (String, String) {
    assert_eq!(result["resultType"], "input_required", "{result}");
    let request = &result["inputRequests"]["confirm"];
    assert_eq!(request["method"], "elicitation/create", "{result}");
    assert_eq!(request["params"]["requestedSchema"]["properties"]["confirm"]["type"], "boolean");
    (request["params"]["message"].as_str().unwrap().to_string(), result["requestState"].as_str().unwrap().to_string())
}

fn answered(state: &str, answer: Value) -> Value {
    json!({"requestState": state, "inputResponses": {"confirm": answer}})
}

fn ticked() -> Value {
    json!({"action": "accept", "content": {"confirm": true}})
}

/// The code a client reads from a problem: a field error's, else the problem's.
fn code(problem: &Value) -> String {
    problem["errors"][0]["code"].as_str().or(problem["code"].as_str()).unwrap_or_default().to_string()
}

/// Whether the customer is still there (not deleted).
async fn customer_exists(app: &TestApp, org: &Org, id: &str) -> bool {
    let res = app.get(&org.key, &format!("/v1/customers/{id}")).await;
    res.status == StatusCode::OK && res.body["deletedAt"].is_null()
}

#[tokio::test]
async fn a_destructive_call_asks_the_person_and_only_their_ticked_answer_deletes_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let tess = app.customer(&org, json!({"name": "Tess Person", "email": "tess@example.com"})).await.to_string();
    let args = json!({"customerId": tess});

    let asked = app.modern_tool(&org.key, "delete_customer", args.clone(), true, json!({})).await;
    let (message, state) = question(&asked);
    assert!(message.contains("Tess Person"), "the preview is the question: {message}");
    // The token stays with the server: neither the question nor its state shows it.
    assert!(!asked.to_string().contains("fav_cfm_"), "{asked}");

    // Declined, cancelled, or accepted unticked: nothing happens.
    for answer in [
        json!({"action": "decline"}),
        json!({"action": "cancel"}),
        json!({"action": "accept", "content": {"confirm": false}}),
    ] {
        let result = app.modern_tool(&org.key, "delete_customer", args.clone(), true, answered(&state, answer)).await;
        assert_eq!(code(&problem(&result)), "not_confirmed", "{result}");
        assert!(customer_exists(&app, &org, &tess).await);
    }

    // The state is bound to the key, the tool and the arguments, and cannot be altered.
    let other = app.customer(&org, json!({"name": "Other"})).await.to_string();
    let moved = json!({"customerId": other});
    let result = app.modern_tool(&org.key, "delete_customer", moved, true, answered(&state, ticked())).await;
    assert_eq!(code(&problem(&result)), "invalid_request_state", "{result}");
    let renamed = json!({"customerId": tess, "name": "Renamed"});
    let result = app.modern_tool(&org.key, "update_customer", renamed, true, answered(&state, ticked())).await;
    assert_eq!(code(&problem(&result)), "invalid_request_state", "{result}");
    let res = app
        .confirmed(&org.key, Method::POST, "/v1/api-keys", Some(json!({"name": "second agent", "kind": "agent"})))
        .await;
    let second_key = res.body["apiKey"].as_str().unwrap().to_string();
    let result = app.modern_tool(&second_key, "delete_customer", args.clone(), true, answered(&state, ticked())).await;
    assert_eq!(code(&problem(&result)), "invalid_request_state", "{result}");
    let mut tampered = state.clone();
    tampered.replace_range(state.len() - 3.., "AAA");
    let result = app.modern_tool(&org.key, "delete_customer", args.clone(), true, answered(&tampered, ticked())).await;
    assert_eq!(code(&problem(&result)), "invalid_request_state", "{result}");
    assert!(customer_exists(&app, &org, &tess).await);

    // Ticked: deleted, through the tool's own answer.
    let done = app.modern_tool(&org.key, "delete_customer", args.clone(), true, answered(&state, ticked())).await;
    assert_eq!(done["isError"], false, "{done}");
    assert!(done["structuredContent"]["deletedAt"].is_string(), "{done}");
    assert!(!customer_exists(&app, &org, &tess).await);
    // Once: the same answer again is refused (the token it carried is used up).
    let again = app.modern_tool(&org.key, "delete_customer", args, true, answered(&state, ticked())).await;
    assert_eq!(code(&problem(&again)), "invalid_confirmation_token", "{again}");
}

#[tokio::test]
async fn a_token_the_model_holds_is_not_the_persons_confirmation_but_clients_that_cannot_ask_keep_it() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let tess = app.customer(&org, json!({"name": "Tess"})).await.to_string();
    let args = json!({"customerId": tess});
    // A client that cannot ask its person (no elicitation, or the 2025 protocol) gets the token.
    for asked in [
        app.modern_tool(&org.key, "delete_customer", args.clone(), false, json!({})).await,
        app.tool(&org.key, "delete_customer", args.clone()).await,
    ] {
        let asked = problem(&asked);
        assert_eq!(asked["code"], "confirmation_required", "{asked}");
        assert!(asked["confirmationToken"].as_str().unwrap().starts_with("fav_cfm_"));
    }
    let token = problem(&app.tool(&org.key, "delete_customer", args.clone()).await)["confirmationToken"].clone();
    // Handed to a client that can ask: the person is asked all the same, and nothing is deleted.
    let mut with_token = args.clone();
    with_token["confirmationToken"] = token.clone();
    let asked = app.modern_tool(&org.key, "delete_customer", with_token.clone(), true, json!({})).await;
    question(&asked);
    assert!(customer_exists(&app, &org, &tess).await);
    // Where the person cannot be asked, the token still works.
    let done = app.modern_tool(&org.key, "delete_customer", with_token, false, json!({})).await;
    assert_eq!(done["isError"], false, "{done}");
}

#[tokio::test]
async fn an_agents_message_is_approved_by_the_person_at_the_client_exactly_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = consenting_customer(&app, &org, "Amy").await;
    let template = marketing_template(&app, &org).await;
    let args = json!({"customerId": amy, "templateId": template});

    let asked = app.modern_tool(&org.key, "send_message", args.clone(), true, json!({})).await;
    let (message, state) = question(&asked);
    assert!(message.contains("Hello Amy, 20% off all week."), "the snapshot is the question: {message}");
    assert!(message.contains("amy@example.com"), "{message}");
    let approvals = app.get(&org.key, "/v1/approvals?status=pending").await;
    let approval = approvals.body["items"][0].clone();
    assert_eq!(approval["decidableInClient"], true, "{approval}");
    assert_eq!(app.count("app.messages", Some(org.id)).await, 0);

    // Declined: nothing is sent, and the approval still waits in the inbox.
    let result =
        app.modern_tool(&org.key, "send_message", args.clone(), true, answered(&state, json!({"action": "decline"})));
    let declined = problem(&result.await);
    assert_eq!(code(&declined), "not_confirmed");
    assert!(declined["detail"].as_str().unwrap().contains("inbox"), "{declined}");
    let id = approval["id"].as_str().unwrap();
    assert_eq!(app.get(&org.key, &format!("/v1/approvals/{id}")).await.body["status"], "pending");
    assert_eq!(app.count("app.messages", Some(org.id)).await, 0);

    // Ticked: the approved snapshot is sent, as the tool's own answer, and recorded as the
    // person's decision in their client.
    let done = app.modern_tool(&org.key, "send_message", args.clone(), true, answered(&state, ticked())).await;
    assert_eq!(done["isError"], false, "{done}");
    assert_eq!(done["structuredContent"]["body"], "Hello Amy, 20% off all week.", "{done}");
    let decided = app.get(&org.key, &format!("/v1/approvals/{id}")).await.body;
    assert_eq!(decided["status"], "approved", "{decided}");
    assert_eq!(decided["decidedVia"], "mcp_elicitation", "{decided}");
    assert_eq!(decided["decidedByKeyId"], decided["requestedByKeyId"], "{decided}");
    // Approved twice: the same answer, and still one message.
    let again = app.modern_tool(&org.key, "send_message", args.clone(), true, answered(&state, ticked())).await;
    assert_eq!(again["structuredContent"]["id"], done["structuredContent"]["id"], "{again}");
    assert_eq!(app.count("app.messages", Some(org.id)).await, 1);
    assert_eq!(app.count("app.approvals", Some(org.id)).await, 1);

    // An organisation that wants every approval in the inbox: the agent is told to wait.
    let res = app.patch(&org.key, "/v1/approval-settings", json!({"approveInClient": false})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "an agent key cannot change the rule: {}", res.body);
    let desk = crate::approvals::app_key(&app, &org).await;
    let res = app.patch(&desk, "/v1/approval-settings", json!({"approveInClient": false})).await;
    assert_eq!((res.status, &res.body["approveInClient"]), (StatusCode::OK, &json!(false)), "{}", res.body);
    let waiting = problem(&app.modern_tool(&org.key, "send_message", args.clone(), true, json!({})).await);
    assert_eq!(waiting["code"], "approval_required", "{waiting}");
    assert_eq!(waiting["approval"]["decidableInClient"], false, "{waiting}");
    // And a question asked before the rule changed can no longer be answered in the client.
    let res = app.patch(&desk, "/v1/approval-settings", json!({"approveInClient": true})).await;
    assert_eq!(res.status, StatusCode::OK);
    let asked = app.modern_tool(&org.key, "send_message", args.clone(), true, json!({})).await;
    let (_, state) = question(&asked);
    app.patch(&desk, "/v1/approval-settings", json!({"approveInClient": false})).await;
    let refused = problem(&app.modern_tool(&org.key, "send_message", args, true, answered(&state, ticked())).await);
    assert_eq!(refused["code"], "forbidden", "{refused}");
    assert_eq!(app.count("app.messages", Some(org.id)).await, 1);
}

/// A POST to /mcp with `headers`; the status, the session header, and the JSON-RPC message
/// answering request `id` (read from an event stream or a JSON body).
async fn post_mcp(
    app: &TestApp,
    key: Option<&str>,
    headers: &[(&str, &str)],
    body: Value,
) -> (StatusCode, Option<String>, Value) {
    let req = app.mcp_post(key, "/mcp", &body, headers).header("accept", "application/json, text/event-stream");
    let res = req.send().await.unwrap();
    let status = res.status();
    let session = res.headers().get("mcp-session-id").map(|v| v.to_str().unwrap().to_string());
    let text = res.text().await.unwrap();
    let message = serde_json::from_str(&text).ok().unwrap_or_else(|| {
        text.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .find(|m| m.get("id").is_some_and(|id| *id == body["id"]))
            .unwrap_or(Value::String(text.clone()))
    });
    (status, session, message)
}

fn initialize(capabilities: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": capabilities,
        "clientInfo": {"name": "favcrm-tests", "version": "1.0.0"}}})
}

#[tokio::test]
async fn a_session_is_kept_only_for_a_keyed_2025_client_that_can_ask_and_belongs_to_its_key() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let other = app.create_org("Other").await;
    app.customer(&org, json!({"name": "Tess"})).await;
    // No elicitation, or no key, or the 2026-07-28 protocol: no session, as always.
    let (status, session, message) = post_mcp(&app, Some(&org.key), &[], initialize(json!({}))).await;
    assert_eq!((status, session), (StatusCode::OK, None), "{message}");
    // Without a key, /mcp wants a sign-in (oauth.rs); the keyless path keeps no session either.
    let (status, session, message) = post_mcp(&app, None, &[], initialize(json!({"elicitation": {}}))).await;
    assert_eq!((status, session), (StatusCode::UNAUTHORIZED, None), "{message}");
    let res = app
        .mcp_post(None, "/mcp/public", &initialize(json!({"elicitation": {}})), &[])
        .header("accept", "application/json, text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("mcp-session-id").is_none());
    // A keyed client that can ask: a session.
    let (status, session, message) = post_mcp(&app, Some(&org.key), &[], initialize(json!({"elicitation": {}}))).await;
    assert_eq!(status, StatusCode::OK, "{message}");
    let session = session.unwrap_or_else(|| panic!("no session: {message}"));
    let in_session = [("mcp-session-id", session.as_str()), ("mcp-protocol-version", "2025-11-25")];
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let (status, _, _) = post_mcp(&app, Some(&org.key), &in_session, initialized).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // A read in the session carries its structuredContent in the result itself.
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "list_customers", "arguments": {}}});
    let (status, _, message) = post_mcp(&app, Some(&org.key), &in_session, list.clone()).await;
    assert_eq!(status, StatusCode::OK, "{message}");
    assert_eq!(message["result"]["structuredContent"]["items"][0]["name"], "Tess", "{message}");
    // Another key, of another organisation or none, naming the session: there is no such session.
    for key in [Some(other.key.as_str()), None] {
        let (status, _, message) = post_mcp(&app, key, &in_session, list.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{message}");
        assert_eq!(message["code"], "session_not_found", "{message}");
    }
}
