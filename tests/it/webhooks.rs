//! Webhooks out and the outbox they go through: events signed as Standard Webhooks (checked
//! with the reference library), retries with backoff into the dead letter, retry_delivery, who
//! sees what, endpoints on internal addresses refused, and a worker killed mid-run.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::bookings::{at, every_day, in_days};
use crate::common::{Org, TestApp, relaxed};

/// Settings whose outbox retries at once and gives up after `attempts`.
fn quick_retries(attempts: u32) -> favcrm::web::ServerSettings {
    let mut settings = relaxed();
    settings.outbox.retry_base = Duration::ZERO;
    settings.outbox.max_attempts = attempts;
    settings
}

async fn endpoint(app: &TestApp, org: &Org, url: &str, types: Value) -> Value {
    let res = app.post(&org.key, "/v1/webhook-endpoints", json!({"url": url, "eventTypes": types})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body
}

/// What the receiver got: (headers, body) of each POST, in order.
async fn received(server: &MockServer) -> Vec<(Value, String)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r: &Request| {
            let headers: serde_json::Map<String, Value> = r
                .headers
                .iter()
                .filter(|(k, _)| k.as_str().starts_with("webhook-") || k.as_str() == "content-type")
                .map(|(k, v)| (k.to_string(), Value::String(v.to_str().unwrap().to_string())))
                .collect();
            (Value::Object(headers), String::from_utf8(r.body.clone()).unwrap())
        })
        .collect()
}

/// The reference library's verdict on each delivery: [{id, type, verifiedWith}].
async fn verify_with_reference_library(secrets: &[&str], deliveries: &[(Value, String)]) -> Vec<Value> {
    let python = tokio::task::spawn_blocking(crate::mcp_client::python_with_sdk).await.unwrap();
    let input = json!({
        "secrets": secrets,
        "deliveries": deliveries.iter().map(|(h, b)| json!({"headers": h, "body": b})).collect::<Vec<_>>(),
    });
    let file = std::env::temp_dir().join(format!("favcrm-webhooks-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, input.to_string()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client/verify_webhooks.py");
    let out = tokio::process::Command::new(&python).arg(script).arg(&file).output().await.unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

#[tokio::test]
async fn events_reach_an_endpoint_signed_as_standard_webhooks_and_the_reference_library_verifies_them() {
    let app = TestApp::spawn().await;
    let studio = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let org = &studio.org;
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).and(path("/hooks")).respond_with(ResponseTemplate::new(204)).mount(&receiver).await;
    let created = endpoint(
        &app,
        org,
        &format!("{}/hooks", receiver.uri()),
        json!(["booking.*", "customer.created", "invoice.paid", "payment.received"]),
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["eventTypes"], json!(["booking.*", "customer.created", "invoice.paid", "payment.received"]));
    // The secret is shown once: never listed, never stored.
    let listed = app.get(&org.key, "/v1/webhook-endpoints").await;
    assert_eq!(listed.body["items"][0]["id"], created["id"]);
    assert!(!listed.body.to_string().contains(&secret) && listed.body["items"][0].get("secret").is_none());
    let admin = app.admin().await;
    let stored: String =
        admin.query_one("select row_to_json(e)::text from app.webhook_endpoints e", &[]).await.unwrap().get(0);
    assert!(!stored.contains(&secret["whsec_".len()..]), "{stored}");

    // A customer (created: sent; updated: not asked for), a booking made and cancelled, an
    // invoice paid.
    let customer = app.customer(org, json!({"name": "Amy", "email": "amy@example.com"})).await;
    let changed = app.patch(&org.key, &format!("/v1/customers/{customer}"), json!({"name": "Amy Chan"})).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let start = at(studio.tz, in_days(3), 10, 0);
    let booked = app
        .post(
            &org.key,
            "/v1/bookings",
            json!({"serviceId": studio.service, "start": start.to_rfc3339(), "customerId": customer}),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    let booking = booked.body["id"].as_str().unwrap();
    let cancelled =
        app.confirmed(&org.key, Method::POST, &format!("/v1/bookings/{booking}/cancel"), Some(json!({}))).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    let invoice = crate::billing::open_invoice(&app, org, &customer.to_string(), 5000).await;
    let paid =
        app.post(&org.key, "/v1/payments", json!({"invoiceId": invoice, "amount": 5000, "method": "cash"})).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);

    app.outbox_idle().await;
    let got = received(&receiver).await;
    let verdicts = verify_with_reference_library(&[&secret], &got).await;
    let types: Vec<&str> = verdicts.iter().map(|v| v["type"].as_str().unwrap()).collect();
    let mut sorted = types.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["booking.cancelled", "booking.created", "customer.created", "invoice.paid", "payment.received"],
        "{got:?}"
    );
    for (headers, body) in &got {
        assert_eq!(headers["content-type"], "application/json");
        let event: Value = serde_json::from_str(body).unwrap();
        assert!(event["timestamp"].as_str().unwrap().ends_with('Z'));
        // The webhook-id is the event's id, which the API shows with the delivery.
        let id = headers["webhook-id"].as_str().unwrap();
        let deliveries = app.get(&org.key, "/v1/webhook-deliveries").await;
        let delivery = deliveries.body["items"].as_array().unwrap().iter().find(|d| d["eventId"] == id).unwrap();
        assert_eq!(
            (delivery["status"].as_str(), delivery["eventType"].as_str()),
            (Some("sent"), event["type"].as_str())
        );
    }
    let booking_event: Value =
        serde_json::from_str(&got.iter().find(|(_, b)| b.contains("\"booking.cancelled\"")).unwrap().1).unwrap();
    assert_eq!(booking_event["data"]["id"], booking, "the data is the booking as the API shows it");
    assert_eq!(booking_event["data"]["status"], "cancelled");
    assert_eq!(booking_event["data"]["customer"]["name"], "Amy Chan");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_for_the_hours_asked() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Rotating").await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let created = endpoint(&app, &org, &receiver.uri(), json!(["customer.created"])).await;
    let old = created["secret"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap();
    let rotated = app.post(&org.key, &format!("/v1/webhook-endpoints/{id}/rotate-secret"), json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(rotated.body["secretGeneration"], 2);
    assert!(rotated.body["previousSecretValidUntil"].is_string());
    app.customer(&org, json!({"name": "Ben"})).await;
    app.outbox_idle().await;
    let verdicts = verify_with_reference_library(&[&old, &new], &received(&receiver).await).await;
    assert_eq!(verdicts[0]["verifiedWith"], json!([0, 1]), "both secrets verify while the old one is kept");

    let now = app
        .post(&org.key, &format!("/v1/webhook-endpoints/{id}/rotate-secret"), json!({"keepPreviousForHours": 0}))
        .await;
    let newest = now.body["secret"].as_str().unwrap().to_string();
    assert!(now.body["previousSecretValidUntil"].is_null());
    receiver.reset().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    app.customer(&org, json!({"name": "Cy"})).await;
    app.outbox_idle().await;
    let verdicts = verify_with_reference_library(&[&new, &newest], &received(&receiver).await).await;
    assert_eq!(verdicts[0]["verifiedWith"], json!([1]), "only the newest signs once the old one is dropped");
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_then_lands_in_the_dead_letter_and_retry_delivery_sends_it_again() {
    let app = TestApp::spawn_with(quick_retries(3)).await;
    let org = app.create_org("Flaky").await;
    let receiver = MockServer::start().await;
    // Fails twice, then takes the event.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("database down"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).with_priority(2).mount(&receiver).await;
    endpoint(&app, &org, &receiver.uri(), json!(["customer.*"])).await;
    app.customer(&org, json!({"name": "Dee"})).await;
    app.outbox_idle().await;
    let got = received(&receiver).await;
    assert_eq!(got.len(), 3);
    let ids: Vec<&Value> = got.iter().map(|(h, _)| &h["webhook-id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "every retry carries the same webhook-id: {ids:?}");
    let list = app.get(&org.key, "/v1/deliveries?kind=webhook").await;
    let delivery = &list.body["items"][0];
    assert_eq!((delivery["status"].as_str(), delivery["attempts"].as_i64()), (Some("sent"), Some(3)), "{delivery}");
    let one = app.get(&org.key, &format!("/v1/deliveries/{}", delivery["id"].as_str().unwrap())).await;
    let outcomes: Vec<(&str, i64)> = one.body["attemptLog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["outcome"].as_str().unwrap(), a["responseStatus"].as_i64().unwrap()))
        .collect();
    assert_eq!(outcomes, [("failed", 500), ("failed", 500), ("sent", 200)]);

    // An endpoint that never answers well: three attempts, then the dead letter.
    receiver.reset().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(503)).mount(&receiver).await;
    app.customer(&org, json!({"name": "Eve"})).await;
    app.outbox_idle().await;
    let dead = app.get(&org.key, "/v1/deliveries?status=dead").await;
    assert_eq!(dead.body["items"].as_array().unwrap().len(), 1, "{}", dead.body);
    let letter = &dead.body["items"][0];
    assert_eq!(letter["attempts"], 3);
    assert!(letter["lastError"].as_str().unwrap().contains("503"), "{letter}");
    assert_eq!(received(&receiver).await.len(), 3);
    // Fixed at the receiver, sent again by hand: once more, and it goes.
    receiver.reset().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let id = letter["id"].as_str().unwrap();
    let retried = app.post(&org.key, &format!("/v1/deliveries/{id}/retry"), json!({})).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    app.outbox_idle().await;
    let after = app.get(&org.key, &format!("/v1/deliveries/{id}")).await;
    assert_eq!((after.body["status"].as_str(), after.body["attempts"].as_i64()), (Some("sent"), Some(4)));
    assert_eq!(received(&receiver).await.len(), 1);
    let again = app.post(&org.key, &format!("/v1/deliveries/{id}/retry"), json!({})).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "not_retryable"), "{}", again.body);
}

#[tokio::test]
async fn a_receiver_asking_to_slow_down_is_tried_again_after_the_wait_it_asked_for() {
    let app = TestApp::spawn_with(quick_retries(5)).await;
    let org = app.create_org("Busy").await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&receiver)
        .await;
    endpoint(&app, &org, &receiver.uri(), json!(["*"])).await;
    app.customer(&org, json!({"name": "Fay"})).await;
    app.outbox_idle().await;
    let list = app.get(&org.key, "/v1/deliveries").await;
    let delivery = &list.body["items"][0];
    assert_eq!((delivery["status"].as_str(), delivery["attempts"].as_i64()), (Some("pending"), Some(1)), "{delivery}");
    let next: chrono::DateTime<chrono::Utc> = delivery["nextAttemptAt"].as_str().unwrap().parse().unwrap();
    assert!(next > chrono::Utc::now() + chrono::Duration::minutes(59), "waits the hour asked: {next}");
}

#[tokio::test]
async fn only_admins_see_endpoints_and_webhook_deliveries_and_managers_see_the_rest_of_the_outbox() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Roles").await;
    let other = app.create_org("Other").await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let created = endpoint(&app, &org, &receiver.uri(), json!(["customer.created"])).await;
    let endpoint_id = created["id"].as_str().unwrap();
    app.customer(&org, json!({"name": "Gil"})).await;
    // An invitation email is in the outbox too.
    let invite = app
        .post(&org.key, "/v1/team-invites", json!({"email": "new@example.com", "name": "New", "role": "staff"}))
        .await;
    assert_eq!(invite.status, StatusCode::CREATED, "{}", invite.body);
    app.outbox_idle().await;

    let (_, manager) = app.add_member(&org, "manager", None).await;
    let (_, staff) = app.add_member(&org, "staff", None).await;
    let res = app.get(&manager, "/v1/webhook-endpoints").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let seen = app.get(&manager, "/v1/deliveries").await;
    let kinds: Vec<&str> = seen.body["items"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["email"], "a manager sees the email, not the webhook call");
    assert_eq!(app.get(&staff, "/v1/deliveries").await.status, StatusCode::FORBIDDEN);
    let owner_sees = app.get(&org.key, "/v1/deliveries").await;
    assert_eq!(owner_sees.body["items"].as_array().unwrap().len(), 2);
    let webhook_delivery =
        owner_sees.body["items"].as_array().unwrap().iter().find(|d| d["kind"] == "webhook").unwrap();
    let path = format!("/v1/deliveries/{}", webhook_delivery["id"].as_str().unwrap());
    assert_eq!(app.get(&manager, &path).await.status, StatusCode::NOT_FOUND);

    // Another organisation learns nothing of them.
    assert_eq!(app.get(&other.key, &path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.post(&other.key, &format!("{path}/retry"), json!({})).await.status, StatusCode::NOT_FOUND);
    let theirs = format!("/v1/webhook-endpoints/{endpoint_id}");
    assert_eq!(app.get(&other.key, &theirs).await.status, StatusCode::NOT_FOUND);
    assert!(app.get(&other.key, "/v1/deliveries").await.body["items"].as_array().unwrap().is_empty());
    assert!(app.get(&other.key, "/v1/webhook-deliveries").await.body["items"].as_array().unwrap().is_empty());
    let res = app.get(&other.key, &format!("/v1/webhook-deliveries?webhookEndpointId={endpoint_id}")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // Another organisation's customers send nothing to this endpoint.
    app.customer(&other, json!({"name": "Hal"})).await;
    app.outbox_idle().await;
    assert_eq!(received(&receiver).await.len(), 1);
}

#[tokio::test]
async fn deleting_an_endpoint_asks_an_agent_to_confirm_and_cancels_what_it_had_not_sent() {
    let mut settings = relaxed();
    settings.outbox.enabled = false;
    let app = TestApp::spawn_with(settings).await;
    let org = app.create_org("Leaving").await;
    let created = endpoint(&app, &org, "http://127.0.0.1:9/hooks", json!(["customer.created"])).await;
    let id = created["id"].as_str().unwrap();
    app.customer(&org, json!({"name": "Ida"})).await;
    app.customer(&org, json!({"name": "Jo"})).await;
    let asked = app.delete(&org.key, &format!("/v1/webhook-endpoints/{id}")).await;
    assert_eq!((asked.status.as_u16(), asked.code()), (428, "confirmation_required"), "{}", asked.body);
    assert_eq!(asked.body["preview"]["effect"]["deliveriesCancelled"], 2, "{}", asked.body);
    let deleted = app.delete_confirmed(&org.key, &format!("/v1/webhook-endpoints/{id}")).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(
        (deleted.body["status"].as_str(), deleted.body["deliveriesCancelled"].as_i64()),
        (Some("deleted"), Some(2))
    );
    let list = app.get(&org.key, "/v1/webhook-deliveries").await;
    assert!(list.body["items"].as_array().unwrap().iter().all(|d| d["status"] == "cancelled"), "{}", list.body);
    assert!(app.get(&org.key, "/v1/webhook-endpoints").await.body["items"].as_array().unwrap().is_empty());
    // No more events for it.
    app.customer(&org, json!({"name": "Kai"})).await;
    assert_eq!(app.get(&org.key, "/v1/webhook-deliveries").await.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn endpoints_on_internal_addresses_or_without_https_are_refused_outside_development() {
    let mut settings = relaxed();
    settings.outbox.allow_private_webhooks = false;
    let app = TestApp::spawn_with(settings).await;
    let org = app.create_org("Careful").await;
    for (url, code) in [
        ("http://hooks.example.com/x", "invalid_url"),
        ("https://127.0.0.1/x", "private_address"),
        ("https://[::1]:8443/x", "private_address"),
        ("https://10.1.2.3/x", "private_address"),
        ("https://169.254.169.254/latest", "private_address"),
        ("https://localhost/x", "private_address"),
        ("https://user:pw@hooks.example.com/x", "invalid_url"),
    ] {
        let res = app.post(&org.key, "/v1/webhook-endpoints", json!({"url": url, "eventTypes": ["*"]})).await;
        assert_eq!(
            (res.status, res.field(), res.field_code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "url", code),
            "{url}: {}",
            res.body
        );
    }
    let res = app
        .post(&org.key, "/v1/webhook-endpoints", json!({"url": "https://93.184.216.34/x", "eventTypes": ["nope.*"]}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.field().starts_with("eventTypes"), "{}", res.body);
    assert_eq!(app.count("app.webhook_endpoints", Some(org.id)).await, 0);
}

/// `favcrm worker` on the test database (outbox leases of `lease` seconds).
fn worker(app: &TestApp, once: bool, lease: u64) -> std::process::Command {
    let socket = crate::common::cluster().embedded.socket_dir().display().to_string();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_favcrm"));
    cmd.arg("worker");
    if once {
        cmd.arg("--once");
    }
    cmd.env("DATABASE_URL", format!("host={socket} port=5432 user=postgres dbname={}", app.dbname))
        .env("FAVCRM_DATA_DIR", &app.mail_dir)
        .env("FAVCRM_ALLOW_PRIVATE_WEBHOOKS", "true")
        .env("FAVCRM_OUTBOX_LEASE_SECONDS", lease.to_string())
        .env("FAVCRM_SCHEDULER_INTERVAL_SECONDS", "3600")
        .env("FAVCRM_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_delivery_loses_no_event_and_repeats_only_what_was_in_flight_with_its_webhook_id() {
    let mut settings = relaxed();
    settings.outbox.enabled = false;
    let app = TestApp::spawn_with(settings).await;
    let org = app.create_org("Crashy").await;
    let receiver = MockServer::start().await;
    // A slow receiver, so that deliveries are in flight when the worker dies.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(300)))
        .mount(&receiver)
        .await;
    endpoint(&app, &org, &receiver.uri(), json!(["customer.created"])).await;
    const EVENTS: usize = 40;
    for i in 0..EVENTS {
        app.customer(&org, json!({"name": format!("Customer {i}")})).await;
    }
    let mut child = worker(&app, false, 2).spawn().unwrap();
    for _ in 0..2000 {
        if !received(&receiver).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL: no goodbye.
    child.wait().unwrap();
    let admin = app.admin().await;
    let sent_before: i64 =
        admin.query_one("select count(*) from app.deliveries where status = 'sent'", &[]).await.unwrap().get(0);
    assert!(sent_before < EVENTS as i64, "the worker was killed before it finished ({sent_before} sent)");
    // The next worker takes the rest, and what the dead one held once its leases run out.
    for _ in 0..100 {
        let out = tokio::task::block_in_place(|| worker(&app, true, 2).output().unwrap());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let left: i64 =
            admin.query_one("select count(*) from app.deliveries where status <> 'sent'", &[]).await.unwrap().get(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = received(&receiver).await;
    let mut ids: Vec<String> = got.iter().map(|(h, _)| h["webhook-id"].as_str().unwrap().to_string()).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS, "every event arrived");
    let repeats = total - EVENTS;
    assert!(
        repeats <= 8,
        "only deliveries in flight at the kill (at most the worker's 8 at once) came twice: {repeats}"
    );
    let statuses: Vec<(String, i64)> = admin
        .query("select status, count(*) from app.deliveries group by status", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(statuses, [("sent".to_string(), EVENTS as i64)]);
}

/// What the catalog-wide tests name: a webhook endpoint, one to delete, and a delivery waiting
/// for its next attempt (its first failed: nothing listens at the endpoint), with an attempt.
pub struct OutboxFixture {
    pub endpoint: String,
    pub spare_endpoint: String,
    pub delivery: String,
}

pub async fn outbox_fixture(app: &TestApp, org: &Org) -> OutboxFixture {
    let closed = "http://127.0.0.1:9/favcrm-hooks";
    let endpoint = endpoint(app, org, closed, json!(["customer.created"])).await["id"].as_str().unwrap().to_string();
    let spare_endpoint = endpoint_spare(app, org).await;
    app.customer(org, json!({"name": "Hooked"})).await;
    app.outbox_idle().await;
    let list = app.get(&org.key, "/v1/webhook-deliveries").await;
    let delivery = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "pending" && d["attempts"] == 1)
        .unwrap_or_else(|| panic!("a delivery waiting to be retried: {}", list.body))["id"]
        .as_str()
        .unwrap()
        .to_string();
    OutboxFixture { endpoint, spare_endpoint, delivery }
}

async fn endpoint_spare(app: &TestApp, org: &Org) -> String {
    endpoint(app, org, "https://hooks.example.com/spare", json!(["invoice.paid"])).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn outbox_sample(op: &str, f: &OutboxFixture) -> Option<Value> {
    Some(match op {
        "list_deliveries" | "list_webhook_endpoints" | "list_webhook_deliveries" => json!({}),
        "get_delivery" | "retry_delivery" => json!({"deliveryId": f.delivery}),
        "create_webhook_endpoint" => json!({"url": "https://hooks.example.com/favcrm", "eventTypes": ["booking.*"]}),
        "get_webhook_endpoint" | "rotate_webhook_secret" => json!({"webhookEndpointId": f.endpoint}),
        "delete_webhook_endpoint" => json!({"webhookEndpointId": f.spare_endpoint}),
        _ => return None,
    })
}
