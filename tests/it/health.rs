use reqwest::StatusCode;

use crate::common::TestApp;

#[tokio::test]
async fn health_and_readiness_answer_and_every_response_has_a_request_id() {
    let app = TestApp::spawn().await;
    let res = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-request-id"));
    let res = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["schemaVersion"], favcrm::db::latest_migration());
    let res =
        app.http.get(format!("{}/v1/customers", app.base)).header("x-request-id", "trace-42").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-42");
}
