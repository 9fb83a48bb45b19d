//! Destructive operations by agent keys need a single-use confirmation token bound to the
//! key, the operation and its exact arguments; app keys do not. Key-level toolsets and
//! read-only mode narrow what a key can do.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::TestApp;

#[tokio::test]
async fn an_agent_delete_without_a_token_previews_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let id = app.customer(&org, json!({"name": "Amy"})).await;
    let data = |f: String| f.split(' ').filter(|p| !p.starts_with("app.confirmations")).collect::<Vec<_>>().join(" ");
    let before = data(app.fingerprint(org.id).await);
    let res = app.delete(&org.key, &format!("/v1/customers/{id}")).await;
    assert_eq!((res.status, res.code()), (StatusCode::PRECONDITION_REQUIRED, "confirmation_required"));
    assert!(res.body["confirmationToken"].as_str().unwrap().starts_with("fav_cfm_"));
    assert!(res.body["expiresAt"].is_string());
    assert_eq!(res.body["preview"]["operation"], "delete_customer");
    assert_eq!(res.body["preview"]["target"]["name"], "Amy");
    // REST takes the token as a header (a body field would be an unknown field): say so.
    let detail = res.body["detail"].as_str().unwrap();
    assert!(detail.contains("Confirmation-Token: fav_cfm_"), "{detail}");
    assert!(!detail.contains("confirmationToken"), "{detail}");
    assert_eq!(data(app.fingerprint(org.id).await), before, "nothing may change before confirmation");
    assert!(app.get(&org.key, &format!("/v1/customers/{id}")).await.body["deletedAt"].is_null());

    let token = res.body["confirmationToken"].as_str().unwrap();
    let done = app
        .call_with(
            Some(&org.key),
            Method::DELETE,
            &format!("/v1/customers/{id}"),
            None,
            &[("Confirmation-Token", token)],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body["deletedAt"].is_string());
}

#[tokio::test]
async fn a_token_is_single_use_and_bound_to_its_arguments_key_and_lifetime() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await;
    let ben = app.customer(&org, json!({"name": "Ben"})).await;
    let other_key = app.insert_key(&org, org.owner_id, None, None).await;
    let ask = |key: String, id| {
        let app = &app;
        async move {
            app.delete(&key, &format!("/v1/customers/{id}")).await.body["confirmationToken"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let with = |key: String, id, token: String| {
        let app = &app;
        async move {
            app.call_with(
                Some(&key),
                Method::DELETE,
                &format!("/v1/customers/{id}"),
                None,
                &[("Confirmation-Token", &token)],
            )
            .await
        }
    };

    // Different arguments.
    let token = ask(org.key.clone(), amy).await;
    let res = with(org.key.clone(), ben, token.clone()).await;
    assert_eq!((res.status, res.code()), (StatusCode::PRECONDITION_REQUIRED, "invalid_confirmation_token"));
    // Another key.
    let res = with(other_key.clone(), amy, token.clone()).await;
    assert_eq!(res.code(), "invalid_confirmation_token");
    // Expired.
    app.admin()
        .await
        .execute("update app.confirmations set expires_at = now() - interval '1 second'", &[])
        .await
        .unwrap();
    let res = with(org.key.clone(), amy, token).await;
    assert_eq!(res.code(), "invalid_confirmation_token");
    // Second use.
    let token = ask(org.key.clone(), amy).await;
    assert_eq!(with(org.key.clone(), amy, token.clone()).await.status, StatusCode::OK);
    app.post(&org.key, &format!("/v1/customers/{amy}/restore"), json!({})).await;
    let res = with(org.key.clone(), amy, token).await;
    assert_eq!(res.code(), "invalid_confirmation_token");
    assert!(app.get(&org.key, &format!("/v1/customers/{amy}")).await.body["deletedAt"].is_null());
    assert!(app.get(&org.key, &format!("/v1/customers/{ben}")).await.body["deletedAt"].is_null());
}

#[tokio::test]
async fn app_keys_skip_confirmation_but_an_agent_needs_one_to_mint_them() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let res = app.post(&org.key, "/v1/api-keys", json!({"name": "Website", "kind": "app"})).await;
    assert_eq!((res.status, res.code()), (StatusCode::PRECONDITION_REQUIRED, "confirmation_required"));
    assert_eq!(res.body["preview"]["arguments"]["kind"], "app");
    assert_eq!(app.count("app.api_keys", Some(org.id)).await, 1);
    let minted =
        app.confirmed(&org.key, Method::POST, "/v1/api-keys", Some(json!({"name": "Website", "kind": "app"}))).await;
    assert_eq!(minted.status, StatusCode::CREATED, "{}", minted.body);
    let app_key = minted.body["apiKey"].as_str().unwrap().to_string();
    assert!(app_key.starts_with("fav_sk_"));
    assert_eq!(minted.body["kind"], "app");

    let id = app.customer(&org, json!({"name": "Amy"})).await;
    let res = app.delete(&app_key, &format!("/v1/customers/{id}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

#[tokio::test]
async fn a_read_only_key_and_a_toolset_key_are_narrowed_by_the_database() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let ro = app.post(&org.key, "/v1/api-keys", json!({"name": "reader", "readOnly": true})).await;
    assert_eq!(ro.body["readOnly"], true);
    let ro = ro.body["apiKey"].as_str().unwrap().to_string();
    let res = app.post(&ro, "/v1/customers", json!({"name": "Amy"})).await;
    assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "insufficient_scope"));
    assert_eq!(app.get(&ro, "/v1/customers").await.status, StatusCode::OK);

    let crm = app.post(&org.key, "/v1/api-keys", json!({"name": "crm only", "toolsets": ["customers"]})).await;
    assert_eq!(crm.body["toolsets"], json!(["customers"]));
    let crm = crm.body["apiKey"].as_str().unwrap().to_string();
    assert_eq!(app.post(&crm, "/v1/customers", json!({"name": "Amy"})).await.status, StatusCode::CREATED);
    assert_eq!(app.get(&crm, "/v1/organisation").await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&crm, "/v1/api-keys").await.status, StatusCode::FORBIDDEN);

    let bad = app.post(&org.key, "/v1/api-keys", json!({"name": "x", "toolsets": ["bookings-of-mars"]})).await;
    // Refused by the schema, which lists the toolsets (the database checks them again).
    assert_eq!(
        (bad.status, bad.field(), bad.field_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "toolsets[0]", "invalid_value")
    );
    assert!(bad.body["detail"].as_str().unwrap().contains("bookings"), "{}", bad.body);
}
