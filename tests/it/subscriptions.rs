//! Memberships and session packs: plans, subscriptions renewed by the scheduler exactly once per
//! period (two schedulers at once, a scheduler cut off mid-renewal), past due and back, trials,
//! plan changes, pauses and cancellations, and credits that bookings draw down under
//! concurrency, first to expire first, given back on a free cancellation, lapsing at expiry.
//!
//! Time: the scheduler is run "as of" a time derived from what the server answered (a period's
//! end plus a second), never from today's date.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::billing::id;
use crate::bookings::{at, every_day, in_days};
use crate::common::{Org, Res, TestApp, admin_config, runtime_config};

/// A pool of runtime connections like a second server's: what a scheduler works through.
pub fn pool(app: &TestApp) -> deadpool_postgres::Pool {
    favcrm::db::Database::from_configs(admin_config(&app.dbname), runtime_config(&app.dbname), 4).unwrap().pool
}

fn ts(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap_or_else(|| panic!("not a time: {v}")).parse().unwrap()
}

/// Runs the scheduler once as of `t`.
async fn run(pool: &deadpool_postgres::Pool, t: DateTime<Utc>) -> favcrm::scheduler::Report {
    favcrm::scheduler::run_once(pool, None, Some(&t.to_rfc3339())).await.unwrap()
}

async fn plan(app: &TestApp, org: &Org, body: Value) -> String {
    let mut full = json!({"name": "Monthly", "price": {"amount": 5000}, "interval": "month"});
    for (k, v) in body.as_object().unwrap() {
        full[k] = v.clone();
    }
    let res = app.post(&org.key, "/v1/plans", full).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    id(&res)
}

async fn subscribe(app: &TestApp, org: &Org, customer: &str, plan: &str, extra: Value) -> Res {
    let mut body = json!({"customerId": customer, "planId": plan});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post(&org.key, "/v1/subscriptions", body).await
}

async fn subscription(app: &TestApp, key: &str, id: &str) -> Value {
    let res = app.get(key, &format!("/v1/subscriptions/{id}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn invoices_of(app: &TestApp, org: &Org, customer: &str) -> Vec<Value> {
    let res = app.get(&org.key, &format!("/v1/invoices?customerId={customer}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body["items"].as_array().unwrap().clone()
}

async fn balance(app: &TestApp, key: &str, customer: &str) -> Value {
    let res = app.get(key, &format!("/v1/customers/{customer}/credits")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

/// The records the catalog-wide tests name.
pub struct SubscriptionsFixture {
    pub customer: String,
    pub plan: String,
    pub other_plan: String,
    pub spare_plan: String,
    pub subscription: String,
    pub to_pause: String,
    pub paused: String,
    pub to_cancel: String,
}

pub async fn subscriptions_fixture(app: &TestApp, org: &Org) -> SubscriptionsFixture {
    let customer = app.customer(org, json!({"name": "Member"})).await.to_string();
    let plan = plan(app, org, json!({"name": "Fixture monthly", "creditsPerPeriod": 4})).await;
    let other_plan = plan_named(app, org, "Fixture quarterly", json!({"interval": "month", "intervalCount": 3})).await;
    let spare_plan = plan_named(app, org, "Fixture old plan", json!({})).await;
    let mut subs = Vec::new();
    for _ in 0..4 {
        let res = subscribe(app, org, &customer, &plan, json!({})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        subs.push(id(&res));
    }
    let paused = app.post(&org.key, &format!("/v1/subscriptions/{}/pause", subs[2]), json!({})).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    let sold = app
        .post(
            &org.key,
            "/v1/packages",
            json!({"customerId": customer, "name": "Fixture pack", "sessions": 3, "price": {"amount": 4000}}),
        )
        .await;
    assert_eq!(sold.status, StatusCode::CREATED, "{}", sold.body);
    SubscriptionsFixture {
        customer,
        plan,
        other_plan,
        spare_plan,
        subscription: subs[0].clone(),
        to_pause: subs[1].clone(),
        paused: subs[2].clone(),
        to_cancel: subs[3].clone(),
    }
}

async fn plan_named(app: &TestApp, org: &Org, name: &str, extra: Value) -> String {
    let mut body = extra;
    body["name"] = json!(name);
    plan(app, org, body).await
}

/// A valid input for each subscriptions operation, naming the fixture's records.
pub fn subscriptions_sample(op: &str, f: &SubscriptionsFixture) -> Option<Value> {
    Some(match op {
        "create_plan" => {
            json!({"name": "Sample yearly", "price": {"amount": 50000}, "interval": "year", "trialDays": 7})
        }
        "list_plans" => json!({}),
        "archive_plan" => json!({"planId": f.spare_plan}),
        "create_subscription" => json!({"customerId": f.customer, "planId": f.plan}),
        "get_subscription" => json!({"subscriptionId": f.subscription}),
        "list_subscriptions" => json!({}),
        "pause_subscription" => json!({"subscriptionId": f.to_pause}),
        "resume_subscription" => json!({"subscriptionId": f.paused}),
        "cancel_subscription" => json!({"subscriptionId": f.to_cancel, "when": "period_end"}),
        "change_subscription_plan" => json!({"subscriptionId": f.subscription, "planId": f.other_plan}),
        "sell_package" => {
            json!({"customerId": f.customer, "name": "Sample pack", "sessions": 5, "price": {"amount": 6000}, "validityDays": 90})
        }
        "get_credit_balance" | "list_credit_ledger" => json!({"customerId": f.customer}),
        "adjust_credits" => json!({"customerId": f.customer, "quantity": 1, "reason": "goodwill"}),
        _ => return None,
    })
}

#[tokio::test]
async fn a_monthly_membership_is_invoiced_once_per_period_however_many_schedulers_run() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Studio").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let monthly = plan(&app, &org, json!({"creditsPerPeriod": 8})).await;
    let res = subscribe(&app, &org, &amy, &monthly, json!({})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let sub = id(&res);
    assert_eq!(res.body["status"], "active", "{}", res.body);
    assert_eq!(res.body["periods"].as_array().unwrap().len(), 1);
    let first_end = ts(&res.body["currentPeriodEnd"]);
    assert_eq!(res.body["renewsAt"], res.body["currentPeriodEnd"]);
    let invoices = invoices_of(&app, &org, &amy).await;
    assert_eq!((invoices.len(), invoices[0]["status"].as_str()), (1, Some("open")));
    assert_eq!(invoices[0]["total"]["amount"], 5000);
    assert_eq!(balance(&app, &org.key, &amy).await["available"], 8);

    // Nothing is due before the period ends.
    let (a, b) = (pool(&app), pool(&app));
    assert_eq!(run(&a, first_end - Duration::seconds(1)).await.steps, 0);
    // Two schedulers at once, as of just after the period's end: one period, one invoice.
    let after = first_end + Duration::seconds(1);
    let (ra, rb) = tokio::join!(run(&a, after), run(&b, after));
    assert_eq!(ra.steps + rb.steps, 1, "{ra:?} {rb:?}");
    let now = subscription(&app, &org.key, &sub).await;
    assert_eq!(now["periods"].as_array().unwrap().len(), 2, "{now}");
    assert_eq!(now["currentPeriodStart"], json!(first_end.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()));
    assert_eq!(invoices_of(&app, &org, &amy).await.len(), 2);
    // Again, and again concurrently: nothing more.
    let (ra, rb) = tokio::join!(run(&a, after), run(&b, after));
    assert_eq!(ra.steps + rb.steps, 0);
    assert_eq!(invoices_of(&app, &org, &amy).await.len(), 2);
    // Each period granted its credits, expiring at its end (the run as of the first period's end
    // wrote the first period's expiry into the ledger).
    let credits = balance(&app, &org.key, &amy).await;
    assert_eq!(credits["available"], 8, "{credits}");
    assert_eq!(credits["grants"][0]["expiresAt"], now["currentPeriodEnd"], "{credits}");
    // Three months later the scheduler catches up, one period each.
    let later = ts(&now["currentPeriodEnd"]) + Duration::days(62);
    let r = run(&a, later).await;
    assert!(r.steps >= 2, "{r:?}");
    let caught_up = subscription(&app, &org.key, &sub).await;
    assert!(ts(&caught_up["currentPeriodEnd"]) > later, "{caught_up}");
    let periods = caught_up["periods"].as_array().unwrap().len();
    assert_eq!(invoices_of(&app, &org, &amy).await.len(), periods);
    let admin = app.admin().await;
    let distinct: i64 = admin
        .query_one(
            "select count(distinct starts_at) - count(*) from app.subscription_periods where subscription_id = $1",
            &[&sub.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(distinct, 0, "a period appears once");
}

#[tokio::test]
async fn a_scheduler_cut_off_mid_renewal_leaves_nothing_and_the_next_run_renews_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Studio").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let monthly = plan(&app, &org, json!({"creditsPerPeriod": 2})).await;
    let created = subscribe(&app, &org, &amy, &monthly, json!({})).await;
    let sub: uuid::Uuid = id(&created).parse().unwrap();
    let after = ts(&created.body["currentPeriodEnd"]) + Duration::seconds(1);
    // A scheduler renews inside its transaction ...
    let mut victim = favcrm::db::connect(&runtime_config(&app.dbname)).await.unwrap();
    let pid: i32 = victim.query_one("select pg_backend_pid()", &[]).await.unwrap().get(0);
    let tx = victim.transaction().await.unwrap();
    tx.batch_execute("set local role favcrm_member").await.unwrap();
    let done: Value = tx
        .query_one(
            "select auth.renew_subscription($1, $2, $3::text::timestamptz)",
            &[&org.id, &sub, &after.to_rfc3339()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(done["steps"], 1, "{done}");
    // ... while another passes the subscription by (it is held) ...
    let other = pool(&app);
    let r = run(&other, after).await;
    assert_eq!((r.skipped, r.steps), (1, 0), "{r:?}");
    // ... and is cut off before it commits (its server killed).
    let admin = app.admin().await;
    admin.execute("select pg_terminate_backend($1)", &[&pid]).await.unwrap();
    assert!(tx.commit().await.is_err());
    // The client hears of the end before the backend has let go of its locks: wait until it is gone.
    for _ in 0..1000 {
        let alive: bool = admin
            .query_one("select exists (select 1 from pg_stat_activity where pid = $1)", &[&pid])
            .await
            .unwrap()
            .get(0);
        if !alive {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(invoices_of(&app, &org, &amy).await.len(), 1, "the cut-off renewal left no invoice");
    // The next run renews it, once.
    let r = run(&other, after).await;
    assert_eq!(r.steps, 1, "{r:?}");
    let r = run(&other, after).await;
    assert_eq!(r.steps, 0, "{r:?}");
    assert_eq!(invoices_of(&app, &org, &amy).await.len(), 2);
    assert_eq!(subscription(&app, &org.key, &sub.to_string()).await["periods"].as_array().unwrap().len(), 2);
    let grants: i64 = admin
        .query_one(
            "select count(*) from app.credit_grants where customer_id = $1",
            &[&amy.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(grants, 2, "one grant per period");
}

#[tokio::test]
async fn a_trial_invoices_nothing_then_the_first_period_is_invoiced_when_it_ends() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Studio").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let trial = plan(&app, &org, json!({"trialDays": 14, "creditsPerPeriod": 1})).await;
    let created = subscribe(&app, &org, &amy, &trial, json!({})).await;
    assert_eq!(created.body["status"], "trialing", "{}", created.body);
    assert_eq!(created.body["trialEndsAt"], created.body["currentPeriodEnd"]);
    assert!(invoices_of(&app, &org, &amy).await.is_empty(), "a trial is free");
    assert_eq!(balance(&app, &org.key, &amy).await["available"], 1, "a trial has the plan's credits");
    let end = ts(&created.body["trialEndsAt"]);
    let trial_days = (end - ts(&created.body["currentPeriodStart"])).num_hours();
    assert!((14 * 24 - 1..=14 * 24 + 1).contains(&trial_days), "{trial_days} hours (a DST change moves one)");
    run(&pool(&app), end + Duration::seconds(1)).await;
    let now = subscription(&app, &org.key, &id(&created)).await;
    assert_eq!(now["status"], "active", "{now}");
    assert_eq!(now["currentPeriodStart"], created.body["trialEndsAt"]);
    assert_eq!(invoices_of(&app, &org, &amy).await.len(), 1);
}

#[tokio::test]
async fn unpaid_after_the_grace_days_is_past_due_and_paying_makes_it_active_again() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Studio").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let monthly = plan(&app, &org, json!({"graceDays": 3})).await;
    let created = subscribe(&app, &org, &amy, &monthly, json!({})).await;
    let sub = id(&created);
    let invoice = invoices_of(&app, &org, &amy).await[0].clone();
    let start = ts(&created.body["currentPeriodStart"]);
    let due: chrono::NaiveDate = invoice["dueDate"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, (start + Duration::hours(12)).date_naive() + Duration::days(3), "due three days in");
    let s = pool(&app);
    // On its due date it is not late yet; the day after, it is.
    run(&s, start + Duration::days(3) + Duration::hours(12)).await;
    assert_eq!(subscription(&app, &org.key, &sub).await["status"], "active");
    let late = start + Duration::days(4) + Duration::hours(1);
    run(&s, late).await;
    assert_eq!(subscription(&app, &org.key, &sub).await["status"], "past_due");
    let paid = app
        .post(&org.key, "/v1/payments", json!({"invoiceId": invoice["id"], "amount": 5000, "method": "card_terminal"}))
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    run(&s, late + Duration::hours(2)).await;
    assert_eq!(subscription(&app, &org.key, &sub).await["status"], "active");
}

#[tokio::test]
async fn cancelling_at_period_end_is_not_renewed_and_plan_changes_wait_for_the_next_period() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Studio").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let ben = app.customer(&org, json!({"name": "Ben"})).await.to_string();
    let monthly = plan(&app, &org, json!({})).await;
    let premium = plan_named(&app, &org, "Premium", json!({"price": {"amount": 9000}})).await;
    let leaving = subscribe(&app, &org, &amy, &monthly, json!({})).await;
    let upgrading = subscribe(&app, &org, &ben, &monthly, json!({})).await;
    // An agent key needs a person's confirmation to cancel.
    let cancel_path = format!("/v1/subscriptions/{}/cancel", id(&leaving));
    let asked = app.post(&org.key, &cancel_path, json!({})).await;
    assert_eq!((asked.status.as_u16(), asked.code()), (428, "confirmation_required"), "{}", asked.body);
    let cancelled = app.confirmed(&org.key, Method::POST, &cancel_path, Some(json!({}))).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(
        (cancelled.body["status"].as_str(), cancelled.body["cancelAtPeriodEnd"].as_bool()),
        (Some("active"), Some(true))
    );
    assert_eq!(cancelled.body["renewsAt"], Value::Null);
    let changed = app
        .post(&org.key, &format!("/v1/subscriptions/{}/change-plan", id(&upgrading)), json!({"planId": premium}))
        .await;
    assert_eq!(changed.body["nextPlanId"], premium.as_str(), "{}", changed.body);
    assert_eq!(changed.body["planId"], monthly.as_str(), "the current period keeps its plan");
    run(&pool(&app), ts(&leaving.body["currentPeriodEnd"]) + Duration::seconds(1)).await;
    let ended = subscription(&app, &org.key, &id(&leaving)).await;
    assert_eq!(
        (ended["status"].as_str(), ended["endedAt"].clone()),
        (Some("cancelled"), leaving.body["currentPeriodEnd"].clone())
    );
    assert_eq!(invoices_of(&app, &org, &amy).await.len(), 1, "not renewed");
    let upgraded = subscription(&app, &org.key, &id(&upgrading)).await;
    assert_eq!((upgraded["planId"].as_str(), upgraded["nextPlanId"].clone()), (Some(premium.as_str()), Value::Null));
    let bens = invoices_of(&app, &org, &ben).await;
    let totals: Vec<i64> = bens.iter().map(|i| i["total"]["amount"].as_i64().unwrap()).collect();
    assert!(totals.contains(&5000) && totals.contains(&9000), "{totals:?}");
    // Cancelling now ends it at once.
    let now = app
        .confirmed(
            &org.key,
            Method::POST,
            &format!("/v1/subscriptions/{}/cancel", id(&upgrading)),
            Some(json!({"when": "now"})),
        )
        .await;
    assert_eq!(now.body["status"], "cancelled", "{}", now.body);
    assert!(now.body["endedAt"].is_string());
    let refused = app
        .post(&org.key, &format!("/v1/subscriptions/{}/change-plan", id(&upgrading)), json!({"planId": monthly}))
        .await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "invalid_subscription_state"));
}

#[tokio::test]
async fn a_paused_subscription_is_not_renewed_and_resuming_after_its_period_starts_a_new_one() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Studio").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let monthly = plan(&app, &org, json!({"creditsPerPeriod": 3})).await;
    let created = subscribe(&app, &org, &amy, &monthly, json!({})).await;
    let sub = id(&created);
    let paused = app.post(&org.key, &format!("/v1/subscriptions/{sub}/pause"), json!({})).await;
    assert_eq!(paused.body["status"], "paused", "{}", paused.body);
    let r = run(&pool(&app), ts(&created.body["currentPeriodEnd"]) + Duration::days(5)).await;
    assert_eq!(r.subscriptions, 0, "a paused subscription is not due: {r:?}");
    assert_eq!(invoices_of(&app, &org, &amy).await.len(), 1);
    // Its period ran out while paused (moved 40 days into the past, as only time would).
    let admin = app.admin().await;
    admin
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.subscriptions set renews_at = renews_at - interval '40 days',
                    current_period_start = current_period_start - interval '40 days',
                    current_period_end = current_period_end - interval '40 days'
              where id = '{sub}';
             update app.subscription_periods set starts_at = starts_at - interval '40 days', ends_at = ends_at - interval '40 days'
              where subscription_id = '{sub}'"
        ))
        .await
        .unwrap();
    let resumed = app.post(&org.key, &format!("/v1/subscriptions/{sub}/resume"), json!({})).await;
    assert_eq!(resumed.body["status"], "active", "{}", resumed.body);
    assert_eq!(resumed.body["periods"].as_array().unwrap().len(), 2, "{}", resumed.body);
    assert!(ts(&resumed.body["currentPeriodEnd"]) > Utc::now());
    assert_eq!(invoices_of(&app, &org, &amy).await.len(), 2, "the new period is invoiced at once");
    // Resuming an active one is refused only when it cannot be: an active one just stays.
    let again = app.post(&org.key, &format!("/v1/subscriptions/{sub}/resume"), json!({})).await;
    assert_eq!(again.status, StatusCode::OK);
}

#[tokio::test]
async fn a_promotion_for_plans_discounts_the_first_paid_period_within_its_limit() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Studio").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let ben = app.customer(&org, json!({"name": "Ben"})).await.to_string();
    let monthly = plan(&app, &org, json!({})).await;
    app.post(
        &org.key,
        "/v1/promotions",
        json!({"code": "JOIN20", "percentOffBp": 2000, "appliesTo": ["plans"], "maxRedemptions": 1}),
    )
    .await;
    app.post(&org.key, "/v1/promotions", json!({"code": "SHOP", "percentOffBp": 2000, "appliesTo": ["products"]}))
        .await;
    let wrong = subscribe(&app, &org, &amy, &monthly, json!({"promotionCode": "shop"})).await;
    assert_eq!((wrong.code(), wrong.field()), ("promotion_not_applicable", "promotionCode"), "{}", wrong.body);
    let created = subscribe(&app, &org, &amy, &monthly, json!({"promotionCode": "join20"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["promotionCode"], "JOIN20");
    assert_eq!(invoices_of(&app, &org, &amy).await[0]["total"]["amount"], 4000);
    let used_up = subscribe(&app, &org, &ben, &monthly, json!({"promotionCode": "JOIN20"})).await;
    assert_eq!((used_up.code(), used_up.field()), ("promotion_used_up", "promotionCode"), "{}", used_up.body);
    run(&pool(&app), ts(&created.body["currentPeriodEnd"]) + Duration::seconds(1)).await;
    let totals: Vec<i64> =
        invoices_of(&app, &org, &amy).await.iter().map(|i| i["total"]["amount"].as_i64().unwrap()).collect();
    assert_eq!(totals.iter().sum::<i64>(), 9000, "the second period is at full price: {totals:?}");
}

/// A studio with one class-like service bookable around the clock, and a customer.
async fn studio_with_member(app: &TestApp) -> (crate::bookings::Studio, String) {
    let studio = app
        .studio(
            "Europe/London",
            every_day(&[("00:00", "24:00")]),
            json!({"cancellationPolicy": {"freeCancelHours": 72}}),
            1,
        )
        .await;
    let amy = app.customer(&studio.org, json!({"name": "Amy", "email": "amy@example.com"})).await.to_string();
    (studio, amy)
}

#[tokio::test]
async fn twenty_concurrent_bookings_against_five_credits_use_exactly_five() {
    let app = TestApp::spawn().await;
    let (s, amy) = studio_with_member(&app).await;
    let sold = app
        .post(
            &s.org.key,
            "/v1/packages",
            json!({"customerId": amy, "name": "5-class pack", "sessions": 5, "price": {"amount": 10000}, "validityDays": 60}),
        )
        .await;
    assert_eq!(sold.status, StatusCode::CREATED, "{}", sold.body);
    assert_eq!(
        (sold.body["grant"]["remaining"].as_i64(), sold.body["invoice"]["status"].as_str()),
        (Some(5), Some("open"))
    );
    let day = in_days(5);
    let attempts = (0..20).map(|h| {
        let (app, s, amy) = (&app, &s, &amy);
        async move {
            app.post(
                &s.org.key,
                "/v1/bookings",
                json!({"serviceId": s.service, "start": at(s.tz, day, h, 0).to_rfc3339(), "customerId": amy, "payWith": "credits"}),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let booked: Vec<&Res> = results.iter().filter(|r| r.status == StatusCode::CREATED).collect();
    assert_eq!(booked.len(), 5, "{:?}", results.iter().map(|r| r.code()).collect::<Vec<_>>());
    for r in &results {
        if r.status != StatusCode::CREATED {
            assert_eq!((r.status, r.code(), r.field()), (StatusCode::CONFLICT, "no_credits", "payWith"), "{}", r.body);
        }
    }
    assert!(booked.iter().all(|r| r.body["paidWith"] == "credits"));
    assert_eq!(balance(&app, &s.org.key, &amy).await["available"], 0);
    assert_eq!(app.count("app.bookings", Some(s.org.id)).await, 5, "a booking without its credit never stands");
    // The ledger adds up: one grant of 5, five uses.
    let ledger = app.get(&s.org.key, &format!("/v1/customers/{amy}/credit-ledger")).await;
    let sum: i64 = ledger.body["items"].as_array().unwrap().iter().map(|e| e["quantity"].as_i64().unwrap()).sum();
    assert_eq!(sum, 0, "{}", ledger.body);
    // A booking paid with a credit is not invoiced again.
    let line = app
        .post(&s.org.key, "/v1/invoices", json!({"customerId": amy, "lines": [{"bookingId": booked[0].body["id"]}]}))
        .await;
    assert_eq!((line.code(), line.field()), ("booking_paid_with_credits", "lines[0].bookingId"), "{}", line.body);
}

#[tokio::test]
async fn a_free_cancellation_gives_the_credit_back_and_a_late_one_keeps_it() {
    let app = TestApp::spawn().await;
    let (s, amy) = studio_with_member(&app).await;
    let adjust = app
        .post(
            &s.org.key,
            &format!("/v1/customers/{amy}/credit-adjustments"),
            json!({"quantity": 2, "reason": "welcome"}),
        )
        .await;
    assert_eq!(adjust.body["available"], 2, "{}", adjust.body);
    let book = |start: DateTime<Utc>| {
        let (app, s, amy) = (&app, &s, &amy);
        async move {
            let res = app
                .post(&s.org.key, "/v1/bookings", json!({"serviceId": s.service, "start": start.to_rfc3339(), "customerId": amy, "payWith": "credits"}))
                .await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            id(&res)
        }
    };
    // Free cancellation (5 days ahead: always more than 72 hours): the credit comes back.
    let early = book(at(s.tz, in_days(5), 10, 0)).await;
    assert_eq!(balance(&app, &s.org.key, &amy).await["available"], 1);
    let cancel = |booking: String| {
        let app = &app;
        let key = s.org.key.clone();
        async move { app.confirmed(&key, Method::POST, &format!("/v1/bookings/{booking}/cancel"), Some(json!({}))).await }
    };
    assert_eq!(cancel(early.clone()).await.body["lateCancel"], false);
    assert_eq!(balance(&app, &s.org.key, &amy).await["available"], 2);
    assert_eq!(cancel(early).await.status, StatusCode::OK, "cancelling twice returns nothing more");
    assert_eq!(balance(&app, &s.org.key, &amy).await["available"], 2);
    // Late (within 72 hours of the start): the credit is kept.
    // Two days ahead at 10:00 in the studio's zone is always inside the 72 free hours.
    let late = book(at(s.tz, in_days(2), 10, 0)).await;
    assert_eq!(cancel(late).await.body["lateCancel"], true);
    assert_eq!(balance(&app, &s.org.key, &amy).await["available"], 1);
    let ledger = app.get(&s.org.key, &format!("/v1/customers/{amy}/credit-ledger")).await;
    let kinds: Vec<&str> =
        ledger.body["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["use", "return", "use", "grant"], "{}", ledger.body);
    // Removing more than is usable is refused; removing what is there works.
    let path = format!("/v1/customers/{amy}/credit-adjustments");
    let too_many = app.post(&s.org.key, &path, json!({"quantity": -2, "reason": "oops"})).await;
    assert_eq!(
        (too_many.status, too_many.code(), too_many.field()),
        (StatusCode::CONFLICT, "insufficient_credits", "quantity")
    );
    assert_eq!(app.post(&s.org.key, &path, json!({"quantity": -1, "reason": "oops"})).await.body["available"], 0);
    let zero = app.post(&s.org.key, &path, json!({"quantity": 0, "reason": "nothing"})).await;
    assert_eq!((zero.status, zero.field()), (StatusCode::UNPROCESSABLE_ENTITY, "quantity"), "{}", zero.body);
}

#[tokio::test]
async fn the_credit_that_expires_first_is_used_first_and_expired_credits_stop_counting_at_expiry() {
    let app = TestApp::spawn().await;
    let (s, amy) = studio_with_member(&app).await;
    let sell = |days: i64, name: &str| {
        let (app, s, amy) = (&app, &s, &amy);
        let body =
            json!({"customerId": amy, "name": name, "sessions": 1, "price": {"amount": 1000}, "validityDays": days});
        async move {
            let res = app.post(&s.org.key, "/v1/packages", body).await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            res.body["grant"].clone()
        }
    };
    let long = sell(60, "Long pack").await;
    let short = sell(10, "Short pack").await;
    let listed = balance(&app, &s.org.key, &amy).await;
    assert_eq!(listed["grants"][0]["id"], short["id"], "the one expiring first is listed (and used) first");
    assert_eq!(listed["nextExpiry"], short["expiresAt"]);
    // A booking after the short pack expires can only use the long one.
    let after_short = ts(&short["expiresAt"]) + Duration::days(2);
    let res = app
        .post(
            &s.org.key,
            "/v1/bookings",
            json!({"serviceId": s.service, "start": after_short.to_rfc3339(), "customerId": amy, "payWith": "credits"}),
        )
        .await;
    assert_eq!(res.body["creditGrantId"], long["id"], "{}", res.body);
    // The short pack lapses (moved into the past, as only time would): it stops counting at once,
    // before any scheduler has run.
    let admin = app.admin().await;
    admin
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.credit_grants set expires_at = now() - interval '1 minute' where id = '{}'",
            short["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(balance(&app, &s.org.key, &amy).await["available"], 0);
    let res = app
        .post(&s.org.key, "/v1/bookings", json!({"serviceId": s.service, "start": at(s.tz, in_days(3), 9, 0).to_rfc3339(), "customerId": amy, "payWith": "credits"}))
        .await;
    assert_eq!(res.code(), "no_credits", "{}", res.body);
    // The scheduler writes the expiry into the ledger, once. The run is as of the database's
    // clock, which moved the grant's expiry (under faketime the server's clock and this test's
    // can be apart by more than the minute). A run covers every organisation, so another test's
    // run may be the one that writes it: the ledger is what counts.
    let p = pool(&app);
    let db_now: chrono::DateTime<Utc> = admin.query_one("select now()", &[]).await.unwrap().get(0);
    run(&p, db_now).await;
    run(&p, db_now).await;
    let ledger = app.get(&s.org.key, &format!("/v1/customers/{amy}/credit-ledger")).await;
    let expiries: Vec<Value> =
        ledger.body["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "expire").cloned().collect();
    assert_eq!(expiries.len(), 1, "{}", ledger.body);
    assert_eq!((expiries[0]["grantId"].clone(), expiries[0]["quantity"].as_i64()), (short["id"].clone(), Some(-1)));
}

#[tokio::test]
async fn staff_read_memberships_and_credits_and_book_with_them_but_only_managers_sell() {
    let app = TestApp::spawn().await;
    let (s, amy) = studio_with_member(&app).await;
    let (user, staff) = app.add_member(&s.org, "staff", None).await;
    // The staff member's own profile, working and delivering the service, so they may book it.
    let profile = id(&app.post(&s.org.key, "/v1/staff", json!({"name": "Sam", "userId": user})).await);
    let hours = json!({"hours": every_day(&[("00:00", "24:00")])});
    app.call(Some(&s.org.key), Method::PUT, &format!("/v1/staff/{profile}/working-hours"), Some(hours)).await;
    let staff_ids = json!({"staffIds": [s.staff[0], profile]});
    app.patch(&s.org.key, &format!("/v1/services/{}", s.service), staff_ids).await;
    let monthly = plan(&app, &s.org, json!({"creditsPerPeriod": 2})).await;
    subscribe(&app, &s.org, &amy, &monthly, json!({})).await;
    assert_eq!(app.get(&staff, "/v1/plans").await.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.get(&staff, "/v1/subscriptions").await.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(balance(&app, &staff, &amy).await["available"], 2);
    for (path, body) in [
        ("/v1/plans".to_string(), json!({"name": "Staff plan", "price": {"amount": 1}, "interval": "week"})),
        ("/v1/subscriptions".to_string(), json!({"customerId": amy, "planId": monthly})),
        ("/v1/packages".to_string(), json!({"customerId": amy, "name": "P", "sessions": 1, "price": {"amount": 1}})),
        (format!("/v1/customers/{amy}/credit-adjustments"), json!({"quantity": 5, "reason": "me"})),
    ] {
        let res = app.post(&staff, &path, body).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}: {}", res.body);
    }
    let booked = app
        .post(&staff, "/v1/bookings", json!({"serviceId": s.service, "staffId": profile, "start": at(s.tz, in_days(4), 9, 0).to_rfc3339(), "customerId": amy, "payWith": "credits"}))
        .await;
    assert_eq!(
        (booked.status, booked.body["paidWith"].as_str()),
        (StatusCode::CREATED, Some("credits")),
        "{}",
        booked.body
    );
    assert_eq!(balance(&app, &staff, &amy).await["available"], 1);
}

#[tokio::test]
async fn web_pages_list_active_products_and_plans_without_hidden_prices() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Studio").await;
    let created = app
        .post(&org.key, "/v1/publishable-keys", json!({"name": "Site", "allowedOrigins": ["https://glow.example"]}))
        .await;
    let pk = created.body["publishableKey"].as_str().unwrap().to_string();
    plan(&app, &org, json!({"name": "A monthly"})).await;
    plan(&app, &org, json!({"name": "B private", "webListing": "unlisted"})).await;
    plan(&app, &org, json!({"name": "C ask us", "webListing": "price_hidden"})).await;
    let archived = plan(&app, &org, json!({"name": "D old"})).await;
    app.post(&org.key, &format!("/v1/plans/{archived}/archive"), json!({})).await;
    app.post(&org.key, "/v1/products", json!({"name": "Mat", "price": {"amount": 3000}, "sku": "MAT"})).await;
    app.post(&org.key, "/v1/products", json!({"name": "Staff tee", "price": {"amount": 1}, "webListing": "unlisted"}))
        .await;
    let origin = [("Origin", "https://glow.example")];
    let plans = app.call_with(Some(&pk), Method::GET, "/v1/plans", None, &origin).await;
    assert_eq!(plans.status, StatusCode::OK, "{}", plans.body);
    let names: Vec<&str> =
        plans.body["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["A monthly", "C ask us"]);
    assert_eq!(plans.body["items"][0]["price"]["amount"], 5000);
    assert_eq!(plans.body["items"][1]["price"], Value::Null);
    let products = app.call_with(Some(&pk), Method::GET, "/v1/products", None, &origin).await;
    assert_eq!(products.body["items"].as_array().unwrap().len(), 1, "{}", products.body);
    assert_eq!(products.body["items"][0]["name"], "Mat");
    assert!(products.body["items"][0].get("stockOnHand").is_none() && products.body["items"][0].get("sku").is_none());
    // And nothing else of commerce or subscriptions.
    let denied = app.call_with(Some(&pk), Method::GET, "/v1/subscriptions", None, &origin).await;
    assert_eq!((denied.status, denied.code()), (StatusCode::FORBIDDEN, "not_allowed_for_publishable_key"));
}

#[tokio::test]
async fn a_members_plan_discount_comes_off_the_services_billed_to_them() {
    let app = TestApp::spawn().await;
    let (s, amy) = studio_with_member(&app).await;
    let ben = app.customer(&s.org, json!({"name": "Ben"})).await.to_string();
    let member = plan(&app, &s.org, json!({"serviceDiscountBp": 2000})).await;
    subscribe(&app, &s.org, &amy, &member, json!({})).await;
    for (customer, discount) in [(&amy, 900), (&ben, 0)] {
        let booked = app
            .post(&s.org.key, "/v1/bookings", json!({"serviceId": s.service, "start": at(s.tz, in_days(6), if discount > 0 { 9 } else { 11 }, 0).to_rfc3339(), "customerId": customer}))
            .await;
        assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
        let invoice = app
            .post(
                &s.org.key,
                "/v1/invoices",
                json!({"customerId": customer, "lines": [{"bookingId": booked.body["id"]}]}),
            )
            .await;
        assert_eq!(invoice.status, StatusCode::CREATED, "{}", invoice.body);
        assert_eq!(invoice.body["lines"][0]["discount"]["amount"], discount, "{}", invoice.body);
    }
}

#[tokio::test]
async fn collected_through_stripe_each_period_gets_a_payment_link_and_paying_it_pays_the_invoice() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Studio").await;
    let amy = app.customer(&org, json!({"name": "Amy", "email": "amy@example.com"})).await.to_string();
    let monthly = plan(&app, &org, json!({})).await;
    let refused = subscribe(&app, &org, &amy, &monthly, json!({"collection": "stripe"})).await;
    assert_eq!((refused.code(), refused.field()), ("stripe_not_connected", "collection"), "{}", refused.body);
    crate::stripe::connect_stripe(&app, &org).await;
    let created = subscribe(&app, &org, &amy, &monthly, json!({"collection": "stripe"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(created.body.get("_stripe").is_none(), "the Stripe request never reaches the client");
    let first = &created.body["periods"][0];
    let url = first["paymentLinkUrl"].as_str().unwrap_or_else(|| panic!("no link: {}", created.body));
    assert!(url.starts_with("https://"), "{url}");
    // The scheduler makes the next period's link with the server's Stripe settings and key.
    let settings = favcrm::effects::stripe::PaymentSettings {
        stripe_api_base: app.stripe.uri(),
        public_url: Some(app.base.clone()),
        secrets_key: None,
    };
    let payments = favcrm::call::Payments::new(&settings, &app.mail_dir, &app.base).unwrap();
    let after = ts(&created.body["currentPeriodEnd"]) + Duration::seconds(1);
    let r = favcrm::scheduler::run_once(&pool(&app), Some(&payments), Some(&after.to_rfc3339())).await.unwrap();
    assert_eq!((r.steps, r.payment_links), (1, 1), "{r:?}");
    let renewed = subscription(&app, &org.key, &id(&created)).await;
    let second = &renewed["periods"][0];
    assert!(second["paymentLinkUrl"].is_string(), "{renewed}");
    assert_ne!(second["invoiceId"], first["invoiceId"]);
    // Paying the link (Stripe's event) pays that period's invoice.
    let links = app.get(&org.key, &format!("/v1/invoices/{}", second["invoiceId"].as_str().unwrap())).await;
    assert_eq!(links.body["status"], "open", "{}", links.body);
    let admin = app.admin().await;
    let row = admin
        .query_one(
            "select id::text, provider_session_id, amount from app.payment_links where invoice_id = $1::text::uuid",
            &[&second["invoiceId"].as_str().unwrap()],
        )
        .await
        .unwrap();
    let link = json!({"id": row.get::<_, String>(0), "providerSessionId": row.get::<_, String>(1),
                      "amount": {"amount": row.get::<_, i64>(2), "currency": "USD"}, "invoiceId": second["invoiceId"]});
    let event = crate::stripe::session_completed("evt_renewal", &link, "pi_renewal");
    let delivered = crate::stripe::deliver(&app, org.id, &event).await;
    assert_eq!(delivered.status, StatusCode::OK, "{}", delivered.body);
    let paid = app.get(&org.key, &format!("/v1/invoices/{}", second["invoiceId"].as_str().unwrap())).await;
    assert_eq!(paid.body["status"], "paid", "{}", paid.body);
}

/// `favcrm worker --once` on the test database, as of `t`.
fn worker(app: &TestApp, t: DateTime<Utc>) -> std::process::Command {
    let socket = crate::common::cluster().embedded.socket_dir().display().to_string();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_favcrm"));
    cmd.args(["worker", "--once", "--as-of", &t.to_rfc3339()])
        .env("DATABASE_URL", format!("host={socket} port=5432 user=postgres dbname={}", app.dbname))
        .env("FAVCRM_DATA_DIR", &app.mail_dir)
        .env("FAVCRM_STRIPE_API_BASE", app.stripe.uri())
        .env("FAVCRM_LOG", "warn")
        .stdout(std::process::Stdio::piped());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_killed_mid_run_loses_nothing_and_the_next_renews_each_period_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Studio").await;
    let monthly = plan(&app, &org, json!({"creditsPerPeriod": 1})).await;
    let mut end = None;
    for i in 0..60 {
        let customer = app.customer(&org, json!({"name": format!("Member {i}")})).await.to_string();
        let res = subscribe(&app, &org, &customer, &monthly, json!({})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        end = Some(ts(&res.body["currentPeriodEnd"]));
    }
    let after = end.unwrap() + Duration::seconds(1);
    let admin = app.admin().await;
    let periods = || {
        let admin = &admin;
        async move { admin.query_one("select count(*) from app.subscription_periods", &[]).await.unwrap().get::<_, i64>(0) }
    };
    // Killed (SIGKILL: no goodbye) as soon as it has renewed something.
    let mut child = worker(&app, after).spawn().unwrap();
    for _ in 0..2000 {
        if periods().await > 60 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let part = periods().await;
    // The next ones finish: every subscription renewed once, never twice. (Until PostgreSQL
    // notices the killed client, its backend may still hold the subscription it was renewing:
    // a worker passes that one by, and the next run has it.)
    let mut steps = part - 60;
    for _ in 0..50 {
        let out = tokio::task::block_in_place(|| worker(&app, after).output().unwrap());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        steps += report["steps"].as_i64().unwrap();
        if report["skipped"] == 0 && report["steps"] == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(steps, 60, "{part} periods after the kill");
    assert_eq!(periods().await, 120);
    let (invoices, grants): (i64, i64) = {
        let row = admin
            .query_one(
                "select (select count(*) from app.invoices where org_id = $1), (select count(*) from app.credit_grants where org_id = $1)",
                &[&org.id],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((invoices, grants), (120, 120), "one invoice and one grant per period");
    let numbers: i64 = admin
        .query_one("select count(distinct number) from app.invoices where org_id = $1", &[&org.id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(numbers, 120, "numbers, none repeated");
    let gapless: bool = admin
        .query_one(
            "select bool_and(m = c) from (select max(sequence) m, count(*) c from app.invoices where org_id = $1 group by year) y",
            &[&org.id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(gapless, "the killed run left no gap in the numbers");
    eprintln!("killed after {} of 60 renewals", part - 60);
}

#[tokio::test]
async fn a_service_set_to_take_credits_spends_one_when_there_is_one_and_prices_the_booking_when_not() {
    let app = TestApp::spawn().await;
    let (s, amy) = studio_with_member(&app).await;
    let set = app
        .patch(&s.org.key, &format!("/v1/services/{}", s.service), json!({"billing": {"payWithCredits": true}}))
        .await;
    assert_eq!(set.body["billing"]["payWithCredits"], true, "{}", set.body);
    app.post(
        &s.org.key,
        &format!("/v1/customers/{amy}/credit-adjustments"),
        json!({"quantity": 1, "reason": "trial class"}),
    )
    .await;
    let book = |hour: u32, extra: Value| {
        let (app, s, amy) = (&app, &s, &amy);
        let mut body =
            json!({"serviceId": s.service, "start": at(s.tz, in_days(4), hour, 0).to_rfc3339(), "customerId": amy});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        async move {
            let res = app.post(&s.org.key, "/v1/bookings", body).await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            res.body["paidWith"].clone()
        }
    };
    assert_eq!(book(9, json!({"payWith": "price"})).await, Value::Null, "price: the credit is kept");
    assert_eq!(book(10, json!({})).await, "credits", "the service takes the credit");
    assert_eq!(book(11, json!({})).await, Value::Null, "none left: priced as usual");
    assert_eq!(balance(&app, &s.org.key, &amy).await["available"], 0);
}

#[tokio::test]
async fn a_pack_product_sold_alone_or_in_an_order_grants_its_credits_and_a_voided_sale_withdraws_them() {
    let app = TestApp::spawn().await;
    let (s, amy) = studio_with_member(&app).await;
    let product = app
        .post(
            &s.org.key,
            "/v1/products",
            json!({"name": "10-class pack", "price": {"amount": 15000}, "package": {"sessions": 10, "serviceIds": [s.service], "validityDays": 90}}),
        )
        .await;
    assert_eq!(product.status, StatusCode::CREATED, "{}", product.body);
    assert_eq!(product.body["package"]["sessions"], 10);
    let pack = id(&product);
    let sold = app.post(&s.org.key, "/v1/packages", json!({"customerId": amy, "productId": pack})).await;
    assert_eq!(sold.status, StatusCode::CREATED, "{}", sold.body);
    assert_eq!(
        (sold.body["grant"]["quantity"].as_i64(), sold.body["invoice"]["total"]["amount"].as_i64()),
        (Some(10), Some(15000))
    );
    assert_eq!(sold.body["grant"]["serviceIds"], json!([s.service]));
    // Two more in an order: granted when the order is billed.
    let order = app
        .post(&s.org.key, "/v1/orders", json!({"customerId": amy, "lines": [{"productId": pack, "quantity": 2}]}))
        .await;
    assert_eq!(balance(&app, &s.org.key, &amy).await["available"], 10, "an order grants nothing until billed");
    let billed = app.post(&s.org.key, &format!("/v1/orders/{}/pay", id(&order)), json!({})).await;
    assert_eq!(billed.status, StatusCode::OK, "{}", billed.body);
    assert_eq!(balance(&app, &s.org.key, &amy).await["available"], 30);
    // One credit spent from the first sale, then its invoice voided: the other nine go.
    let booked = app
        .post(&s.org.key, "/v1/bookings", json!({"serviceId": s.service, "start": at(s.tz, in_days(2), 9, 0).to_rfc3339(), "customerId": amy, "payWith": "credits"}))
        .await;
    assert_eq!(booked.body["creditGrantId"], sold.body["grant"]["id"], "{}", booked.body);
    let void = app
        .confirmed(
            &s.org.key,
            Method::POST,
            &format!("/v1/invoices/{}/void", sold.body["invoice"]["id"].as_str().unwrap()),
            Some(json!({})),
        )
        .await;
    assert_eq!(void.body["status"], "void", "{}", void.body);
    assert_eq!(balance(&app, &s.org.key, &amy).await["available"], 20);
    // Either a product or a pack described here; and only a pack product.
    let both = app
        .post(
            &s.org.key,
            "/v1/packages",
            json!({"customerId": amy, "productId": pack, "sessions": 3, "name": "x", "price": {"amount": 1}}),
        )
        .await;
    assert_eq!((both.code(), both.field()), ("product_or_pack", "productId"), "{}", both.body);
    let plain = id(&app.post(&s.org.key, "/v1/products", json!({"name": "Towel", "price": {"amount": 500}})).await);
    let not_pack = app.post(&s.org.key, "/v1/packages", json!({"customerId": amy, "productId": plain})).await;
    assert_eq!((not_pack.code(), not_pack.field()), ("not_a_package", "productId"), "{}", not_pack.body);
}

/// Runs `sql` (one `api.*` call with `input`) as the organisation's owner in a transaction left
/// open, then the same call with `second` from another connection, which must wait on a lock
/// the first holds (seen in pg_locks, not by timing); then commits the first and returns the
/// second's outcome. Without the lock, the second finishes on its own and this fails.
pub(crate) async fn second_waits_for_first(
    app: &TestApp,
    org: &Org,
    sql: &str,
    first: Value,
    second: Value,
) -> Result<Value, String> {
    let claims = json!({"org_id": org.id, "user_id": org.owner_id, "role": "owner", "key_kind": "app",
                        "scopes": ["bookings:write", "bookings:read", "loyalty:write", "loyalty:read", "customers:read", "subscriptions:write", "subscriptions:read"]})
    .to_string();
    let mut one = favcrm::db::connect(&runtime_config(&app.dbname)).await.unwrap();
    let t1 = one.transaction().await.unwrap();
    t1.batch_execute("set local role favcrm_member").await.unwrap();
    t1.execute("select auth.set_claims($1::text::jsonb)", &[&claims]).await.unwrap();
    t1.query_one(sql, &[&first]).await.unwrap();
    let (sql2, claims2, dbname) = (sql.to_string(), claims.clone(), app.dbname.clone());
    let (pid_tx, pid_rx) = tokio::sync::oneshot::channel();
    let second_call = tokio::spawn(async move {
        let mut two = favcrm::db::connect(&runtime_config(&dbname)).await.unwrap();
        let pid: i32 = two.query_one("select pg_backend_pid()", &[]).await.unwrap().get(0);
        pid_tx.send(pid).unwrap();
        let t2 = two.transaction().await.unwrap();
        t2.batch_execute("set local role favcrm_member").await.unwrap();
        t2.execute("select auth.set_claims($1::text::jsonb)", &[&claims2]).await.unwrap();
        let out = t2
            .query_one(&sql2, &[&second])
            .await
            .map(|r| r.get::<_, Value>(0))
            .map_err(|e| e.as_db_error().and_then(|d| d.hint()).unwrap_or("").to_string());
        if out.is_ok() {
            t2.commit().await.unwrap();
        }
        out
    });
    let pid = pid_rx.await.unwrap();
    let admin = app.admin().await;
    let mut waited = false;
    for _ in 0..500 {
        let waiting: i64 = admin
            .query_one("select count(*) from pg_locks where pid = $1 and not granted", &[&pid])
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            waited = true;
            break;
        }
        if second_call.is_finished() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(waited, "the second call did not wait for the first: nothing serialises them");
    t1.commit().await.unwrap();
    second_call.await.unwrap()
}

#[tokio::test]
async fn a_second_booking_waits_for_the_first_to_spend_the_last_credit_then_finds_none() {
    let app = TestApp::spawn().await;
    let (s, amy) = studio_with_member(&app).await;
    app.post(&s.org.key, &format!("/v1/customers/{amy}/credit-adjustments"), json!({"quantity": 1, "reason": "one"}))
        .await;
    // (Different days, so the staff member's calendar lock does not serialise them; bookings of
    // one customer also queue on the customer's row, which create_booking touches.)
    let booking = |days: i64| {
        let start = at(s.tz, in_days(days), 9, 0).to_rfc3339();
        json!({"serviceId": s.service, "start": start, "customerId": amy, "payWith": "credits"})
    };
    let second = second_waits_for_first(&app, &s.org, "select api.create_booking($1)", booking(3), booking(5)).await;
    assert_eq!(second, Err("no_credits".to_string()));
    assert_eq!(balance(&app, &s.org.key, &amy).await["available"], 0);
}

#[tokio::test]
async fn a_second_removal_of_credits_waits_for_the_first_then_finds_none_left() {
    let app = TestApp::spawn().await;
    let (s, amy) = studio_with_member(&app).await;
    app.post(&s.org.key, &format!("/v1/customers/{amy}/credit-adjustments"), json!({"quantity": 1, "reason": "one"}))
        .await;
    let take = json!({"customerId": amy, "quantity": -1, "reason": "correction"});
    let second = second_waits_for_first(&app, &s.org, "select api.adjust_credits($1)", take.clone(), take).await;
    assert_eq!(second, Err("insufficient_credits".to_string()));
}
