//! Tenant isolation, over the whole catalog: organisation B, calling every operation with
//! organisation A's ids, gets 404 or only its own data, and A's data does not change.

use favcrm::catalog::{self, Method as OpMethod};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::common::TestApp;

struct Fixture {
    bookings: crate::bookings::BookingFixture,
    billing: crate::billing::BillingFixture,
    commerce: crate::commerce::CommerceFixture,
    subscriptions: crate::subscriptions::SubscriptionsFixture,
    loyalty: crate::loyalty::LoyaltyFixture,
    outbox: crate::webhooks::OutboxFixture,
    messaging: crate::messaging::MessagingFixture,
    approvals: crate::approvals::ApprovalsFixture,
    digest: String,
    post: String,
    import: String,
    customer: String,
    email: String,
    note: String,
    key_id: String,
    org: String,
    member: String,
    member_email: String,
    invite: String,
}

/// An input for every operation that names organisation A's records where it can.
fn sample(op: &str, a: &Fixture) -> Value {
    // The bookings samples name A's service, staff, resource, time off and bookings.
    if let Some(input) = crate::bookings::booking_sample(op, &a.bookings) {
        return input;
    }
    if let Some(input) = crate::billing::billing_sample(op, &a.billing) {
        return input;
    }
    if let Some(input) = crate::commerce::commerce_sample(op, &a.commerce) {
        return input;
    }
    if let Some(input) = crate::subscriptions::subscriptions_sample(op, &a.subscriptions) {
        return input;
    }
    if let Some(input) = crate::loyalty::loyalty_sample(op, &a.loyalty) {
        return input;
    }
    if let Some(input) = crate::webhooks::outbox_sample(op, &a.outbox) {
        return input;
    }
    if let Some(input) = crate::messaging::messaging_sample(op, &a.messaging) {
        return input;
    }
    if let Some(input) = crate::approvals::approvals_sample(op, &a.approvals) {
        return input;
    }
    if let Some(input) = crate::content::content_sample(op, &a.post) {
        return input;
    }
    if let Some(input) = crate::imports::import_sample(op, &a.import) {
        return input;
    }
    if let Some(input) = crate::reports::reports_sample(op, &a.digest) {
        return input;
    }
    match op {
        "list_customers" => json!({}),
        "get_customer" | "delete_customer" | "restore_customer" | "list_customer_notes" => {
            json!({"customerId": a.customer})
        }
        "create_customer" => json!({"name": "Copy", "email": a.email}),
        "update_customer" => json!({"customerId": a.customer, "name": "Hijacked"}),
        "add_customer_tags" | "remove_customer_tags" => {
            json!({"customerId": a.customer, "tags": ["facial"]})
        }
        "add_customer_note" => json!({"customerId": a.customer, "body": "hello"}),
        "get_organisation" | "list_api_keys" => json!({}),
        "update_organisation" => json!({"name": "Renamed"}),
        "create_api_key" => json!({"name": "B key"}),
        "revoke_api_key" | "get_api_key" => json!({"apiKeyId": a.key_id}),
        "list_audit_events" => json!({"rowId": a.customer}),
        "rotate_api_key" => json!({"apiKeyId": a.key_id}),
        "list_team_members" | "list_team_invites" | "list_my_organisations" => json!({}),
        "create_team_member_invite" => json!({"email": a.member_email, "name": "Copy", "role": "staff"}),
        "revoke_team_invite" => json!({"inviteId": a.invite}),
        "update_team_member_role" => json!({"memberId": a.member, "role": "staff"}),
        "remove_team_member" => json!({"memberId": a.member}),
        // The no-key flows act for nobody: nothing of A's can be named in them.
        "register_organisation_request" => json!({"email": "someone@example.com", "organisationName": "New Org"}),
        "register_organisation_verify" => json!({"requestId": "signup_req_unknown", "code": "123456"}),
        "accept_team_invite_request" => json!({"token": "fav_inv_unknown"}),
        "accept_team_invite_verify" => json!({"token": "fav_inv_unknown", "code": "123456"}),
        other => panic!("add a sample input for {other} to the isolation test"),
    }
}

/// Turns an operation and its input into a REST request.
pub fn request_for(op: &catalog::Operation, input: &Value) -> (Method, String, Option<Value>) {
    let mut rest: Map<String, Value> = input.as_object().cloned().unwrap_or_default();
    let mut path = op.path.to_string();
    for param in op.path_params() {
        let value = rest.remove(param).unwrap();
        path = path.replace(&format!("{{{param}}}"), value.as_str().unwrap());
    }
    let method = match op.method {
        OpMethod::Get => Method::GET,
        OpMethod::Post => Method::POST,
        OpMethod::Put => Method::PUT,
        OpMethod::Patch => Method::PATCH,
        OpMethod::Delete => Method::DELETE,
    };
    if op.method == OpMethod::Get {
        let query: Vec<(String, String)> = rest
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect();
        if !query.is_empty() {
            path = format!("{path}?{}", serde_urlencoded::to_string(&query).unwrap());
        }
        (method, path, None)
    } else {
        (method, path, if rest.is_empty() { None } else { Some(Value::Object(rest)) })
    }
}

#[tokio::test]
async fn no_operation_lets_one_organisation_read_change_or_detect_anothers_rows() {
    let app = TestApp::spawn().await;
    let a = app.create_org("Org A").await;
    let b = app.create_org("Org B").await;
    let email = "shared@example.com".to_string();
    let customer = app.customer(&a, json!({"name": "A's customer", "email": email, "tags": ["facial"]})).await;
    let note = app.post(&a.key, &format!("/v1/customers/{customer}/notes"), json!({"body": "secret"})).await;
    let keys = app.get(&a.key, "/v1/api-keys").await;
    let (_, _) = app.add_member(&a, "staff", None).await;
    let members = app.get(&a.key, "/v1/team-members").await;
    let staff = members.body["items"].as_array().unwrap().iter().find(|m| m["role"] == "staff").unwrap().clone();
    let invite =
        app.post(&a.key, "/v1/team-invites", json!({"email": "x@example.com", "name": "X", "role": "staff"})).await;
    let bookings = crate::bookings::booking_fixture(&app, &a).await;
    let billing = crate::billing::billing_fixture(&app, &a, &bookings).await;
    let commerce = crate::commerce::commerce_fixture(&app, &a).await;
    let subscriptions = crate::subscriptions::subscriptions_fixture(&app, &a).await;
    let loyalty = crate::loyalty::loyalty_fixture(&app, &a).await;
    let outbox = crate::webhooks::outbox_fixture(&app, &a).await;
    let messaging = crate::messaging::messaging_fixture(&app, &a).await;
    let approvals = crate::approvals::approvals_fixture(&app, &a).await;
    let digest = crate::reports::digest_fixture(&app, &a).await;
    let post = crate::content::content_fixture(&app, &a).await;
    let import = crate::imports::import_fixture(&app, &a).await;
    let fixture = Fixture {
        bookings,
        billing,
        commerce,
        subscriptions,
        loyalty,
        outbox,
        messaging,
        approvals,
        digest,
        post,
        import,
        customer: customer.to_string(),
        email,
        note: note.body["id"].as_str().unwrap().to_string(),
        key_id: keys.body["items"][0]["id"].as_str().unwrap().to_string(),
        org: a.id.to_string(),
        member: staff["id"].as_str().unwrap().to_string(),
        member_email: staff["email"].as_str().unwrap().to_string(),
        invite: invite.body["id"].as_str().unwrap().to_string(),
    };
    let b_desk = crate::approvals::app_key(&app, &b).await;
    let before = app.fingerprint(a.id).await;
    for op in catalog::all() {
        let input = sample(op.name, &fixture);
        let (method, path, body) = request_for(op, &input);
        // Disconnecting Stripe names nothing: B confirms and disconnects its own. The approval
        // settings name nothing either, and only a person changes them: B's back office does.
        let res = if op.name == "disconnect_stripe" {
            app.confirmed(&b.key, method, &path, body).await
        } else if op.name == "update_approval_settings" {
            app.call(Some(&b_desk), method, &path, body).await
        } else {
            app.call(Some(&b.key), method, &path, body).await
        };
        let text = res.body.to_string();
        assert!(
            res.status == StatusCode::NOT_FOUND || res.status.is_success(),
            "{}: B got {} {}",
            op.name,
            res.status,
            text
        );
        for secret in [
            &fixture.bookings.service,
            &fixture.bookings.staff,
            &fixture.bookings.to_cancel,
            &fixture.billing.to_pay,
            &fixture.billing.payment,
            &fixture.billing.tax_rate,
            &fixture.commerce.product,
            &fixture.subscriptions.plan,
            &fixture.subscriptions.subscription,
            &fixture.subscriptions.customer,
            &fixture.loyalty.customer,
            &fixture.customer,
            &fixture.note,
            &fixture.key_id,
            &fixture.org,
            &fixture.member,
            &fixture.invite,
            &"A's customer".to_string(),
        ] {
            assert!(!text.contains(secret.as_str()), "{} revealed {secret} of org A: {text}", op.name);
        }
        if op.name == "create_customer" {
            assert_eq!(res.status, StatusCode::CREATED, "A's email must not be 'taken' for B: {text}");
        }
    }
    assert_eq!(app.fingerprint(a.id).await, before, "organisation A changed");
    // And A's key still works: B could not revoke it.
    assert_eq!(app.get(&a.key, "/v1/organisation").await.body["name"], "Org A");
}

#[tokio::test]
async fn a_transaction_without_claims_sees_no_rows_in_any_table() {
    let app = TestApp::spawn().await;
    let a = app.create_org("Org A").await;
    let amy = app.customer(&a, json!({"name": "Amy"})).await;
    app.post(&a.key, &format!("/v1/customers/{amy}/notes"), json!({"body": "hi"})).await;
    // An idempotency record and a confirmation, so that every table has rows.
    app.call_with(
        Some(&a.key),
        Method::POST,
        "/v1/customers",
        Some(json!({"name": "Ben"})),
        &[("Idempotency-Key", "k")],
    )
    .await;
    app.delete(&a.key, &format!("/v1/customers/{amy}")).await;
    app.post(&a.key, "/v1/team-invites", json!({"email": "new@example.com", "name": "New", "role": "staff"})).await;
    app.signup("someone@example.com", "Someone's Org", None).await;
    let bookings = crate::bookings::booking_fixture(&app, &a).await;
    app.post(&a.key, "/v1/closures", json!({"startsOn": "2030-01-01", "endsOn": "2030-01-01"})).await;
    // Every billing table: a product, a booking billed, paid, refunded and credited to the balance
    // (this organisation's agent refunds without approval; approvals come below).
    app.approval_settings(&a, json!({"operations": []})).await;
    let rate = crate::billing::tax_rate(&app, &a, "VAT", 2000, false).await;
    let product = app
        .post(
            &a.key,
            "/v1/products",
            json!({"name": "Shampoo", "price": {"amount": 900}, "taxRateId": rate, "trackStock": true}),
        )
        .await;
    let product = product.body["id"].as_str().unwrap().to_string();
    app.post(&a.key, &format!("/v1/products/{product}/stock-movements"), json!({"quantity": 3})).await;
    app.post(&a.key, "/v1/promotions", json!({"code": "WELCOME", "percentOffBp": 1000})).await;
    let order = json!({"customerId": amy.to_string(), "lines": [{"productId": product}], "promotionCode": "welcome"});
    let ordered = app.post(&a.key, "/v1/orders", order).await;
    assert_eq!(ordered.status, StatusCode::CREATED, "{}", ordered.body);
    let billed = app.get(&a.key, &format!("/v1/bookings/{}", bookings.to_complete)).await;
    let invoice = crate::billing::draft(
        &app,
        &a,
        billed.body["customerId"].as_str().unwrap(),
        billed.body["price"]["currency"].as_str().unwrap(),
        json!([{"bookingId": bookings.to_complete, "unitAmount": 1000}]),
    )
    .await;
    let invoice = invoice.body["id"].as_str().unwrap().to_string();
    app.post(&a.key, &format!("/v1/invoices/{invoice}/finalize"), json!({})).await;
    let paid = app.post(&a.key, "/v1/payments", json!({"invoiceId": invoice, "amount": 1000, "method": "cash"})).await;
    let payment = paid.body["id"].as_str().unwrap().to_string();
    app.confirmed(&a.key, Method::POST, &format!("/v1/payments/{payment}/refunds"), Some(json!({"amount": 100}))).await;
    let line = app.get(&a.key, &format!("/v1/invoices/{invoice}")).await.body["lines"][0]["id"].clone();
    let credited = app
        .confirmed(
            &a.key,
            Method::POST,
            &format!("/v1/invoices/{invoice}/credit-notes"),
            Some(json!({"lines": [{"invoiceLineId": line, "amount": 300}]})),
        )
        .await;
    assert_eq!(credited.status, StatusCode::CREATED, "{}", credited.body);
    // Stripe: a connection, a payment link and an event.
    crate::stripe::connect_stripe(&app, &a).await;
    let other = crate::billing::open_invoice(&app, &a, &amy.to_string(), 700).await;
    let link = app.post(&a.key, &format!("/v1/invoices/{other}/payment-links"), json!({})).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    let event = crate::stripe::session_completed("evt_isolation", &link.body, "pi_isolation");
    let delivered = crate::stripe::deliver(&app, a.id, &event).await;
    assert_eq!(delivered.status, StatusCode::OK, "{}", delivered.body);
    // A loyalty programme and points.
    crate::loyalty::loyalty_fixture(&app, &a).await;
    // A webhook endpoint, its events and deliveries, an attempt (account mail: the signup above).
    crate::webhooks::outbox_fixture(&app, &a).await;
    // A channel, a template, messages out and in, the messaging settings.
    crate::messaging::messaging_fixture(&app, &a).await;
    app.patch(&a.key, "/v1/messaging-settings", json!({"transactionalAllowed": true})).await;
    // Approvals asked for by an agent, and the settings.
    app.approval_settings(&a, json!({"operations": ["send_message"]})).await;
    crate::approvals::approvals_fixture(&app, &a).await;
    // A weekly digest, a published page.
    crate::reports::digest_fixture(&app, &a).await;
    crate::content::content_fixture(&app, &a).await;
    // A customer import, previewed.
    crate::imports::import_fixture(&app, &a).await;
    // An OAuth client connected by a person signed in on the pages: a grant, its code and tokens.
    crate::oauth::oauth_fixture(&app, &a).await;
    // A membership with credits, a booking paid with one.
    let member = crate::subscriptions::subscriptions_fixture(&app, &a).await;
    let paid = app
        .post(
            &a.key,
            "/v1/bookings",
            json!({"serviceId": bookings.service, "start": bookings.free_start, "customerId": member.customer, "payWith": "credits"}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    // A cancelled seat promotes the waiting customer: a booking event.
    app.confirmed(&a.key, Method::POST, &format!("/v1/bookings/{}/cancel", bookings.seat), Some(json!({}))).await;
    let admin = app.admin().await;
    let tables: Vec<String> = admin
        .query(
            "select schemaname || '.' || tablename from pg_tables where schemaname in ('app', 'audit') order by 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() >= 8);
    let mut client = favcrm::db::connect(&crate::common::runtime_config(&app.dbname)).await.unwrap();
    for table in &tables {
        let rows_as_superuser: i64 =
            admin.query_one(&format!("select count(*) from {table}"), &[]).await.unwrap().get(0);
        assert!(rows_as_superuser > 0, "{table} should have rows for this test to mean something");
        for role in ["favcrm_member", "favcrm_anon"] {
            let tx = client.transaction().await.unwrap();
            tx.batch_execute(&format!("select set_config('role', '{role}', true)")).await.unwrap();
            // No grant at all is as good as no rows.
            let visible: i64 = match tx.query_one(&format!("select count(*) from {table}"), &[]).await {
                Ok(row) => row.get(0),
                Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => 0,
                Err(e) => panic!("{table} as {role}: {e}"),
            };
            tx.rollback().await.unwrap();
            assert_eq!(visible, 0, "{table} shows {role} {visible} of {rows_as_superuser} rows with no claims");
        }
    }
}

#[tokio::test]
async fn the_authenticator_alone_can_read_no_table() {
    let app = TestApp::spawn().await;
    app.create_org("Org A").await;
    let client = favcrm::db::connect(&crate::common::runtime_config(&app.dbname)).await.unwrap();
    for table in ["app.customers", "app.api_keys", "audit.event", "app.organisations"] {
        let err = client.query_one(&format!("select count(*) from {table}"), &[]).await.unwrap_err();
        assert_eq!(err.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{table}");
    }
}

/// The organisation, user, key and role that policies read (V16: settings kept beside the
/// claims) are set together with the claims, switch with them, and last one transaction: a
/// pooled connection's next transaction starts as no one.
#[tokio::test]
async fn the_callers_facts_switch_with_the_claims_and_end_with_the_transaction() {
    let app = TestApp::spawn().await;
    let a = app.create_org("A").await;
    let b = app.create_org("B").await;
    let mut admin = app.admin().await;
    let facts = "select auth.org_id()::text, auth.user_id()::text, auth.role(), auth.claims() ->> 'org_id'";
    let tx = admin.transaction().await.unwrap();
    let claims = json!({"org_id": a.id, "user_id": a.id, "role": "staff"}).to_string();
    tx.execute("select auth.set_claims($1::text::jsonb)", &[&claims]).await.unwrap();
    let row = tx.query_one(facts, &[]).await.unwrap();
    let a_id = a.id.to_string();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some(a_id.as_str()));
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some(a_id.as_str()));
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("staff"));
    // Switching to claims that name only B's organisation leaves no user or role of A's behind.
    tx.execute("select auth.set_claims($1::text::jsonb)", &[&json!({"org_id": b.id}).to_string()]).await.unwrap();
    let row = tx.query_one(facts, &[]).await.unwrap();
    let b_id = b.id.to_string();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some(b_id.as_str()));
    assert_eq!(row.get::<_, Option<String>>(3).as_deref(), Some(b_id.as_str()));
    assert_eq!(row.get::<_, Option<String>>(1), None);
    assert_eq!(row.get::<_, Option<String>>(2), None);
    tx.commit().await.unwrap();
    let row = admin.query_one(facts, &[]).await.unwrap();
    for i in 0..4 {
        assert_eq!(row.get::<_, Option<String>>(i), None, "fact {i} outlived its transaction");
    }
}
