//! Loyalty, first part: the programme, points earned from payments and completed bookings
//! exactly once however often the event is delivered, refunds taking back their share, tiers
//! multiplying what is earned, stamps, expiry leaving the balance at its time, adjustments, and
//! who may do what.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::billing::{id, open_invoice};
use crate::bookings::{at, every_day, in_days};
use crate::common::{Org, TestApp};

/// The records the catalog-wide tests name.
pub struct LoyaltyFixture {
    pub customer: String,
}

pub async fn loyalty_fixture(app: &TestApp, org: &Org) -> LoyaltyFixture {
    let customer = app.customer(org, json!({"name": "Loyal"})).await.to_string();
    let set = app.patch(&org.key, "/v1/loyalty-programme", json!({"enabled": true, "pointsPerUnit": 1})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let res = app
        .post(
            &org.key,
            &format!("/v1/customers/{customer}/loyalty-adjustments"),
            json!({"quantity": 50, "reason": "welcome"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    LoyaltyFixture { customer }
}

/// A valid input for each loyalty operation, naming the fixture's records.
pub fn loyalty_sample(op: &str, f: &LoyaltyFixture) -> Option<Value> {
    Some(match op {
        "get_loyalty_programme" => json!({}),
        "update_loyalty_programme" => json!({"enabled": true, "pointsPerUnit": 2, "pointsPerBooking": 5}),
        "get_loyalty_balance" | "list_loyalty_ledger" => json!({"customerId": f.customer}),
        "adjust_points" => json!({"customerId": f.customer, "quantity": 10, "reason": "birthday"}),
        _ => return None,
    })
}

async fn balance(app: &TestApp, key: &str, customer: &str) -> Value {
    let res = app.get(key, &format!("/v1/customers/{customer}/loyalty")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn pay(app: &TestApp, org: &Org, customer: &str, amount: i64) -> String {
    let invoice = open_invoice(app, org, customer, amount).await;
    let paid =
        app.post(&org.key, "/v1/payments", json!({"invoiceId": invoice, "amount": amount, "method": "cash"})).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    id(&paid)
}

#[tokio::test]
async fn a_payment_earns_once_and_refunds_take_back_exactly_their_share() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    // Off: nothing is earned.
    pay(&app, &org, &amy, 5000).await;
    assert_eq!(balance(&app, &org.key, &amy).await["points"], 0);
    let set = app
        .patch(&org.key, "/v1/loyalty-programme", json!({"enabled": true, "pointsPerUnit": 1, "rounding": "down"}))
        .await;
    assert_eq!(set.body["pointsPerUnit"], 1.0, "{}", set.body);
    // 33.33 earns 33 (rounded down); refunded in three parts of 11.11: 11 each, 33 in all.
    let payment = pay(&app, &org, &amy, 3333).await;
    assert_eq!(balance(&app, &org.key, &amy).await["points"], 33);
    // The same payment handed to the earning entry point again earns nothing more.
    let mut admin = app.admin().await;
    let tx = admin.transaction().await.unwrap();
    tx.execute("select auth.set_claims($1::text::jsonb)", &[&json!({"org_id": org.id}).to_string()]).await.unwrap();
    tx.execute("select auth.earn_loyalty_for_payment($1::text::uuid)", &[&payment]).await.unwrap();
    tx.execute("select auth.earn_loyalty_for_payment($1::text::uuid)", &[&payment]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(balance(&app, &org.key, &amy).await["points"], 33, "an event earns once");
    for (n, left) in [(1, 22), (2, 11), (3, 0)] {
        let refund = app
            .confirmed(
                &org.key,
                Method::POST,
                &format!("/v1/payments/{payment}/refunds"),
                Some(json!({"amount": 1111})),
            )
            .await;
        assert_eq!(refund.status, StatusCode::OK, "refund {n}: {}", refund.body);
        assert_eq!(balance(&app, &org.key, &amy).await["points"], left, "after refund {n}");
    }
    let ledger = app.get(&org.key, &format!("/v1/customers/{amy}/loyalty-ledger")).await;
    let kinds: Vec<(&str, i64)> = ledger.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(kinds, [("reverse", -11), ("reverse", -11), ("reverse", -11), ("earn", 33)], "{}", ledger.body);
}

#[tokio::test]
async fn a_stripe_payment_delivered_three_times_earns_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy", "email": "amy@example.com"})).await.to_string();
    app.patch(&org.key, "/v1/loyalty-programme", json!({"enabled": true, "pointsPerUnit": 2})).await;
    crate::stripe::connect_stripe(&app, &org).await;
    let invoice = open_invoice(&app, &org, &amy, 2500).await;
    let link = app.post(&org.key, &format!("/v1/invoices/{invoice}/payment-links"), json!({})).await;
    let event = crate::stripe::session_completed("evt_loyal", &link.body, "pi_loyal");
    for _ in 0..3 {
        let res = crate::stripe::deliver(&app, org.id, &event).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    assert_eq!(balance(&app, &org.key, &amy).await["points"], 50, "25.00 × 2, once");
}

#[tokio::test]
async fn completed_bookings_earn_points_and_stamps_once_and_tiers_multiply_what_payments_earn() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("00:00", "24:00")]), json!({}), 1).await;
    let org = &s.org;
    let other = app
        .post(&org.key, "/v1/services", json!({"name": "Massage", "durationMinutes": 60, "staffIds": [s.staff[0]]}))
        .await;
    let massage = id(&other);
    let set = app
        .patch(
            &org.key,
            "/v1/loyalty-programme",
            json!({"enabled": true, "pointsPerUnit": 1, "pointsPerBooking": 10,
                   "bookingPointsOverrides": [{"serviceId": massage, "points": 25}],
                   "stampsPerCard": 3, "stampServiceIds": [s.service],
                   "tiers": [{"name": "Gold", "threshold": 500, "multiplierBp": 20000, "discountBp": 1000},
                             {"name": "Silver", "threshold": 30, "multiplierBp": 15000}]}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["tiers"][0]["name"], "Silver", "tiers by threshold: {}", set.body);
    let amy = app.customer(org, json!({"name": "Amy"})).await.to_string();
    // Two bookings that have started (moved into the past as only time would), completed.
    let mut booked = Vec::new();
    for (service, hour) in [(&s.service, 9), (&massage, 11)] {
        let res = app
            .post(
                &org.key,
                "/v1/bookings",
                json!({"serviceId": service, "start": at(s.tz, in_days(2), hour, 0).to_rfc3339(), "customerId": amy}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        booked.push(id(&res));
    }
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.bookings set starts_at = starts_at - interval '5 days', ends_at = ends_at - interval '5 days',
                    blocked = tstzrange(lower(blocked) - interval '5 days', upper(blocked) - interval '5 days')
              where id in ('{}', '{}')",
            booked[0], booked[1]
        ))
        .await
        .unwrap();
    for booking in &booked {
        for _ in 0..2 {
            let done = app.post(&org.key, &format!("/v1/bookings/{booking}/complete"), json!({})).await;
            assert_eq!(done.body["status"], "completed", "{}", done.body);
        }
    }
    let now = balance(&app, &org.key, &amy).await;
    assert_eq!(
        (now["points"].as_i64(), now["stamps"].as_i64()),
        (Some(35), Some(1)),
        "10 + 25 points, one stamp: {now}"
    );
    assert_eq!(now["tier"]["name"], "Silver", "{now}");
    // Silver earns × 1.5: 20.00 → 30 points.
    pay(&app, org, &amy, 2000).await;
    assert_eq!(balance(&app, &org.key, &amy).await["points"], 65);
}

#[tokio::test]
async fn points_leave_the_balance_at_their_expiry_and_adjustments_take_the_first_to_expire() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    app.patch(&org.key, "/v1/loyalty-programme", json!({"enabled": true, "pointsPerUnit": 1, "expiryMonths": 6})).await;
    pay(&app, &org, &amy, 1000).await;
    pay(&app, &org, &amy, 2000).await;
    let now = balance(&app, &org.key, &amy).await;
    assert_eq!(now["points"], 30);
    // The first lot expires (moved into the past, as only time would): it stops counting at once.
    let admin = app.admin().await;
    admin
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.loyalty_entries set expires_at = now() - interval '1 minute'
              where customer_id = '{amy}' and kind = 'earn' and quantity = 10"
        ))
        .await
        .unwrap();
    assert_eq!(balance(&app, &org.key, &amy).await["points"], 20);
    let path = format!("/v1/customers/{amy}/loyalty-adjustments");
    let too_many = app.post(&org.key, &path, json!({"quantity": -25, "reason": "correction"})).await;
    assert_eq!(
        (too_many.status, too_many.code(), too_many.field()),
        (StatusCode::CONFLICT, "insufficient_points", "quantity"),
        "{}",
        too_many.body
    );
    let fixed = app.post(&org.key, &path, json!({"quantity": -5, "reason": "correction"})).await;
    assert_eq!(fixed.body["points"], 15, "{}", fixed.body);
    let missing = app.post(&org.key, &path, json!({"quantity": 5})).await;
    assert_eq!((missing.status, missing.field()), (StatusCode::UNPROCESSABLE_ENTITY, "reason"), "{}", missing.body);
    // A DBA recomputes the balance from the ledger and gets the same number.
    let recomputed: i64 = admin
        .query_one(
            "select coalesce(sum(e.quantity), 0)::bigint from app.loyalty_entries l
               join app.loyalty_entries e on e.lot_id = l.id
              where l.customer_id = $1::text::uuid and l.unit = 'points' and l.lot_id = l.id
                and (l.expires_at is null or l.expires_at > now())",
            &[&amy],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recomputed, 15);
}

#[tokio::test]
async fn staff_read_loyalty_managers_adjust_and_only_owners_and_admins_set_the_programme() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let (_, staff) = app.add_member(&org, "staff", None).await;
    let (_, manager) = app.add_member(&org, "manager", None).await;
    let path = format!("/v1/customers/{amy}/loyalty-adjustments");
    assert_eq!(balance(&app, &staff, &amy).await["points"], 0);
    assert_eq!(app.get(&staff, "/v1/loyalty-programme").await.status, StatusCode::OK);
    let res = app.post(&staff, &path, json!({"quantity": 5, "reason": "me"})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let res = app.patch(&manager, "/v1/loyalty-programme", json!({"enabled": true})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let res = app.post(&manager, &path, json!({"quantity": 5, "reason": "goodwill"})).await;
    assert_eq!(res.body["points"], 5, "{}", res.body);
    let res = app
        .patch(
            &org.key,
            "/v1/loyalty-programme",
            json!({"tiers": [{"name": "A", "threshold": 1}, {"name": "a", "threshold": 2}]}),
        )
        .await;
    assert_eq!((res.code(), res.field()), ("duplicate_tier", "tiers[1].name"), "{}", res.body);
}
