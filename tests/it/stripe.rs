//! Stripe: the connection's secrets, payment links (Checkout Sessions) against the fake Stripe,
//! events signed as Stripe signs them and recorded once, and refunds through Stripe.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::billing::{SECRET_KEY, WEBHOOK_SECRET, amount, assert_ledger_matches, draft, id, invoice, open_invoice};
use crate::common::{Org, Res, TestApp};

/// Connects the organisation's Stripe (the fixture's test key and webhook secret).
pub async fn connect_stripe(app: &TestApp, org: &Org) {
    let res = app
        .call(
            Some(&org.key),
            Method::PUT,
            "/v1/stripe-connection",
            Some(json!({"secretKey": SECRET_KEY, "webhookSecret": WEBHOOK_SECRET})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

/// Delivers an event to the organisation's Stripe webhook, signed as Stripe signs it at `at`
/// (unix seconds) with `secret`.
pub async fn deliver_signed(app: &TestApp, org: Uuid, event: &Value, secret: &str, at: i64) -> Res {
    let payload = event.to_string();
    let signature = favcrm::effects::stripe::sign(secret, payload.as_bytes(), at);
    let res = app
        .http
        .post(format!("{}/v1/webhooks/stripe/{org}", app.base))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(payload)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.json().await.unwrap_or(Value::Null);
    Res { status, headers, body }
}

pub async fn deliver(app: &TestApp, org: Uuid, event: &Value) -> Res {
    deliver_signed(app, org, event, WEBHOOK_SECRET, chrono::Utc::now().timestamp()).await
}

/// The event Stripe sends when a Checkout Session is paid.
pub fn session_completed(event_id: &str, link: &Value, payment_intent: &str) -> Value {
    json!({
        "id": event_id,
        "object": "event",
        "type": "checkout.session.completed",
        "livemode": false,
        "data": {"object": {
            "id": link["providerSessionId"],
            "object": "checkout.session",
            "amount_total": link["amount"]["amount"],
            "currency": link["amount"]["currency"].as_str().unwrap().to_lowercase(),
            "payment_intent": payment_intent,
            "payment_status": "paid",
            "status": "complete",
            "metadata": {"favcrm_link_id": link["id"]},
        }}
    })
}

#[tokio::test]
async fn a_stripe_payment_link_is_paid_once_however_often_stripe_tells_and_refunds_go_through_stripe() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    app.without_approvals(&org).await;
    let customer = app.customer(&org, json!({"name": "Amy", "email": "amy@example.com"})).await.to_string();
    let inv = open_invoice(&app, &org, &customer, 5000).await;
    // Not connected yet: a clear refusal.
    let res = app.post(&org.key, &format!("/v1/invoices/{inv}/payment-links"), json!({})).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "stripe_not_connected"), "{}", res.body);
    connect_stripe(&app, &org).await;
    // The secrets are never shown again, nor stored or audited in the clear.
    let status = app.get(&org.key, "/v1/stripe-connection").await;
    assert_eq!(
        (status.body["connected"].as_bool(), status.body["keyHint"].as_str()),
        (Some(true), Some("sk_test_…4242"))
    );
    assert_eq!(status.body["webhookPath"], format!("/v1/webhooks/stripe/{}", org.id));
    let admin = app.admin().await;
    let stored: String = admin
        .query_one(
            "select (select to_jsonb(p)::text from app.payment_providers p where org_id = $1)
                    || (select coalesce(string_agg(e.after::text, ''), '') from audit.event e where e.org_id = $1)",
            &[&org.id],
        )
        .await
        .unwrap()
        .get(0);
    for secret in [SECRET_KEY, WEBHOOK_SECRET, "51FixtureKey", "fixtureSigningSecret"] {
        assert!(!stored.contains(secret) && !status.body.to_string().contains(secret), "{secret} leaked");
    }

    // The link asks Stripe for what is owed, with the organisation's key and an idempotency key.
    let link = app.post(&org.key, &format!("/v1/invoices/{inv}/payment-links"), json!({})).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    assert_eq!(link.body["status"], "open");
    assert!(link.body["url"].as_str().unwrap().starts_with("https://checkout.stripe.com/"), "{}", link.body);
    let requests = app.stripe.received_requests().await.unwrap();
    let session = requests.iter().find(|r| r.url.path() == "/v1/checkout/sessions").expect("a session was made");
    assert_eq!(session.headers["authorization"], format!("Bearer {SECRET_KEY}"));
    assert_eq!(session.headers["idempotency-key"], link.body["id"].as_str().unwrap());
    let fields = crate::fake_stripe::fields(session);
    assert_eq!(fields["line_items[0][price_data][unit_amount]"], "5000");
    assert_eq!(fields["line_items[0][price_data][currency]"], "gbp");
    assert_eq!(fields["metadata[favcrm_invoice_id]"], inv);
    assert_eq!(fields["customer_email"], "amy@example.com");

    // Events with a bad or old signature, or none, are refused and record nothing.
    let paid = session_completed("evt_paid_1", &link.body, "pi_amy_1");
    let now = chrono::Utc::now().timestamp();
    let forged = deliver_signed(&app, org.id, &paid, "whsec_notTheRightSecret012345", now).await;
    assert_eq!((forged.status, forged.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_signature")));
    let old = deliver_signed(&app, org.id, &paid, WEBHOOK_SECRET, now - 600).await;
    assert_eq!((old.status, old.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("signature_expired")));
    let unsigned = app
        .http
        .post(format!("{}/v1/webhooks/stripe/{}", app.base, org.id))
        .body(paid.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::BAD_REQUEST);
    let other_org = app.create_org("Other").await;
    let elsewhere = deliver(&app, other_org.id, &paid).await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST, "another organisation's address has no such secret");
    assert_eq!(app.count("app.payments", Some(org.id)).await, 0);

    // Delivered five times, the payment is recorded once; so is a second event for it.
    for _ in 0..5 {
        let res = deliver(&app, org.id, &paid).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    let mut again = paid.clone();
    again["id"] = json!("evt_paid_2");
    again["type"] = json!("checkout.session.async_payment_succeeded");
    assert_eq!(deliver(&app, org.id, &again).await.status, StatusCode::OK);
    assert_eq!(app.count("app.payments", Some(org.id)).await, 1);
    let b = invoice(&app, &org.key, &inv).await;
    assert_eq!((b["status"].as_str(), amount(&b["amountPaid"])), (Some("paid"), 5000), "{b}");
    let payment = b["payments"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(b["payments"][0]["method"], "stripe");

    // A refund goes through Stripe, keyed by the refund's id, and is recorded with Stripe's id.
    let res = app
        .confirmed(&org.key, Method::POST, &format!("/v1/payments/{payment}/refunds"), Some(json!({"amount": 2000})))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let refund = &res.body["refunds"][0];
    assert_eq!(refund["status"], "succeeded", "{}", res.body);
    let stripe_refund = refund["providerRefundId"].as_str().unwrap().to_string();
    let requests = app.stripe.received_requests().await.unwrap();
    let call = requests.iter().find(|r| r.url.path() == "/v1/refunds").expect("Stripe was asked");
    assert_eq!(call.headers["idempotency-key"], refund["id"].as_str().unwrap());
    let fields = crate::fake_stripe::fields(call);
    assert_eq!((fields["payment_intent"].as_str(), fields["amount"].as_str()), ("pi_amy_1", "2000"));
    // Stripe then reports the refund (and one made in its dashboard): each is recorded once.
    let refunded = json!({
        "id": "evt_refunded_1", "object": "event", "type": "charge.refunded",
        "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": "pi_amy_1", "amount_refunded": 2500,
                 "refunds": {"object": "list", "data": [
                     {"id": stripe_refund, "object": "refund", "amount": 2000, "status": "succeeded"},
                     {"id": "re_dashboard", "object": "refund", "amount": 500, "status": "succeeded"}]}}}
    });
    for _ in 0..3 {
        assert_eq!(deliver(&app, org.id, &refunded).await.status, StatusCode::OK);
    }
    let mut later = refunded.clone();
    later["id"] = json!("evt_refunded_2");
    assert_eq!(deliver(&app, org.id, &later).await.status, StatusCode::OK);
    let p = app.get(&org.key, &format!("/v1/payments/{payment}")).await;
    assert_eq!(amount(&p.body["amountRefunded"]), 2500, "{}", p.body);
    assert_eq!(p.body["refunds"].as_array().unwrap().len(), 2);
    let b = invoice(&app, &org.key, &inv).await;
    assert_eq!((b["status"].as_str(), amount(&b["amountDue"])), (Some("open"), 2500));

    // Stripe refusing a refund: a 502 naming why, and the money stays on the payment.
    let second = open_invoice(&app, &org, &customer, 3000).await;
    let link = app.post(&org.key, &format!("/v1/invoices/{second}/payment-links"), json!({})).await;
    let paid = session_completed("evt_paid_3", &link.body, crate::fake_stripe::REFUSING_INTENT);
    assert_eq!(deliver(&app, org.id, &paid).await.status, StatusCode::OK);
    let disputed = invoice(&app, &org.key, &second).await["payments"][0]["id"].as_str().unwrap().to_string();
    let res = app.confirmed(&org.key, Method::POST, &format!("/v1/payments/{disputed}/refunds"), Some(json!({}))).await;
    assert_eq!((res.status, res.code()), (StatusCode::BAD_GATEWAY, "stripe_refused"), "{}", res.body);
    assert!(res.body["detail"].as_str().unwrap().contains("disputed"), "{}", res.body);
    let p = app.get(&org.key, &format!("/v1/payments/{disputed}")).await;
    assert_eq!(amount(&p.body["amountRefunded"]), 0);
    assert_eq!(p.body["refunds"][0]["status"], "failed");
    assert_eq!(invoice(&app, &org.key, &second).await["status"], "paid");
    assert_ledger_matches(&app, org.id).await;

    // Disconnected, Stripe's events are refused.
    let res = app.delete_confirmed(&org.key, "/v1/stripe-connection").await;
    assert_eq!((res.status, res.body["connected"].as_bool()), (StatusCode::OK, Some(false)), "{}", res.body);
    let mut late = paid.clone();
    late["id"] = json!("evt_after_disconnect");
    assert_eq!(deliver(&app, org.id, &late).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn stripe_cannot_charge_a_three_decimal_amount_that_ends_in_a_fils() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    connect_stripe(&app, &org).await;
    let customer = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let odd = id(&draft(&app, &org, &customer, "KWD", json!([{"description": "Oud", "unitAmount": 1313}])).await);
    app.post(&org.key, &format!("/v1/invoices/{odd}/finalize"), json!({})).await;
    let res = app.post(&org.key, &format!("/v1/invoices/{odd}/payment-links"), json!({})).await;
    assert_eq!(
        (res.status, res.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "amount_not_payable_online"),
        "{}",
        res.body
    );
    let even = id(&draft(&app, &org, &customer, "KWD", json!([{"description": "Oud", "unitAmount": 1310}])).await);
    app.post(&org.key, &format!("/v1/invoices/{even}/finalize"), json!({})).await;
    let res = app.post(&org.key, &format!("/v1/invoices/{even}/payment-links"), json!({})).await;
    assert_eq!((res.status, amount(&res.body["amount"])), (StatusCode::CREATED, 1310), "{}", res.body);
}

#[tokio::test]
async fn a_credit_note_refunds_a_stripe_payment_through_stripe_or_credits_the_balance_when_stripe_refuses() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    connect_stripe(&app, &org).await;
    let customer = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let paid_through_stripe = |intent: &'static str, event: &'static str| {
        let (app, org, customer) = (&app, &org, &customer);
        async move {
            let inv = open_invoice(app, org, customer, 4000).await;
            let link = app.post(&org.key, &format!("/v1/invoices/{inv}/payment-links"), json!({})).await;
            assert_eq!(
                deliver(app, org.id, &session_completed(event, &link.body, intent)).await.status,
                StatusCode::OK
            );
            inv
        }
    };
    // Stripe refunds what the credit takes back from a paid invoice.
    let inv = paid_through_stripe("pi_credit_ok", "evt_credit_ok").await;
    let path = format!("/v1/invoices/{inv}/credit-notes");
    let cn = app.confirmed(&org.key, Method::POST, &path, Some(json!({"amount": 1500, "refundExcess": true}))).await;
    assert_eq!(cn.status, StatusCode::CREATED, "{}", cn.body);
    assert_eq!((amount(&cn.body["refunded"]), amount(&cn.body["creditedToBalance"])), (1500, 0));
    let payment = &invoice(&app, &org.key, &inv).await["payments"][0];
    assert_eq!(payment["refunds"][0]["status"], "succeeded", "{payment}");
    assert!(payment["refunds"][0]["providerRefundId"].as_str().unwrap().starts_with("re_"));
    let asked = app.stripe.received_requests().await.unwrap();
    let refund = asked.iter().find(|r| r.url.path() == "/v1/refunds").expect("Stripe was asked to refund");
    assert_eq!(crate::fake_stripe::fields(refund)["payment_intent"], "pi_credit_ok");

    // Stripe refusing: the credit note stands, and what it could not refund is the customer's credit.
    let inv = paid_through_stripe(crate::fake_stripe::REFUSING_INTENT, "evt_credit_refused").await;
    let path = format!("/v1/invoices/{inv}/credit-notes");
    let cn = app.confirmed(&org.key, Method::POST, &path, Some(json!({"amount": 1000, "refundExcess": true}))).await;
    assert_eq!(cn.status, StatusCode::CREATED, "{}", cn.body);
    assert_eq!((amount(&cn.body["refunded"]), amount(&cn.body["creditedToBalance"])), (0, 1000), "{}", cn.body);
    let b = invoice(&app, &org.key, &inv).await;
    assert_eq!(
        (b["status"].as_str(), amount(&b["amountPaid"]), amount(&b["amountDue"])),
        (Some("paid"), 4000, 0),
        "{b}"
    );
    assert_eq!(b["payments"][0]["refunds"][0]["status"], "failed");
    assert_eq!(app.count("app.customer_balance_entries", Some(org.id)).await, 1);
    assert_ledger_matches(&app, org.id).await;
}

#[tokio::test]
async fn connecting_stripe_again_with_the_same_secrets_and_idempotency_key_changes_nothing() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let body = json!({"secretKey": SECRET_KEY, "webhookSecret": WEBHOOK_SECRET, "idempotencyKey": "connect-1"});
    let first = app.tool(&org.key, "connect_stripe", body.clone()).await;
    assert_eq!(first["isError"], false, "{first}");
    let before = app.fingerprint(org.id).await;
    let again = app.tool(&org.key, "connect_stripe", body).await;
    assert_eq!(again["isError"], false, "{again}");
    assert_eq!(app.fingerprint(org.id).await, before);
    // Another key replaces the secrets; a staff or manager key may not.
    let res = app
        .call(
            Some(&org.key),
            Method::PUT,
            "/v1/stripe-connection",
            Some(json!({"secretKey": "sk_live_51OtherKeyAbcdefghij9999", "webhookSecret": WEBHOOK_SECRET})),
        )
        .await;
    assert_eq!((res.body["keyHint"].as_str(), res.body["livemode"].as_bool()), (Some("sk_live_…9999"), Some(true)));
    let (_, manager) = app.add_member(&org, "manager", None).await;
    let res = app
        .call(
            Some(&manager),
            Method::PUT,
            "/v1/stripe-connection",
            Some(json!({"secretKey": SECRET_KEY, "webhookSecret": WEBHOOK_SECRET})),
        )
        .await;
    assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "forbidden"), "{}", res.body);
}

/// The database checks an event's signature again, with the secret the server used: called
/// past the server (as the no-key role may), a forged event, or one signed for another secret,
/// records nothing.
#[tokio::test]
async fn the_database_refuses_an_event_the_server_did_not_verify() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    connect_stripe(&app, &org).await;
    let payload = json!({"id": "evt_forged", "type": "checkout.session.completed", "data": {"object": {}}}).to_string();
    let now = chrono::Utc::now().timestamp();
    let client = favcrm::db::connect(&crate::common::runtime_config(&app.dbname)).await.unwrap();
    let call = |secret: &'static str, signed_with: &'static str, at: i64| {
        let (client, payload, org) = (&client, payload.clone(), org.id);
        async move {
            let header = favcrm::effects::stripe::sign(signed_with, payload.as_bytes(), at);
            client.batch_execute("begin; select set_config('role', 'favcrm_anon', true)").await.unwrap();
            let result = client
                .query_one("select auth.record_stripe_event($1, $2, $3, $4)", &[&org, &payload, &header, &secret])
                .await;
            client.batch_execute("rollback").await.unwrap();
            result
                .map(|_| ())
                .map_err(|e| e.as_db_error().and_then(|d| d.hint().map(str::to_string)).unwrap_or_default())
        }
    };
    // A secret other than the stored one, even with a header that matches it.
    assert_eq!(
        call("whsec_notTheStoredOne012345", "whsec_notTheStoredOne012345", now).await,
        Err("invalid_signature".into())
    );
    // The stored secret, but a header signed with another.
    assert_eq!(call(WEBHOOK_SECRET, "whsec_notTheStoredOne012345", now).await, Err("invalid_signature".into()));
    // The stored secret and a matching header, but signed too long ago.
    assert_eq!(call(WEBHOOK_SECRET, WEBHOOK_SECRET, now - 600).await, Err("signature_expired".into()));
    assert_eq!(call(WEBHOOK_SECRET, WEBHOOK_SECRET, now).await, Ok(()));
    assert_eq!(app.count("app.provider_events", Some(org.id)).await, 0, "each call was rolled back");
}
