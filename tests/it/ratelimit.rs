//! The per-key request budget.

use favcrm::web::ServerSettings;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestApp;

fn budget(per_minute: u32) -> ServerSettings {
    ServerSettings { key_requests_per_minute: per_minute, ..Default::default() }
}

#[tokio::test]
async fn each_key_has_a_budget_with_ratelimit_headers_and_a_429_past_it() {
    let app = TestApp::spawn_with(budget(3)).await;
    let org = app.create_org("Glow").await;
    let other = app.insert_key(&org, org.owner_id, None, None).await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let res = app.get(&org.key, "/v1/organisation").await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.headers["ratelimit-limit"], "3");
        remaining.push(res.headers["ratelimit-remaining"].to_str().unwrap().to_string());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let refused = app.get(&org.key, "/v1/organisation").await;
    assert_eq!((refused.status, refused.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let retry: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(refused.body["retryAfterSeconds"], retry);
    assert!(refused.headers.contains_key("x-request-id"));

    // MCP: the same budget, answered as a JSON-RPC error with the same data.
    let (status, body) = app.rpc(Some(&org.key), "/mcp", "tools/list", json!({}), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["data"]["code"], "rate_limited");
    assert!(body["error"]["data"]["retryAfterSeconds"].as_u64().unwrap() >= 1);

    // Another key has its own budget; nothing was written by the refused calls.
    assert_eq!(app.get(&other, "/v1/organisation").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_zero_budget_turns_the_limit_off() {
    let app = TestApp::spawn_with(budget(0)).await;
    let org = app.create_org("Glow").await;
    for _ in 0..5 {
        let res = app.get(&org.key, "/v1/organisation").await;
        assert_eq!(res.status, StatusCode::OK);
        assert!(!res.headers.contains_key("ratelimit-limit"));
    }
}

#[tokio::test]
async fn sending_invitations_and_minting_keys_have_a_tighter_budget_per_key() {
    let app = TestApp::spawn_with(ServerSettings { sensitive_requests_per_hour: 2, ..crate::common::relaxed() }).await;
    let org = app.create_org("Glow").await;
    for name in ["one", "two"] {
        assert_eq!(app.post(&org.key, "/v1/api-keys", json!({"name": name})).await.status, StatusCode::CREATED);
    }
    let over = app.post(&org.key, "/v1/api-keys", json!({"name": "three"})).await;
    assert_eq!((over.status, over.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"), "{}", over.body);
    assert!(over.headers.contains_key("retry-after"));
    let invite =
        app.post(&org.key, "/v1/team-invites", json!({"email": "a@example.com", "name": "A", "role": "staff"})).await;
    assert_eq!(invite.status, StatusCode::TOO_MANY_REQUESTS, "sending email counts too");
    assert_eq!(app.count("app.api_keys", Some(org.id)).await, 3);
    // Everything else goes on, and another key has its own budget.
    assert_eq!(app.get(&org.key, "/v1/customers").await.status, StatusCode::OK);
    let (_, admin) = app.add_member(&org, "admin", None).await;
    assert_eq!(app.post(&admin, "/v1/api-keys", json!({"name": "theirs"})).await.status, StatusCode::CREATED);
}
