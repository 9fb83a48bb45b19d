use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::TestApp;

#[tokio::test]
async fn a_retried_post_with_the_same_idempotency_key_replays_the_first_response() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let body = json!({"name": "Amy", "email": "amy@example.com"});
    let first = app
        .call_with(Some(&org.key), Method::POST, "/v1/customers", Some(body.clone()), &[("Idempotency-Key", "abc-1")])
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let second =
        app.call_with(Some(&org.key), Method::POST, "/v1/customers", Some(body), &[("Idempotency-Key", "abc-1")]).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.body, first.body);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(app.count("app.customers", None).await, 1);
}

#[tokio::test]
async fn the_same_idempotency_key_with_a_different_body_is_refused() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    app.call_with(
        Some(&org.key),
        Method::POST,
        "/v1/customers",
        Some(json!({"name": "Amy"})),
        &[("Idempotency-Key", "k")],
    )
    .await;
    let res = app
        .call_with(
            Some(&org.key),
            Method::POST,
            "/v1/customers",
            Some(json!({"name": "Ben"})),
            &[("Idempotency-Key", "k")],
        )
        .await;
    assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"));
    assert_eq!(app.count("app.customers", None).await, 1);
}

#[tokio::test]
async fn idempotency_keys_belong_to_the_api_key_that_used_them() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let other = app.insert_key(&org, org.owner_id, None, None).await;
    for key in [&org.key, &other] {
        let res = app
            .call_with(
                Some(key),
                Method::POST,
                "/v1/customers",
                Some(json!({"name": "Amy"})),
                &[("Idempotency-Key", "same")],
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    assert_eq!(app.count("app.customers", None).await, 2);
}

#[tokio::test]
async fn a_failed_request_does_not_burn_its_idempotency_key() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    app.customer(&org, json!({"name": "Amy", "email": "amy@example.com"})).await;
    let body = json!({"name": "Amy 2", "email": "amy@example.com"});
    let res = app
        .call_with(Some(&org.key), Method::POST, "/v1/customers", Some(body.clone()), &[("Idempotency-Key", "retry")])
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    let id = app.get(&org.key, "/v1/customers").await.body["items"][0]["id"].as_str().unwrap().to_string();
    app.delete_confirmed(&org.key, &format!("/v1/customers/{id}")).await;
    let res =
        app.call_with(Some(&org.key), Method::POST, "/v1/customers", Some(body), &[("Idempotency-Key", "retry")]).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
}

#[tokio::test]
async fn concurrent_retries_with_one_idempotency_key_create_one_customer() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let calls = (0..8).map(|_| {
        app.call_with(
            Some(&org.key),
            Method::POST,
            "/v1/customers",
            Some(json!({"name": "Amy"})),
            &[("Idempotency-Key", "burst")],
        )
    });
    let results = futures_util::future::join_all(calls).await;
    let ids: std::collections::HashSet<String> =
        results.iter().map(|r| r.body["id"].as_str().unwrap_or_else(|| panic!("{}", r.body)).to_string()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.count("app.customers", None).await, 1);
}

#[tokio::test]
async fn housekeeping_forgets_expired_idempotency_records_and_confirmations_only() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    for key in ["old", "fresh"] {
        app.call_with(
            Some(&org.key),
            Method::POST,
            "/v1/customers",
            Some(json!({"name": key})),
            &[("Idempotency-Key", key)],
        )
        .await;
    }
    let id = app.customer(&org, json!({"name": "Amy"})).await;
    app.delete(&org.key, &format!("/v1/customers/{id}")).await;
    app.delete(&org.key, &format!("/v1/customers/{id}")).await;
    let admin = app.admin().await;
    admin
        .batch_execute(
            "update app.idempotency_keys set created_at = now() - interval '25 hours' where idempotency_key = 'old';
             update app.confirmations set expires_at = now() - interval '2 hours'
              where id = (select id from app.confirmations order by id limit 1);",
        )
        .await
        .unwrap();
    let runtime = favcrm::db::connect(&crate::common::runtime_config(&app.dbname)).await.unwrap();
    let purged: serde_json::Value = runtime.query_one("select auth.purge_expired()", &[]).await.unwrap().get(0);
    assert_eq!(
        purged,
        json!({"idempotencyKeys": 1, "confirmations": 1, "signupRequests": 0, "customerImports": 0, "webSessions": 0, "oauthTokens": 0, "oauthCodes": 0})
    );
    assert_eq!(app.count("app.idempotency_keys", None).await, 1);
    assert_eq!(app.count("app.confirmations", None).await, 1);
}
