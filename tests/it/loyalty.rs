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
    pub reward: String,
    pub spare_reward: String,
    pub redemption: String,
}

pub async fn loyalty_fixture(app: &TestApp, org: &Org) -> LoyaltyFixture {
    let customer = app.customer(org, json!({"name": "Loyal"})).await.to_string();
    let programme = json!({"enabled": true, "pointsPerUnit": 1, "tiers": [{"name": "Member", "threshold": 1}]});
    let set = app.patch(&org.key, "/v1/loyalty-programme", programme).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    // A payment earns (and makes the customer a Member: a tier change).
    pay(app, org, &customer, 1200).await;
    let res = app
        .post(
            &org.key,
            &format!("/v1/customers/{customer}/loyalty-adjustments"),
            json!({"quantity": 50, "reason": "welcome"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let reward = |name: &str| {
        let body = json!({"name": name, "costPoints": 10, "gives": "balance_credit", "amount": {"amount": 500}});
        let (app, key) = (app, org.key.clone());
        async move {
            let res = app.post(&key, "/v1/rewards", body).await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            id(&res)
        }
    };
    let reward_id = reward("Fixture coffee").await;
    let spare_reward = reward("Fixture old reward").await;
    let redeemed = app
        .confirmed(
            &org.key,
            Method::POST,
            "/v1/loyalty-redemptions",
            Some(json!({"customerId": customer, "rewardId": reward_id})),
        )
        .await;
    assert_eq!(redeemed.status, StatusCode::CREATED, "{}", redeemed.body);
    LoyaltyFixture { customer, reward: reward_id, spare_reward, redemption: id(&redeemed) }
}

/// A valid input for each loyalty operation, naming the fixture's records.
pub fn loyalty_sample(op: &str, f: &LoyaltyFixture) -> Option<Value> {
    Some(match op {
        "get_loyalty_programme" => json!({}),
        "update_loyalty_programme" => json!({"enabled": true, "pointsPerUnit": 2, "pointsPerBooking": 5}),
        "get_loyalty_balance" | "list_loyalty_ledger" => json!({"customerId": f.customer}),
        "adjust_points" => json!({"customerId": f.customer, "quantity": 10, "reason": "birthday"}),
        "create_reward" => {
            json!({"name": "Free class", "costPoints": 100, "gives": "balance_credit", "amount": {"amount": 1500}})
        }
        "list_rewards" => json!({}),
        "archive_reward" => json!({"rewardId": f.spare_reward}),
        "redeem_reward" => json!({"customerId": f.customer, "rewardId": f.reward}),
        "reverse_redemption" => json!({"redemptionId": f.redemption}),
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
    app.without_approvals(&org).await;
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

#[tokio::test]
async fn twenty_concurrent_redemptions_against_three_rewards_worth_of_points_give_exactly_three() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    app.patch(&org.key, "/v1/loyalty-programme", json!({"enabled": true, "pointsPerUnit": 1})).await;
    app.post(&org.key, &format!("/v1/customers/{amy}/loyalty-adjustments"), json!({"quantity": 35, "reason": "gift"}))
        .await;
    let reward = app
        .post(
            &org.key,
            "/v1/rewards",
            json!({"name": "Coffee", "costPoints": 10, "gives": "balance_credit", "amount": {"amount": 300}}),
        )
        .await;
    let reward = id(&reward);
    let attempts = (0..20).map(|_| {
        let (app, key, amy, reward) = (&app, org.key.clone(), amy.clone(), reward.clone());
        async move {
            app.confirmed(
                &key,
                Method::POST,
                "/v1/loyalty-redemptions",
                Some(json!({"customerId": amy, "rewardId": reward})),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(ok, 3, "{:?}", results.iter().map(|r| r.code().to_string()).collect::<Vec<_>>());
    for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "insufficient_points"), "{}", r.body);
    }
    assert_eq!(balance(&app, &org.key, &amy).await["points"], 5);
    let credit = app.get(&org.key, &format!("/v1/customers/{amy}/balance")).await;
    assert_eq!(credit.body["balances"][0]["amount"], 900, "three rewards of 3.00 on the balance: {}", credit.body);
    // Reversed: the credit and the points come back; twice changes nothing.
    let one = results.iter().find(|r| r.status == StatusCode::CREATED).unwrap();
    let path = format!("/v1/loyalty-redemptions/{}/reverse", id(one));
    for _ in 0..2 {
        let back = app.confirmed(&org.key, Method::POST, &path, Some(json!({}))).await;
        assert_eq!(back.body["status"], "reversed", "{}", back.body);
    }
    assert_eq!(balance(&app, &org.key, &amy).await["points"], 15);
}

#[tokio::test]
async fn rewards_of_a_free_session_or_a_product_are_given_and_taken_back_unless_used() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("00:00", "24:00")]), json!({}), 1).await;
    let org = &s.org;
    let amy = app.customer(org, json!({"name": "Amy"})).await.to_string();
    app.patch(&org.key, "/v1/loyalty-programme", json!({"enabled": true, "stampsPerCard": 2})).await;
    app.post(
        &org.key,
        &format!("/v1/customers/{amy}/loyalty-adjustments"),
        json!({"quantity": 4, "reason": "cards", "unit": "stamps"}),
    )
    .await;
    let session = id(&app
        .post(
            &org.key,
            "/v1/rewards",
            json!({"name": "Free cut", "costStampCard": true, "gives": "service_credit", "serviceId": s.service}),
        )
        .await);
    let mat = id(&app
        .post(&org.key, "/v1/products", json!({"name": "Mat", "price": {"amount": 3000}, "trackStock": true}))
        .await);
    app.post(&org.key, &format!("/v1/products/{mat}/stock-movements"), json!({"quantity": 1, "reason": "received"}))
        .await;
    let gift = id(&app
        .post(
            &org.key,
            "/v1/rewards",
            json!({"name": "Free mat", "costStampCard": true, "gives": "product", "productId": mat}),
        )
        .await);
    let redeem = |reward: String| {
        let (app, key, amy) = (&app, org.key.clone(), amy.clone());
        async move {
            app.confirmed(
                &key,
                Method::POST,
                "/v1/loyalty-redemptions",
                Some(json!({"customerId": amy, "rewardId": reward})),
            )
            .await
        }
    };
    let free_cut = redeem(session).await;
    assert_eq!(
        (free_cut.status, free_cut.body["unit"].as_str()),
        (StatusCode::CREATED, Some("stamps")),
        "{}",
        free_cut.body
    );
    let free_mat = redeem(gift.clone()).await;
    assert!(free_mat.body["orderId"].is_string(), "{}", free_mat.body);
    let order = app.get(&org.key, &format!("/v1/orders/{}", free_mat.body["orderId"].as_str().unwrap())).await;
    assert_eq!(order.body["amount"]["amount"], 0, "{}", order.body);
    assert_eq!(balance(&app, &org.key, &amy).await["stamps"], 0);
    let none_left = redeem(gift).await;
    assert_eq!(none_left.code(), "insufficient_points", "{}", none_left.body);
    // The free cut is booked: its reward cannot be taken back; the mat can, and its stock returns.
    let booked = app
        .post(&org.key, "/v1/bookings", json!({"serviceId": s.service, "start": at(s.tz, in_days(3), 9, 0).to_rfc3339(), "customerId": amy, "payWith": "credits"}))
        .await;
    assert_eq!(booked.body["creditGrantId"], free_cut.body["creditGrantId"], "{}", booked.body);
    let used = app
        .confirmed(
            &org.key,
            Method::POST,
            &format!("/v1/loyalty-redemptions/{}/reverse", id(&free_cut)),
            Some(json!({})),
        )
        .await;
    assert_eq!((used.status, used.code()), (StatusCode::CONFLICT, "reward_used"), "{}", used.body);
    let back = app
        .confirmed(
            &org.key,
            Method::POST,
            &format!("/v1/loyalty-redemptions/{}/reverse", id(&free_mat)),
            Some(json!({})),
        )
        .await;
    assert_eq!(back.body["status"], "reversed", "{}", back.body);
    assert_eq!(balance(&app, &org.key, &amy).await["stamps"], 2);
    assert_eq!(app.get(&org.key, &format!("/v1/products/{mat}")).await.body["stockOnHand"], 1);
}

/// Runs the scheduler once as of `t`.
async fn run(app: &TestApp, t: chrono::DateTime<chrono::Utc>) -> favcrm::scheduler::Report {
    let pool = favcrm::db::Database::from_configs(
        crate::common::admin_config(&app.dbname),
        crate::common::runtime_config(&app.dbname),
        2,
    )
    .unwrap()
    .pool;
    favcrm::scheduler::run_once(&pool, None, Some(&t.to_rfc3339())).await.unwrap()
}

#[tokio::test]
async fn the_scheduler_writes_expiries_first_in_first_out_and_demotes_when_earnings_leave_the_window() {
    use chrono::{Duration, Utc};
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    app.patch(
        &org.key,
        "/v1/loyalty-programme",
        json!({"enabled": true, "pointsPerUnit": 1, "expiryMonths": 12, "tiers": [{"name": "Silver", "threshold": 30}]}),
    )
    .await;
    pay(&app, &org, &amy, 2000).await;
    let promoted = pay(&app, &org, &amy, 1500).await;
    let _ = promoted;
    let now = balance(&app, &org.key, &amy).await;
    assert_eq!((now["points"].as_i64(), now["tier"]["name"].as_str()), (Some(35), Some("Silver")), "{now}");
    // Spend 25: FIFO takes the 20 of the first lot and 5 of the second.
    app.post(
        &org.key,
        &format!("/v1/customers/{amy}/loyalty-adjustments"),
        json!({"quantity": -25, "reason": "spent"}),
    )
    .await;
    let ledger = app.get(&org.key, &format!("/v1/customers/{amy}/loyalty-ledger")).await;
    let lots: Vec<String> = ledger.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "earn")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .rev()
        .collect();
    let taken: Vec<(String, i64)> = ledger.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "adjust")
        .map(|e| (e["lotId"].as_str().unwrap().to_string(), e["quantity"].as_i64().unwrap()))
        .collect();
    assert!(taken.contains(&(lots[0].clone(), -20)) && taken.contains(&(lots[1].clone(), -5)), "{taken:?} of {lots:?}");
    // The window's edge: a second before the first earning is 12 months old the tier holds; at
    // that instant the earning leaves the window (15 points remain) and the customer is demoted.
    let admin = app.admin().await;
    let review: chrono::DateTime<Utc> = admin
        .query_one("select review_at from app.loyalty_members where customer_id = $1::text::uuid", &[&amy])
        .await
        .unwrap()
        .get(0);
    let review_at = |t: chrono::DateTime<Utc>| {
        let (app, org, amy) = (&app, org.id, amy.clone());
        async move {
            let mut client = favcrm::db::connect(&crate::common::runtime_config(&app.dbname)).await.unwrap();
            let tx = client.transaction().await.unwrap();
            tx.batch_execute("set local role favcrm_member").await.unwrap();
            tx.execute(
                "select auth.review_loyalty_tier($1, $2::text::uuid, $3::text::timestamptz)",
                &[&org, &amy, &t.to_rfc3339()],
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    };
    let tiers = || {
        let (admin, amy) = (&admin, amy.clone());
        async move {
            admin
                .query("select direction, to_tier from app.loyalty_tier_events where customer_id = $1::text::uuid order by at, id", &[&amy])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1)))
                .collect::<Vec<_>>()
        }
    };
    review_at(review - Duration::seconds(1)).await;
    assert_eq!(tiers().await, [("promotion".to_string(), Some("Silver".to_string()))]);
    review_at(review).await;
    assert_eq!(tiers().await.last().cloned(), Some(("demotion".to_string(), None)));
    // Well over a year on (12 months can be 366 days across a leap day), both lots lapse: the
    // expiry of what was left (0 and 10) is written once. (A run covers every organisation, so
    // its count may include other tests' lots: the ledger is what counts.)
    let year = review + Duration::days(40);
    run(&app, year).await;
    run(&app, year).await;
    let ledger = app.get(&org.key, &format!("/v1/customers/{amy}/loyalty-ledger")).await;
    let expired: Vec<i64> = ledger.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "expire")
        .map(|e| e["quantity"].as_i64().unwrap())
        .collect();
    assert_eq!(expired.len(), 2, "{}", ledger.body);
    assert_eq!(expired.iter().sum::<i64>(), -10, "{}", ledger.body);
    // Demoted once: the scheduler's reviews a year on change nothing more.
    assert_eq!(tiers().await.len(), 2);
    let (tier, computed): (Option<String>, i64) = {
        let row = admin
            .query_one("select tier, (select count(*) from app.loyalty_members) from app.loyalty_members where customer_id = $1::text::uuid", &[&amy])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((tier, computed), (None, 1), "the kept tier is what the ledger says");
}

#[tokio::test]
async fn a_credit_note_to_the_balance_takes_back_its_share_of_the_points() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    app.patch(&org.key, "/v1/loyalty-programme", json!({"enabled": true, "pointsPerUnit": 1})).await;
    let invoice = open_invoice(&app, &org, &amy, 10000).await;
    app.post(&org.key, "/v1/payments", json!({"invoiceId": invoice, "amount": 10000, "method": "cash"})).await;
    assert_eq!(balance(&app, &org.key, &amy).await["points"], 100);
    let credited = app
        .confirmed(
            &org.key,
            Method::POST,
            &format!("/v1/invoices/{invoice}/credit-notes"),
            Some(json!({"amount": 4000})),
        )
        .await;
    assert_eq!(credited.status, StatusCode::CREATED, "{}", credited.body);
    assert_eq!(credited.body["creditedToBalance"]["amount"], 4000, "{}", credited.body);
    assert_eq!(balance(&app, &org.key, &amy).await["points"], 60);
}

#[tokio::test]
async fn a_second_redemption_waits_for_the_first_then_finds_too_few_points() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    app.patch(&org.key, "/v1/loyalty-programme", json!({"enabled": true, "pointsPerUnit": 1})).await;
    app.post(&org.key, &format!("/v1/customers/{amy}/loyalty-adjustments"), json!({"quantity": 10, "reason": "gift"}))
        .await;
    let reward = id(&app
        .post(
            &org.key,
            "/v1/rewards",
            json!({"name": "Coffee", "costPoints": 10, "gives": "balance_credit", "amount": {"amount": 300}}),
        )
        .await);
    let input = json!({"customerId": amy, "rewardId": reward});
    let second =
        crate::subscriptions::second_waits_for_first(&app, &org, "select api.redeem_reward($1)", input.clone(), input)
            .await;
    assert_eq!(second, Err("insufficient_points".to_string()));
}
