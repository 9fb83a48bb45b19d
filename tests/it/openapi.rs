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
