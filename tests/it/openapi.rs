//! The OpenAPI document is generated from the catalog, committed, and must not drift.

use favcrm::{catalog, openapi};
use serde_json::Value;

use crate::common::TestApp;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi.json");

#[test]
fn the_committed_openapi_document_matches_the_catalog() {
    let generated = openapi::document();
    if std::env::var_os("FAVCRM_UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, serde_json::to_string_pretty(&generated).unwrap() + "\n").unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(COMMITTED).unwrap()).unwrap();
    assert!(
        committed == generated,
        "tests/openapi.json is out of date: run `FAVCRM_UPDATE_OPENAPI=1 cargo test openapi` and commit it"
    );
    for op in catalog::all() {
        let entry = &generated["paths"][op.path][op.method.as_str().to_lowercase()];
        assert_eq!(entry["operationId"], op.name);
    }
}

#[tokio::test]
async fn the_server_serves_the_same_document() {
    let app = TestApp::spawn().await;
    let served: Value = app.http.get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(served, openapi::document());
}

#[test]
fn generated_clients_get_named_types_and_every_error_an_operation_can_give() {
    let document = openapi::document();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for name in ["Booking", "PageOfBooking", "Customer", "CreateBookingRequest", "Problem", "Slots"] {
        assert!(schemas.contains_key(name), "no named schema {name}");
    }
    for op in catalog::all() {
        let entry = &document["paths"][op.path][op.method.as_str().to_lowercase()];
        let responses = entry["responses"].as_object().unwrap();
        let success = &responses[&op.success_status.to_string()]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(success.as_str(), Some(format!("#/components/schemas/{}", op.output_name).as_str()), "{}", op.name);
        for status in ["400", "422", "429"] {
            assert!(responses.contains_key(status), "{} declares no {status}", op.name);
        }
        assert_eq!(responses.contains_key("401"), !op.is_public(), "{}", op.name);
        assert_eq!(responses.contains_key("428"), op.confirm, "{}", op.name);
    }
    let problem = &schemas["Problem"]["properties"];
    assert_eq!(problem["nearbySlots"]["type"], "array");
    assert_eq!(problem["candidates"]["type"], "array");
    for member in ["operation", "arguments", "target", "effect"] {
        assert!(problem["preview"]["properties"].get(member).is_some(), "preview.{member}");
    }
}
