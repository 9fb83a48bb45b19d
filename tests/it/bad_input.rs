//! Bad input gets a clear 4xx with a stable code and the field at fault, and writes nothing.

use favcrm::catalog;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestApp;

#[tokio::test]
async fn bad_bodies_get_a_clear_4xx_and_write_nothing() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let long = "x".repeat(201);
    let cases = [
        (json!({"name": 5}), StatusCode::UNPROCESSABLE_ENTITY, "name", "invalid_type"),
        (json!({"name": "Amy", "nickname": "A"}), StatusCode::UNPROCESSABLE_ENTITY, "nickname", "unknown_field"),
        (json!({"email": "amy@example.com"}), StatusCode::UNPROCESSABLE_ENTITY, "name", "required"),
        (json!({"name": long}), StatusCode::UNPROCESSABLE_ENTITY, "name", "too_long"),
        (json!({"name": "   "}), StatusCode::UNPROCESSABLE_ENTITY, "name", "required"),
        (json!({"name": "Amy", "email": "not-an-email"}), StatusCode::UNPROCESSABLE_ENTITY, "email", "invalid_email"),
        (json!({"name": "Amy", "phone": "call me"}), StatusCode::UNPROCESSABLE_ENTITY, "phone", "invalid_phone"),
        (
            json!({"name": "Amy", "lifecycleStage": "friend"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lifecycleStage",
            "invalid_value",
        ),
        (json!({"name": "Amy", "tags": ["ok", ""]}), StatusCode::UNPROCESSABLE_ENTITY, "tags[1]", "required"),
        (
            json!({"name": "Amy", "marketingConsent": {"fax": {"granted": true}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "marketingConsent.fax",
            "unknown_field",
        ),
        (
            json!({"name": "Amy", "marketingConsent": {"sms": {"granted": "yes"}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "marketingConsent.sms.granted",
            "invalid_type",
        ),
        (json!(["Amy"]), StatusCode::UNPROCESSABLE_ENTITY, "(body)", "invalid_type"),
    ];
    for (body, status, field, code) in cases {
        let res = app.post(&org.key, "/v1/customers", body.clone()).await;
        assert_eq!(res.status, status, "{body} → {}", res.body);
        assert_eq!(res.code(), "validation_failed", "{body} → {}", res.body);
        assert_eq!((res.field(), res.field_code()), (field, code), "{body} → {}", res.body);
        assert_eq!(res.headers["content-type"], "application/problem+json");
    }
    assert_eq!(app.count("app.customers", None).await, 0);
}

#[tokio::test]
async fn malformed_json_is_a_400_and_a_non_json_body_a_415() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let res = app
        .http
        .post(format!("{}/v1/customers", app.base))
        .bearer_auth(&org.key)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "malformed_json");
    let res = app
        .http
        .post(format!("{}/v1/customers", app.base))
        .bearer_auth(&org.key)
        .header("content-type", "text/plain")
        .body("name=Amy")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.count("app.customers", None).await, 0);
}

#[tokio::test]
async fn a_two_megabyte_body_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let huge = json!({"name": "Amy", "customFields": {"blob": "x".repeat(2 * 1024 * 1024)}});
    let res = app.post(&org.key, "/v1/customers", huge).await;
    assert_eq!((res.status, res.code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
    assert_eq!(app.count("app.customers", None).await, 0);
}

#[tokio::test]
async fn custom_fields_over_16_kilobytes_are_refused_by_the_database() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let res =
        app.post(&org.key, "/v1/customers", json!({"name": "Amy", "customFields": {"blob": "x".repeat(20_000)}})).await;
    assert_eq!((res.status, res.field()), (StatusCode::UNPROCESSABLE_ENTITY, "customFields"));
    assert_eq!(app.count("app.customers", None).await, 0);
}

#[tokio::test]
async fn an_invalid_uuid_in_the_path_is_a_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    for (method, path) in [
        (Method::GET, "/v1/customers/not-a-uuid"),
        (Method::DELETE, "/v1/customers/123"),
        (Method::GET, "/v1/customers/zzz/notes"),
    ] {
        let res = app.call(Some(&org.key), method, path, None).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", res.body);
        assert_eq!((res.field(), res.field_code()), ("customerId", "invalid_uuid"));
    }
}

#[tokio::test]
async fn bad_query_parameters_are_422s() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    for (path, field, code) in [
        ("/v1/customers?limit=0", "limit", "out_of_range"),
        ("/v1/customers?limit=abc", "limit", "invalid_type"),
        ("/v1/customers?inactiveDays=-3", "inactiveDays", "out_of_range"),
        ("/v1/customers?cursor=garbage", "cursor", "invalid_cursor"),
        ("/v1/customers?colour=red", "colour", "unknown_field"),
        ("/v1/customers?deleted=maybe", "deleted", "invalid_type"),
    ] {
        let res = app.get(&org.key, path).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", res.body);
        assert_eq!((res.field(), res.field_code()), (field, code), "{path}: {}", res.body);
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_get_problem_bodies() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let res = app.get(&org.key, "/v1/nothing-here").await;
    assert_eq!((res.status, res.code()), (StatusCode::NOT_FOUND, "route_not_found"));
    let res = app.call(Some(&org.key), Method::PUT, "/v1/customers", None).await;
    assert_eq!((res.status, res.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
}

#[tokio::test]
async fn a_missing_customer_is_a_404() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let res = app.get(&org.key, &format!("/v1/customers/{}", uuid::Uuid::now_v7())).await;
    assert_eq!((res.status, res.code()), (StatusCode::NOT_FOUND, "not_found"));
}

/// Values no operation can take: a NUL character in text (PostgreSQL cannot store it), and
/// RFC 3339 times whose UTC offsets no time zone has (PostgreSQL refuses ±16:00 and more).
fn odd_values(schema: &Value) -> Vec<(Value, &'static str)> {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let mut odd = Vec::new();
    if types.contains(&"string") || schema.get("enum").is_some() {
        odd.push((json!("a\u{0}b"), "invalid_character"));
        if schema["format"] == "date-time" {
            odd.push((json!("2027-03-02T10:00:00+23:00"), "invalid_timestamp"));
            odd.push((json!("2027-03-02T10:00:00-16:00"), "invalid_timestamp"));
            odd.push((json!("0000-01-01T00:00:00Z"), "invalid_timestamp"));
        }
        if schema["format"] == "date" {
            odd.push((json!("0000-01-01"), "invalid_date"));
        }
    }
    if types.contains(&"array") {
        odd.push((json!(["a\u{0}b"]), "invalid_character"));
    }
    if types.contains(&"object") {
        odd.push((json!({"k\u{0}": "v"}), "invalid_character"));
        odd.push((json!({"k": "v\u{0}"}), "invalid_character"));
    }
    odd
}

/// A valid input for every operation (the no-key ones included).
fn valid_input(op: &str, f: &crate::mcp::Fixture) -> Value {
    match op {
        "register_organisation_request" => json!({"email": "odd@example.com", "organisationName": "Odd Org"}),
        "register_organisation_verify" => json!({"requestId": "signup_req_unknown", "code": "123456"}),
        "accept_team_invite_request" => json!({"token": "fav_inv_unknown"}),
        "accept_team_invite_verify" => json!({"token": "fav_inv_unknown", "code": "123456"}),
        _ => crate::mcp::sample(op, f),
    }
}

#[tokio::test]
async fn odd_text_and_times_in_any_field_of_any_operation_are_422s_over_rest_and_mcp() {
    let app = TestApp::spawn().await;
    let (org, key, f) = crate::mcp::fixture(&app).await;
    let before = app.fingerprint(org.id).await;
    let mut tried = 0;
    for op in catalog::all() {
        let key = (!op.is_public()).then_some(key.as_str());
        let base = valid_input(op.name, &f);
        let properties = op.input_schema["properties"].as_object().cloned().unwrap_or_default();
        for (field, schema) in &properties {
            for (odd, code) in odd_values(schema) {
                let mut input = base.clone();
                input[field] = odd.clone();
                if op.path_params().any(|p| p == field) {
                    // A path segment: UUIDs, which NUL cannot reach past; the MCP call covers it.
                    input[field] = json!("a\u{0}b");
                } else {
                    let (method, path, body) = crate::isolation::request_for(op, &input);
                    let res = app.call(key, method, &path, body).await;
                    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{} {field}={odd}: {}", op.name, res.body);
                    assert!(res.field().starts_with(field.as_str()), "{} {field}={odd}: {}", op.name, res.body);
                    assert_eq!(res.field_code(), code, "{} {field}={odd}: {}", op.name, res.body);
                }
                let (status, rpc) =
                    app.rpc(key, "/mcp", "tools/call", json!({"name": op.name, "arguments": input}), &[]).await;
                assert_eq!(status, StatusCode::OK, "{} {field}={odd}: {rpc}", op.name);
                let problem = crate::mcp::problem(&rpc["result"]);
                assert_eq!(problem["status"], 422, "{} {field}={odd}: {problem}", op.name);
                tried += 1;
            }
        }
    }
    assert!(tried > 200, "only {tried} odd inputs were tried");
    assert_eq!(app.fingerprint(org.id).await, before, "an odd input changed something");
}

#[tokio::test]
async fn http_details_allow_on_405_a_problem_for_a_long_uri_and_json_rpc_errors_on_mcp() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let res = app.call(Some(&org.key), Method::PUT, "/v1/customers", None).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers["allow"], "GET, POST", "{:?}", res.headers);

    for length in [20_000, 40_000, 60_000] {
        let long = format!("/v1/customers?q={}", "a".repeat(length));
        let res = app.get(&org.key, &long).await;
        assert_eq!((res.status, res.code()), (StatusCode::URI_TOO_LONG, "uri_too_long"), "{length}: {}", res.body);
        assert_eq!(res.headers["content-type"], "application/problem+json");
    }

    for (body, code) in [
        ("{\"jsonrpc\": \"2.0\", \"id\": 1,", -32700),
        ("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}]", -32600),
    ] {
        let res = app
            .http
            .post(format!("{}/mcp", app.base))
            .bearer_auth(&org.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let rpc: Value = res.json().await.unwrap();
        assert_eq!((rpc["jsonrpc"].as_str(), rpc["error"]["code"].as_i64()), (Some("2.0"), Some(code)), "{rpc}");
        assert_eq!(rpc["id"], Value::Null);
    }
}

#[tokio::test]
async fn the_server_holds_input_to_the_published_schema_whole_numbers_included() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    // 60.0 is an integer to JSON Schema: accepted, over REST and MCP.
    let service = app.post(&org.key, "/v1/services", json!({"name": "Cut", "durationMinutes": 60.0})).await;
    assert_eq!(service.status, StatusCode::CREATED, "{}", service.body);
    assert_eq!(service.body["durationMinutes"], 60);
    let listed = app.tool(&org.key, "list_customers", json!({"limit": 5.0})).await;
    assert_eq!(listed["isError"], false, "{listed}");
    let half = app.post(&org.key, "/v1/services", json!({"name": "Cut", "durationMinutes": 60.5})).await;
    assert_eq!((half.status, half.field()), (StatusCode::UNPROCESSABLE_ENTITY, "durationMinutes"));
    // Array bounds are the schema's: maxItems and minItems hold on the server too.
    let op = catalog::find("create_service").unwrap();
    assert_eq!(op.input_schema["properties"]["resourceTypes"]["maxItems"], 5);
    let six = app
        .post(
            &org.key,
            "/v1/services",
            json!({"name": "Six", "durationMinutes": 30, "resourceTypes": ["a", "b", "c", "d", "e", "f"]}),
        )
        .await;
    assert_eq!(
        (six.status, six.field(), six.field_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "resourceTypes", "too_many_items")
    );
    let customer = app.customer(&org, json!({"name": "Amy", "tags": ["vip"]})).await;
    let op = catalog::find("remove_customer_tags").unwrap();
    assert_eq!(op.input_schema["properties"]["tags"]["minItems"], 1);
    let none = app
        .call(Some(&org.key), Method::DELETE, &format!("/v1/customers/{customer}/tags"), Some(json!({"tags": []})))
        .await;
    assert_eq!(
        (none.status, none.field(), none.field_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "tags", "too_few_items")
    );
}
