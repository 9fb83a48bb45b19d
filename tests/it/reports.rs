//! Reports against hand-computed fixtures: each figure below is worked out by hand from the
//! rows the test writes, on fixed dates (never today's).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::billing::{draft, open_invoice};
use crate::common::{Org, TestApp};

/// Sets an invoice's due date (a finalised invoice's dates are otherwise fixed).
async fn due_on(app: &TestApp, invoice: &str, date: &str) {
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica; update app.invoices set due_date = '{date}' where id = '{invoice}'"
        ))
        .await
        .unwrap();
}

async fn overdue(app: &TestApp, key: &str, query: &str) -> Value {
    let res = app.get(key, &format!("/v1/reports/overdue-invoices{query}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

fn bucket_figures(currency: &Value) -> Vec<(String, i64, i64)> {
    currency["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["bucket"].as_str().unwrap().to_string(),
                b["count"].as_i64().unwrap(),
                b["amountDue"]["amount"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn eur_invoice(app: &TestApp, org: &Org, customer: &str, total: i64) -> String {
    let inv = draft(app, org, customer, "EUR", json!([{"description": "Session", "unitAmount": total}])).await;
    let invoice = inv.body["id"].as_str().unwrap().to_string();
    let res = app.post(&org.key, &format!("/v1/invoices/{invoice}/finalize"), json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    invoice
}

#[tokio::test]
async fn overdue_invoices_are_aged_in_buckets_per_currency_as_of_a_day() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let bo = app.customer(&org, json!({"name": "Bo"})).await.to_string();
    // As of 2030-06-30: due the day before (1 day: 1-30), 30 days before (1-30), 31 (31-60),
    // 90 (61-90), 91 (90+); one due that very day (not overdue), one paid in part, one paid in
    // full, one in euros.
    let cases = [
        (&amy, 1000, "2030-06-29"),
        (&bo, 2000, "2030-05-31"),
        (&amy, 3000, "2030-05-30"),
        (&bo, 4000, "2030-04-01"),
        (&amy, 5000, "2030-03-31"),
        (&bo, 6000, "2030-06-30"),
        (&amy, 7000, "2030-06-01"),
        (&bo, 8000, "2030-06-01"),
    ];
    let mut invoices = Vec::new();
    for (customer, total, due) in cases {
        let invoice = open_invoice(&app, &org, customer, total).await;
        due_on(&app, &invoice, due).await;
        invoices.push(invoice);
    }
    // 7000 paid 2500 on 06-15 (4500 left, 29 days: 1-30); 8000 paid in full (not owed).
    for (invoice, amount) in [(&invoices[6], 2500), (&invoices[7], 8000)] {
        let res =
            app.post(&org.key, "/v1/payments", json!({"invoiceId": invoice, "amount": amount, "method": "cash"})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        if amount == 2500 {
            set(&app, "payments", res.body["id"].as_str().unwrap(), "received_on", "2030-06-15").await;
        }
    }
    let euros = eur_invoice(&app, &org, &bo, 900).await;
    due_on(&app, &euros, "2029-12-31").await;

    let report = overdue(&app, &org.key, "?asOf=2030-06-30&compareTo=2030-06-10&limit=3").await;
    assert_eq!(report["asOf"], "2030-06-30");
    let currencies = report["currencies"].as_array().unwrap();
    assert_eq!(currencies.len(), 2, "{report}");
    let (eur, gbp) = (&currencies[0], &currencies[1]);
    assert_eq!(
        (eur["currency"].as_str(), eur["count"].as_i64(), eur["amountDue"]["amount"].as_i64()),
        (Some("EUR"), Some(1), Some(900))
    );
    assert_eq!(
        bucket_figures(eur),
        [("1-30".into(), 0, 0), ("31-60".into(), 0, 0), ("61-90".into(), 0, 0), ("90+".into(), 1, 900)]
    );
    // GBP: 1000 + 2000 + 4500 (1-30), 3000 (31-60), 4000 (61-90), 5000 (90+).
    assert_eq!((gbp["count"].as_i64(), gbp["amountDue"]["amount"].as_i64()), (Some(6), Some(19_500)));
    assert_eq!(
        bucket_figures(gbp),
        [("1-30".into(), 3, 7500), ("31-60".into(), 1, 3000), ("61-90".into(), 1, 4000), ("90+".into(), 1, 5000)]
    );
    // The most overdue first: the euro invoice (181 days), then 91 and 90 days.
    let listed: Vec<(i64, &str)> = report["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["daysOverdue"].as_i64().unwrap(), i["bucket"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [(181, "90+"), (91, "90+"), (90, "61-90")]);
    assert_eq!(report["invoices"][1]["customerName"], "Amy");
    // At the end of 06-10, the 7000 was still owed in full (paid in part on 06-15): 2000 + 3000
    // + 4000 + 5000 + 7000. The euro invoice was overdue then too.
    assert_eq!(
        gbp["comparison"],
        json!({"asOf": "2030-06-10", "count": 5, "amountDue": {"amount": 21_000, "currency": "GBP"}})
    );
    assert_eq!(eur["comparison"]["count"], 1);
    let refused = app.get(&org.key, "/v1/reports/overdue-invoices?asOf=2030-06-30&compareTo=2030-07-01").await;
    assert_eq!((refused.status, refused.field()), (StatusCode::UNPROCESSABLE_ENTITY, "compareTo"), "{}", refused.body);
    assert_eq!(report["more"], true);
    // A day earlier the invoice due on the 29th is not overdue yet, and the rest are a day
    // younger: 29, 30 and 28 days (2000 + 3000 + 4500 in 1-30), 89 and 90 days (4000 + 5000).
    let before = overdue(&app, &org.key, "?asOf=2030-06-29").await;
    assert_eq!(
        bucket_figures(&before["currencies"][1]),
        [("1-30".into(), 3, 9500), ("31-60".into(), 0, 0), ("61-90".into(), 2, 9000), ("90+".into(), 0, 0)]
    );
}

#[tokio::test]
async fn staff_see_only_their_own_overdue_invoices_or_none() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let (user, staff) = app.add_member(&org, "staff", None).await;
    let mine = open_invoice(&app, &org, &amy, 1000).await;
    let theirs = open_invoice(&app, &org, &amy, 2000).await;
    for invoice in [&mine, &theirs] {
        due_on(&app, invoice, "2030-01-01").await;
    }
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica; update app.invoices set staff_user_id = '{user}' where id = '{mine}'"
        ))
        .await
        .unwrap();
    let res = app.patch(&org.key, "/v1/organisation", json!({"billing": {"staffBillingAccess": true}})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["reporting"], json!({"weekStartsOn": 1, "staffReports": "own", "digestEmail": false}));
    let all = overdue(&app, &org.key, "?asOf=2030-02-01").await;
    assert_eq!(all["currencies"][0]["count"], 2);
    let own = overdue(&app, &staff, "?asOf=2030-02-01").await;
    assert_eq!(own["currencies"][0]["count"], 1, "{own}");
    assert_eq!(own["invoices"][0]["invoiceId"], mine.as_str());
    // Without billing access, staff see no invoices, so none overdue either.
    app.patch(&org.key, "/v1/organisation", json!({"billing": {"staffBillingAccess": false}})).await;
    assert_eq!(overdue(&app, &staff, "?asOf=2030-02-01").await["currencies"], json!([]));
    // The organisation shows staff no reports at all.
    let res = app.patch(&org.key, "/v1/organisation", json!({"reporting": {"staffReports": "none"}})).await;
    assert_eq!(res.body["reporting"]["staffReports"], "none", "{}", res.body);
    let refused = app.get(&staff, "/v1/reports/overdue-invoices").await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "staff_reports_off"), "{}", refused.body);
}

/// Sets a column of a row as a migration would (triggers off): the moment a test needs.
async fn set(app: &TestApp, table: &str, id: &str, column: &str, value: &str) {
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica; update app.{table} set {column} = '{value}' where id = '{id}'"
        ))
        .await
        .unwrap();
}

fn money(v: &Value) -> i64 {
    v["amount"].as_i64().unwrap_or_else(|| panic!("not money: {v}"))
}

fn figures(v: &Value) -> [i64; 5] {
    ["invoiced", "credited", "collected", "refunded", "net"].map(|k| money(&v[k]))
}

#[tokio::test]
async fn revenue_by_week_from_sunday_across_the_clock_change_with_a_refund_and_a_credit_note() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    app.without_approvals(&org).await;
    let res = app
        .patch(
            &org.key,
            "/v1/organisation",
            json!({"timezone": "Europe/London", "defaultCurrency": "GBP",
                                                     "reporting": {"weekStartsOn": 7}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    // London moves its clocks forward at 01:00 UTC on Sunday 2030-03-31. Weeks start on Sunday:
    // 03-24 to 03-30, then 03-31 to 04-06.
    let finalised = [
        (10_000, "2030-03-30 23:30Z"), // 23:30 GMT on the 30th: the first week
        (20_000, "2030-03-31 00:30Z"), // 00:30 GMT on the 31st: the second
        (5_000, "2030-04-05 23:30Z"),  // 00:30 BST on 04-06: the second
        (7_000, "2030-04-06 23:30Z"),  // 00:30 BST on 04-07: after the range
        (3_000, "2030-03-20 12:00Z"),  // the previous period (03-10 to 03-23)
        (9_999, "2030-03-25 12:00Z"),  // voided below: not counted
    ];
    let mut inv = Vec::new();
    for (total, at) in finalised {
        let invoice = open_invoice(&app, &org, &amy, total).await;
        set(&app, "invoices", &invoice, "finalized_at", at).await;
        inv.push(invoice);
    }
    let res = app.confirmed(&org.key, reqwest::Method::POST, &format!("/v1/invoices/{}/void", inv[5]), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // Paid: A in full on the 30th, B in full on 04-01; 4,000 of B refunded on 04-02 (BST);
    // a credit note of 1,500 on C on 04-03.
    let mut payments = Vec::new();
    for (invoice, amount, on) in [(&inv[0], 10_000, "2030-03-30"), (&inv[1], 20_000, "2030-04-01")] {
        let res =
            app.post(&org.key, "/v1/payments", json!({"invoiceId": invoice, "amount": amount, "method": "cash"})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let payment = res.body["id"].as_str().unwrap().to_string();
        set(&app, "payments", &payment, "received_on", on).await;
        payments.push(payment);
    }
    let path = format!("/v1/payments/{}/refunds", payments[1]);
    let res = app.confirmed(&org.key, reqwest::Method::POST, &path, Some(json!({"amount": 4_000}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let refund = res.body["refunds"][0]["id"].as_str().unwrap().to_string();
    set(&app, "refunds", &refund, "created_at", "2030-04-02 10:00Z").await;
    let path = format!("/v1/invoices/{}/credit-notes", inv[2]);
    let res = app.confirmed(&org.key, reqwest::Method::POST, &path, Some(json!({"amount": 1_500}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    set(&app, "credit_notes", res.body["id"].as_str().unwrap(), "created_at", "2030-04-03 09:00Z").await;

    let res =
        app.get(&org.key, "/v1/reports/revenue?from=2030-03-24&to=2030-04-06&groupBy=week&breakdown=service").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let r = &res.body;
    assert_eq!((r["timezone"].as_str(), r["currency"].as_str()), (Some("Europe/London"), Some("GBP")));
    // invoiced, credited, collected, refunded, net
    assert_eq!(figures(&r["totals"]), [35_000, 1_500, 30_000, 4_000, 26_000], "{r}");
    let periods = r["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 2, "{r}");
    assert_eq!((periods[0]["start"].as_str(), periods[0]["end"].as_str()), (Some("2030-03-24"), Some("2030-03-30")));
    assert_eq!(figures(&periods[0]), [10_000, 0, 10_000, 0, 10_000]);
    assert_eq!((periods[1]["start"].as_str(), periods[1]["end"].as_str()), (Some("2030-03-31"), Some("2030-04-06")));
    assert_eq!(figures(&periods[1]), [25_000, 1_500, 20_000, 4_000, 16_000]);
    // The two weeks before: 3,000 invoiced, nothing collected.
    let c = &r["comparison"];
    assert_eq!((c["from"].as_str(), c["to"].as_str()), (Some("2030-03-10"), Some("2030-03-23")));
    assert_eq!(figures(&c["totals"]), [3_000, 0, 0, 0, 0]);
    assert_eq!(c["changePercent"], json!({"invoiced": 1066.7, "collected": null, "refunded": null, "net": null}));
    // Custom lines have no service: one row without an id, three lines.
    assert_eq!(r["breakdown"]["by"], "service");
    assert_eq!(r["breakdown"]["items"][0]["lines"], 3);
    assert_eq!(money(&r["breakdown"]["items"][0]["invoiced"]), 35_000);
    // By day and month the same totals; a month's period is cut to the range.
    for group in ["day", "month"] {
        let res =
            app.get(&org.key, &format!("/v1/reports/revenue?from=2030-03-24&to=2030-04-06&groupBy={group}")).await;
        assert_eq!(figures(&res.body["totals"]), [35_000, 1_500, 30_000, 4_000, 26_000]);
        let n = res.body["periods"].as_array().unwrap().len();
        assert_eq!(n, if group == "day" { 14 } else { 2 }, "{}", res.body);
    }
    // A range the wrong way round, or longer than a year: refused with the field at fault.
    let res = app.get(&org.key, "/v1/reports/revenue?from=2030-04-06&to=2030-03-24").await;
    assert_eq!((res.status, res.field()), (StatusCode::UNPROCESSABLE_ENTITY, "from"), "{}", res.body);
    let res = app.get(&org.key, "/v1/reports/revenue?from=2029-01-01&to=2030-03-24").await;
    assert_eq!((res.status, res.field()), (StatusCode::UNPROCESSABLE_ENTITY, "to"), "{}", res.body);
}

#[tokio::test]
async fn bookings_by_status_with_rates_and_utilisation_over_a_week_with_the_clock_change() {
    let app = TestApp::spawn().await;
    // One stylist working round the clock; London's clocks go forward on Sunday 2030-03-31, so
    // that day has 23 hours: the week 03-25 to 03-31 has 6 × 1,440 + 1,380 = 10,020 minutes.
    let hours = crate::bookings::every_day(&[("00:00", "24:00")]);
    let s = app.studio("Europe/London", hours, json!({}), 1).await;
    // Booked at free times in the coming weeks, then moved (as a migration would) to the week of
    // the clock change in 2030, further ahead than anyone may book.
    let slot = std::cell::Cell::new(0);
    let near = || {
        slot.set(slot.get() + 1);
        crate::bookings::at(s.tz, crate::bookings::in_days(slot.get()), 10, 0)
    };
    let move_to = |id: String, start: &'static str| {
        let app = &app;
        async move {
            app.admin()
                .await
                .batch_execute(&format!(
                    "set session_replication_role = replica;
                     update app.bookings set starts_at = '{start}', ends_at = '{start}'::timestamptz + interval '1 hour',
                            blocked = tstzrange('{start}', '{start}'::timestamptz + interval '1 hour')
                      where id = '{id}'"
                ))
                .await
                .unwrap();
            id
        }
    };
    let book = |start: &'static str| {
        let (app, s, at) = (&app, &s, near());
        async move {
            let res = app.book(&s.org.key, &s.service, at, json!({})).await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            move_to(res.body["id"].as_str().unwrap().to_string(), start).await
        }
    };
    let completed = book("2030-03-25T10:00:00Z").await;
    let no_show = book("2030-03-26T10:00:00Z").await;
    let late = book("2030-03-27T10:00:00Z").await;
    let cancelled = book("2030-03-28T10:00:00Z").await;
    book("2030-03-31T09:00:00Z").await; // 10:00 BST: confirmed
    let before = book("2030-03-20T10:00:00Z").await; // the previous week
    book("2030-04-01T10:00:00Z").await; // after the range
    // One booking moved to another time through the API, then both to 2030.
    let res = app.book(&s.org.key, &s.service, near(), json!({})).await;
    let moved = res.body["id"].as_str().unwrap().to_string();
    let res =
        app.post(&s.org.key, &format!("/v1/bookings/{moved}/reschedule"), json!({"start": near().to_rfc3339()})).await;
    assert!(res.status.is_success(), "{}", res.body);
    let new_time = res.body["id"].as_str().unwrap().to_string();
    assert_ne!(new_time, moved, "{}", res.body);
    move_to(moved, "2030-03-29T10:00:00Z").await;
    move_to(new_time, "2030-03-30T10:00:00Z").await;
    for (id, status, late_cancel) in [
        (&completed, "completed", "null"),
        (&no_show, "no_show", "null"),
        (&late, "cancelled", "true"),
        (&cancelled, "cancelled", "false"),
        (&before, "completed", "null"),
    ] {
        app.admin()
            .await
            .batch_execute(&format!(
                "set session_replication_role = replica;
                 update app.bookings set status = '{status}', late_cancel = {late_cancel} where id = '{id}'"
            ))
            .await
            .unwrap();
    }

    let res = app.get(&s.org.key, "/v1/reports/bookings?from=2030-03-25&to=2030-03-31&groupBy=week").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let r = &res.body;
    // The moved booking counts as rescheduled and its new time as confirmed; no cancellation.
    let expected = json!({
        "bookings": 6,
        "byStatus": {"pending": 0, "confirmed": 2, "checkedIn": 0, "completed": 1, "noShow": 1, "cancelled": 2,
                     "lateCancelled": 1, "declined": 0, "rescheduled": 1},
        // 1 no-show of the 2 whose time came; 1 late cancellation of 6.
        "noShowRate": 0.5,
        "lateCancelRate": 0.1667
    });
    assert_eq!(r["totals"], expected, "{r}");
    let periods = r["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 1, "{r}");
    assert_eq!(periods[0]["bookings"], 6, "a period that is the whole range is counted once: {r}");
    // Four hours booked (completed, no-show, the moved booking's new time, the Sunday one).
    let u = &r["utilisation"];
    assert_eq!((u["bookedMinutes"].as_i64(), u["workingMinutes"].as_i64()), (Some(240), Some(10_020)), "{r}");
    assert_eq!(u["rate"], 0.024);
    assert_eq!(u["staff"][0]["name"], "Stylist 0");
    let c = &r["comparison"];
    assert_eq!(
        (c["from"].as_str(), c["to"].as_str(), c["bookings"].as_i64()),
        (Some("2030-03-18"), Some("2030-03-24"), Some(1))
    );
    assert_eq!(c["noShowRate"], 0.0);
    // By day: seven periods; the Sunday of the clock change holds the 10:00 BST booking.
    let res = app.get(&s.org.key, "/v1/reports/bookings?from=2030-03-25&to=2030-03-31").await;
    let days = res.body["periods"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!((days[6]["start"].as_str(), days[6]["bookings"].as_i64()), (Some("2030-03-31"), Some(1)));
    assert_eq!(days[4]["byStatus"]["rescheduled"], 1);
    assert_eq!(days[5]["byStatus"]["confirmed"], 1);
}

#[tokio::test]
async fn customers_new_returning_churned_and_inactive_vips() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", crate::bookings::every_day(&[("00:00", "24:00")]), json!({}), 1).await;
    let admin = app.admin().await;
    let slot = std::cell::Cell::new(0);
    // A completed visit on a day of 2030 (booked at a free time ahead, then moved there).
    let visit = |customer: String, day: &'static str| {
        slot.set(slot.get() + 1);
        let (app, s, admin) = (&app, &s, &admin);
        let at = crate::bookings::at(s.tz, crate::bookings::in_days(slot.get()), 10, 0);
        async move {
            let body = json!({"serviceId": s.service, "start": at.to_rfc3339(), "customerId": customer});
            let res = app.post(&s.org.key, "/v1/bookings", body).await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            let id = res.body["id"].as_str().unwrap();
            admin
                .batch_execute(&format!(
                    "set session_replication_role = replica;
                     update app.bookings set status = 'completed', starts_at = '{day} 10:00Z', ends_at = '{day} 11:00Z',
                            blocked = tstzrange('{day} 10:00Z', '{day} 11:00Z') where id = '{id}'"
                ))
                .await
                .unwrap();
        }
    };
    let customer = |name: &'static str, stage: &'static str, created: &'static str| {
        let (app, s, admin) = (&app, &s, &admin);
        async move {
            let id = app.customer(&s.org, json!({"name": name, "lifecycleStage": stage})).await.to_string();
            admin
                .batch_execute(&format!(
                    "set session_replication_role = replica; update app.customers set created_at = '{created}' where id = '{id}'"
                ))
                .await
                .unwrap();
            id
        }
    };
    let a = customer("Ann", "customer", "2030-03-05 12:00Z").await;
    let b = customer("Bea", "customer", "2029-01-01 12:00Z").await;
    let c = customer("Cal", "customer", "2030-03-12 12:00Z").await;
    let d = customer("Dee", "vip", "2029-01-01 12:00Z").await;
    let e = customer("Eve", "vip", "2029-01-01 12:00Z").await;
    customer("Fay", "vip", "2029-01-01 12:00Z").await; // never came
    visit(a.clone(), "2030-03-05").await;
    visit(a, "2030-03-12").await;
    visit(b, "2030-03-06").await;
    visit(c, "2030-03-13").await;
    visit(d, "2029-12-01").await;
    visit(e, "2030-03-14").await;

    let res = app.get(&s.org.key, "/v1/reports/customers?from=2030-03-11&to=2030-03-17&groupBy=week").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let r = &res.body;
    // Cal is new; Ann, Cal and Eve came: Ann had come before, Cal and Eve for the first time.
    assert_eq!(r["totals"], json!({"newCustomers": 1, "visiting": 3, "returning": 1, "firstVisits": 2}), "{r}");
    // The week before: Ann new; Ann and Bea came, both for the first time.
    let c = &r["comparison"];
    assert_eq!((c["from"].as_str(), c["to"].as_str()), (Some("2030-03-04"), Some("2030-03-10")));
    assert_eq!(
        (c["newCustomers"].as_i64(), c["visiting"].as_i64(), c["returning"].as_i64()),
        (Some(1), Some(2), Some(0))
    );
    // Bea came the week before and not this week.
    assert_eq!(r["churn"], json!({"visitedBefore": 2, "notBack": 1, "rate": 0.5}));
    // VIPs without a visit in 60 days up to 03-17: Fay (never), Dee (106 days); not Eve.
    let vips = &r["inactiveVips"];
    assert_eq!(vips["count"], 2, "{r}");
    let listed: Vec<(&str, Value)> = vips["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v["daysSinceVisit"].clone()))
        .collect();
    assert_eq!(listed, [("Fay", Value::Null), ("Dee", json!(106))]);
    let res = app.get(&s.org.key, "/v1/reports/customers?from=2030-03-11&to=2030-03-17&inactiveDays=120").await;
    assert_eq!(res.body["inactiveVips"]["count"], 1, "{}", res.body);
}

#[tokio::test]
async fn loyalty_earned_redeemed_expired_and_the_liability_of_what_is_outstanding() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    app.patch(&org.key, "/v1/organisation", json!({"timezone": "Europe/London", "defaultCurrency": "GBP"})).await;
    let x = app.customer(&org, json!({"name": "Xan"})).await.to_string();
    let o = org.id;
    // Lots a1 (50, the week before), a2 (100), a3 (+5 by hand), a4 (after the range); draws on a2.
    let sql = format!(
        "set session_replication_role = replica;
         insert into app.loyalty_entries (org_id, id, customer_id, unit, kind, quantity, lot_id, source, source_id, created_at) values
           ('{o}', '00000000-0000-7000-8000-00000000a001', '{x}', 'points', 'earn', 50, '00000000-0000-7000-8000-00000000a001', 'payment', gen_random_uuid(), '2030-02-25 12:00Z'),
           ('{o}', '00000000-0000-7000-8000-00000000a002', '{x}', 'points', 'earn', 100, '00000000-0000-7000-8000-00000000a002', 'payment', gen_random_uuid(), '2030-03-02 12:00Z'),
           ('{o}', gen_random_uuid(), '{x}', 'points', 'redeem', -30, '00000000-0000-7000-8000-00000000a002', 'redemption', gen_random_uuid(), '2030-03-03 12:00Z'),
           ('{o}', gen_random_uuid(), '{x}', 'points', 'expire', -20, '00000000-0000-7000-8000-00000000a002', 'expiry', gen_random_uuid(), '2030-03-04 12:00Z'),
           ('{o}', gen_random_uuid(), '{x}', 'points', 'reverse', -10, '00000000-0000-7000-8000-00000000a002', 'refund', gen_random_uuid(), '2030-03-05 12:00Z'),
           ('{o}', '00000000-0000-7000-8000-00000000a003', '{x}', 'points', 'adjust', 5, '00000000-0000-7000-8000-00000000a003', 'adjustment', gen_random_uuid(), '2030-03-06 12:00Z'),
           ('{o}', '00000000-0000-7000-8000-00000000a005', '{x}', 'stamps', 'earn', 2, '00000000-0000-7000-8000-00000000a005', 'booking', gen_random_uuid(), '2030-03-06 12:00Z'),
           ('{o}', '00000000-0000-7000-8000-00000000a004', '{x}', 'points', 'earn', 1000, '00000000-0000-7000-8000-00000000a004', 'payment', gen_random_uuid(), '2030-03-08 12:00Z');
         insert into app.loyalty_rewards (org_id, name, cost_points, gives, amount, currency) values
           ('{o}', 'Ten pounds', 500, 'balance_credit', 1000, 'GBP'),
           ('{o}', 'A pound fifty', 100, 'balance_credit', 150, 'GBP');"
    );
    app.admin().await.batch_execute(&sql).await.unwrap();
    let res = app.get(&org.key, "/v1/reports/loyalty?from=2030-03-01&to=2030-03-07&groupBy=week").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let r = &res.body;
    assert_eq!(
        r["totals"],
        json!({"earned": 105, "redeemed": 30, "expired": 20, "reversed": 10, "stampsEarned": 2}),
        "{r}"
    );
    // 50 + 100 − 30 − 20 − 10 + 5 = 95 points held at the end of 03-07, worth 2 pence each at the
    // best reward (10 pounds for 500).
    assert_eq!(
        r["outstanding"],
        json!({"asOf": "2030-03-07", "points": 95, "stamps": 2, "pointValue": 2.0,
               "liability": {"amount": 190, "currency": "GBP"}}),
        "{r}"
    );
    assert_eq!(r["comparison"]["earned"], 50);
    // Weeks from Monday: 02-25 to 03-03 is cut to 03-01..03-03, then 03-04..03-07.
    let periods = r["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 2, "{r}");
    assert_eq!((periods[0]["start"].as_str(), periods[0]["earned"].as_i64()), (Some("2030-03-01"), Some(100)));
    // Staff see no loyalty report.
    let (_, staff) = app.add_member(&org, "staff", None).await;
    let res = app.get(&staff, "/v1/reports/loyalty").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
}

#[tokio::test]
async fn subscriptions_now_and_churn_over_a_month_with_monthly_revenue_normalised() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    app.patch(&org.key, "/v1/organisation", json!({"timezone": "Europe/London", "defaultCurrency": "GBP"})).await;
    let c = app.customer(&org, json!({"name": "Sub"})).await.to_string();
    let o = org.id;
    let sql = format!(
        "set session_replication_role = replica;
         insert into app.plans (org_id, id, name, price_amount, currency, interval_unit) values
           ('{o}', '00000000-0000-7000-8000-0000000000b1', 'Monthly', 5000, 'GBP', 'month'),
           ('{o}', '00000000-0000-7000-8000-0000000000b2', 'Weekly', 1000, 'GBP', 'week'),
           ('{o}', '00000000-0000-7000-8000-0000000000b3', 'Yearly', 60000, 'GBP', 'year');
         insert into app.subscriptions (org_id, customer_id, plan_id, status, anchor_date, discount_bp, created_at, ended_at) values
           ('{o}', '{c}', '00000000-0000-7000-8000-0000000000b1', 'active', '2030-01-01', null, '2030-01-01 12:00Z', null),
           ('{o}', '{c}', '00000000-0000-7000-8000-0000000000b2', 'active', '2030-01-01', 5000, '2030-01-01 12:00Z', null),
           ('{o}', '{c}', '00000000-0000-7000-8000-0000000000b3', 'past_due', '2030-01-01', null, '2030-01-01 12:00Z', null),
           ('{o}', '{c}', '00000000-0000-7000-8000-0000000000b1', 'paused', '2030-01-01', null, '2030-01-01 12:00Z', null),
           ('{o}', '{c}', '00000000-0000-7000-8000-0000000000b1', 'trialing', '2030-01-01', null, '2030-01-01 12:00Z', null),
           ('{o}', '{c}', '00000000-0000-7000-8000-0000000000b1', 'cancelled', '2029-12-01', null, '2029-12-01 12:00Z', '2030-03-03 12:00Z'),
           ('{o}', '{c}', '00000000-0000-7000-8000-0000000000b1', 'active', '2030-03-10', null, '2030-03-10 12:00Z', null),
           ('{o}', '{c}', '00000000-0000-7000-8000-0000000000b1', 'scheduled', '2030-05-01', null, '2030-03-11 12:00Z', null);"
    );
    app.admin().await.batch_execute(&sql).await.unwrap();
    let res = app.get(&org.key, "/v1/reports/subscriptions?from=2030-03-01&to=2030-03-30").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let gbp = &res.body["currencies"][0];
    // Monthly 5,000 twice; weekly 1,000 at half price = 500 × 52 / 12 = 2,166.67; yearly
    // 60,000 / 12 = 5,000 (past due still counts): 17,166.67, rounded.
    assert_eq!(
        gbp["now"],
        json!({"active": 3, "trialing": 1, "pastDue": 1, "paused": 1, "mrr": {"amount": 17_167, "currency": "GBP"}}),
        "{}",
        res.body
    );
    // Six ran on 03-01 (the scheduled one does not count); one started, one ended.
    assert_eq!(
        gbp["inRange"],
        json!({"runningAtStart": 6, "started": 1, "ended": 1, "churnRate": 0.1667,
               "mrrLost": {"amount": 5000, "currency": "GBP"}}),
        "{}",
        res.body
    );
}

#[tokio::test]
async fn a_campaigns_delivery_replies_opt_outs_and_the_bookings_and_revenue_it_brought() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", crate::bookings::every_day(&[("00:00", "24:00")]), json!({}), 1).await;
    let org = &s.org;
    app.patch(&org.key, "/v1/organisation", json!({"defaultCurrency": "GBP"})).await;
    let res = app
        .post(
            &org.key,
            "/v1/message-templates",
            json!({"name": "Spring", "channel": "email", "purpose": "marketing", "subject": "Spring", "body": "Hello"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let template = res.body["id"].as_str().unwrap().to_string();
    let mut customers = Vec::new();
    for name in ["Ann", "Bea", "Cal", "Dee"] {
        let email = format!("{}@example.com", name.to_lowercase());
        customers.push((app.customer(org, json!({"name": name, "email": email})).await.to_string(), email));
    }
    let o = org.id;
    let campaign = "00000000-0000-7000-8000-0000000000c1";
    let mut sql = format!(
        "set session_replication_role = replica;
         insert into app.campaigns (org_id, id, name, template_id, status, recipients, sent_at)
         values ('{o}', '{campaign}', 'Spring', '{template}', 'sent', 4, '2030-03-05 09:00Z');"
    );
    // Ann's was delivered, Bea's read, Cal's failed, Dee's still queued.
    for ((id, email), status) in customers.iter().zip(["delivered", "read", "failed", "queued"]) {
        let sent_at = if status == "queued" { "null".to_string() } else { "'2030-03-05 09:00Z'".to_string() };
        sql.push_str(&format!(
            "insert into app.messages (org_id, customer_id, channel, direction, purpose, recipient, body, status, sent_at,
                                       campaign_id, created_at)
             values ('{o}', '{id}', 'email', 'outbound', 'marketing', '{email}', 'Hello', '{status}', {sent_at},
                     '{campaign}', '2030-03-05 09:00Z');"
        ));
    }
    // Ann wrote back, Bea answered STOP, Cal wrote back too late (after 7 days).
    for (i, body, at) in
        [(0, "Thanks!", "2030-03-06 10:00Z"), (1, "STOP", "2030-03-06 11:00Z"), (2, "Hi", "2030-03-20 10:00Z")]
    {
        sql.push_str(&format!(
            "insert into app.messages (org_id, customer_id, channel, direction, recipient, body, status, created_at)
             values ('{o}', '{}', 'email', 'inbound', '{}', '{body}', 'received', '{at}');",
            customers[i].0, customers[i].1
        ));
    }
    app.admin().await.batch_execute(&sql).await.unwrap();
    // Ann booked two days after, and paid 4,500 of which 500 was refunded; Dee booked too late.
    for (i, created) in [(0, "2030-03-07 10:00Z"), (3, "2030-03-20 10:00Z")] {
        let at = crate::bookings::at(s.tz, crate::bookings::in_days(i as i64 + 1), 10, 0);
        let body = json!({"serviceId": s.service, "start": at.to_rfc3339(), "customerId": customers[i].0});
        let res = app.post(&org.key, "/v1/bookings", body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        set(&app, "bookings", res.body["id"].as_str().unwrap(), "created_at", created).await;
    }
    let invoice = open_invoice(&app, org, &customers[0].0, 4_500).await;
    let res =
        app.post(&org.key, "/v1/payments", json!({"invoiceId": invoice, "amount": 4_500, "method": "cash"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let payment = res.body["id"].as_str().unwrap().to_string();
    set(&app, "payments", &payment, "created_at", "2030-03-08 10:00Z").await;
    set(&app, "payments", &payment, "amount_refunded", "500").await;

    let res = app.get(&org.key, "/v1/reports/campaigns?from=2030-03-01&to=2030-03-30").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let mut c = res.body["campaigns"][0].clone();
    c.as_object_mut().unwrap().remove("sentAt");
    assert_eq!(
        c,
        json!({"campaignId": campaign, "name": "Spring", "recipients": 4, "sent": 2, "delivered": 2, "read": 1,
               "failed": 1, "waiting": 1, "cancelled": 0, "replied": 1, "optedOut": 1, "deliveryRate": 0.6667,
               "bookedCustomers": 1, "bookings": 1, "revenue": {"amount": 4_000, "currency": "GBP"}}),
        "{}",
        res.body
    );
    // With a longer window, Cal's reply and Dee's booking count.
    let res = app.get(&org.key, &format!("/v1/reports/campaigns?campaignId={campaign}&attributionDays=30")).await;
    let c = &res.body["campaigns"][0];
    assert_eq!((c["replied"].as_i64(), c["bookings"].as_i64()), (Some(2), Some(2)), "{}", res.body);
}

/// The catalog-wide tests' input for a report: a day far ahead, by which every invoice of the
/// fixtures is overdue (so a report that leaked another organisation's rows would show them).
/// A weekly digest of the organisation's (the week of 2030-04-01), made as the scheduler makes it.
pub async fn digest_fixture(app: &TestApp, org: &Org) -> String {
    let pool = crate::subscriptions::pool(app);
    let week = chrono::NaiveDate::from_ymd_opt(2030, 4, 1).unwrap();
    let row = favcrm::db::in_org(&pool, "select auth.make_weekly_digest($1, $2)", &[&org.id, &week]).await.unwrap();
    row.get::<_, Value>(0)["id"].as_str().unwrap().to_string()
}

pub fn reports_sample(op: &str, digest: &str) -> Option<Value> {
    Some(match op {
        "list_report_digests" => json!({"limit": 5}),
        "get_report_digest" => json!({"digestId": digest}),
        "report_overdue_invoices" => json!({"asOf": "2099-01-01"}),
        "report_revenue" => json!({"from": "2098-01-02", "to": "2099-01-01", "breakdown": "staff"}),
        "report_bookings" => json!({"from": "2026-01-01", "to": "2026-12-31", "groupBy": "month"}),
        "report_campaigns" => json!({"from": "2026-01-01", "to": "2026-12-31", "attributionDays": 14}),
        "report_loyalty" => json!({"from": "2026-01-01", "to": "2026-12-31", "groupBy": "month"}),
        "report_subscriptions" => json!({"from": "2026-01-01", "to": "2026-12-31"}),
        "report_customers" => json!({"from": "2026-01-01", "to": "2026-12-31", "groupBy": "week", "inactiveDays": 30}),
        _ => return None,
    })
}

async fn digests_made(pool: &deadpool_postgres::Pool, as_of: &str) -> usize {
    favcrm::scheduler::run_once(pool, None, Some(as_of)).await.unwrap().digests
}

#[tokio::test]
async fn the_weekly_digest_is_made_once_the_organisations_week_is_over_and_emailed_to_its_owners() {
    let app = TestApp::spawn().await;
    let hours = crate::bookings::every_day(&[("00:00", "24:00")]);
    let s = app.studio("Europe/London", hours, json!({}), 1).await;
    let org = &s.org;
    let res = app
        .patch(&org.key, "/v1/organisation", json!({"defaultCurrency": "GBP", "reporting": {"digestEmail": true}}))
        .await;
    assert_eq!(res.body["reporting"]["digestEmail"], true, "{}", res.body);
    // The week of Monday 2030-04-01 to Sunday 04-07 in London: one booking, a no-show; 10,000
    // invoiced and collected; an older invoice of 2,500 overdue since 03-01; a VIP who never came.
    let res =
        app.book(&org.key, &s.service, crate::bookings::at(s.tz, crate::bookings::in_days(1), 10, 0), json!({})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let booking = res.body["id"].as_str().unwrap().to_string();
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.bookings set starts_at = '2030-04-03T10:00Z', ends_at = '2030-04-03T11:00Z',
                    blocked = tstzrange('2030-04-03T10:00Z', '2030-04-03T11:00Z'), status = 'no_show'
              where id = '{booking}'"
        ))
        .await
        .unwrap();
    let amy = app.customer(org, json!({"name": "Amy"})).await.to_string();
    app.customer(org, json!({"name": "Vera", "lifecycleStage": "vip"})).await;
    let paid = open_invoice(&app, org, &amy, 10_000).await;
    set(&app, "invoices", &paid, "finalized_at", "2030-04-02T09:00Z").await;
    let res = app.post(&org.key, "/v1/payments", json!({"invoiceId": paid, "amount": 10_000, "method": "cash"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    set(&app, "payments", res.body["id"].as_str().unwrap(), "received_on", "2030-04-03").await;
    let owed = open_invoice(&app, org, &amy, 2_500).await;
    set(&app, "invoices", &owed, "finalized_at", "2030-02-01T09:00Z").await;
    set(&app, "invoices", &owed, "due_date", "2030-03-01").await;

    let pool = crate::subscriptions::pool(&app);
    // Sunday 23:59 in London (BST): the week is not over (the week before is, and is made).
    assert_eq!(digests_made(&pool, "2030-04-07T22:59:00Z").await, 1);
    let weeks = app.get(&org.key, "/v1/reports/digests").await;
    assert!(weeks.body["items"].as_array().unwrap().iter().all(|d| d["weekStart"] != "2030-04-01"), "{}", weeks.body);
    // Monday 00:00 there: it is; made once, however often the scheduler runs.
    assert_eq!(digests_made(&pool, "2030-04-07T23:00:00Z").await, 1);
    assert_eq!(digests_made(&pool, "2030-04-09T12:00:00Z").await, 0);
    let res = app.get(&org.key, "/v1/reports/digests?limit=1").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let d = &res.body["items"][0];
    assert_eq!((d["weekStart"].as_str(), d["weekEnd"].as_str()), (Some("2030-04-01"), Some("2030-04-07")), "{d}");
    assert_eq!(d["timezone"], "Europe/London");
    let sum = &d["summary"];
    assert_eq!(figures(&sum["revenue"]["totals"]), [10_000, 0, 10_000, 0, 10_000], "{sum}");
    assert_eq!(figures(&sum["revenue"]["previous"]), [0, 0, 0, 0, 0]);
    assert_eq!((sum["bookings"]["totals"]["bookings"].as_i64(), sum["noShows"].as_i64()), (Some(1), Some(1)), "{sum}");
    assert_eq!(sum["bookings"]["totals"]["noShowRate"], 1.0);
    let overdue = &sum["overdue"]["currencies"][0];
    assert_eq!((overdue["count"].as_i64(), money(&overdue["amountDue"])), (Some(1), 2_500), "{sum}");
    assert_eq!(sum["overdue"]["mostOverdue"][0]["invoiceId"], owed);
    assert_eq!(sum["inactiveVips"]["count"], 1);
    assert_eq!(sum["inactiveVips"]["customers"][0]["name"], "Vera");
    let owner_email: String = app
        .admin()
        .await
        .query_one("select email from app.memberships where org_id = $1 and role = 'owner'", &[&org.id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(d["emailedTo"], json!([owner_email]));
    let same = app.get(&org.key, &format!("/v1/reports/digests/{}", d["id"].as_str().unwrap())).await;
    assert_eq!(&same.body, d);
    app.outbox_idle().await;
    let mails = app.mails_to(&owner_email).await;
    let digests: Vec<_> = mails.iter().filter(|(s, _)| s.starts_with("Your week at Studio")).collect();
    assert_eq!(digests.len(), 2, "the week before's and this one's, once each");
    let (_, body) = digests.iter().find(|(s, _)| s.ends_with("2030-04-01 to 2030-04-07")).expect("this week's");
    for line in ["£100.00 collected", "No-shows: 1", "1 invoice(s), £25.00", "Vera (never came)"] {
        assert!(body.contains(line), "{line:?} in {body}");
    }
    // Staff do not see the digest: it speaks for the whole organisation.
    let (_, staff) = app.add_member(org, "staff", None).await;
    let res = app.get(&staff, "/v1/reports/digests").await;
    assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "forbidden"), "{}", res.body);
}

#[tokio::test]
async fn each_organisation_digests_its_own_week_in_its_own_zone_from_its_own_first_weekday() {
    let app = TestApp::spawn().await;
    let auckland = app.create_org("Kiwi").await;
    let res = app
        .patch(
            &auckland.key,
            "/v1/organisation",
            json!({"timezone": "Pacific/Auckland", "reporting": {"weekStartsOn": 7}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let london = app.create_org("Glow").await;
    let res = app.patch(&london.key, "/v1/organisation", json!({"timezone": "Europe/London"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let pool = crate::subscriptions::pool(&app);
    let week = |key: String| {
        let app = &app;
        async move {
            let res = app.get(&key, "/v1/reports/digests?limit=1").await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            res.body["items"][0]["weekStart"].as_str().map(str::to_string)
        }
    };
    // Saturday 2030-04-06 23:59 in Auckland (NZDT, UTC+13; its summer time ends the next morning):
    // its Sunday-to-Saturday week 03-24 to 03-30 is the last one over. London's Monday week 03-25
    // to 03-31 is over too.
    assert_eq!(digests_made(&pool, "2030-04-06T10:59:00Z").await, 2);
    assert_eq!(week(auckland.key.clone()).await.as_deref(), Some("2030-03-24"));
    assert_eq!(week(london.key.clone()).await.as_deref(), Some("2030-03-25"));
    // A minute later it is Sunday in Auckland: its next week is over; London's is not.
    assert_eq!(digests_made(&pool, "2030-04-06T11:00:00Z").await, 1);
    assert_eq!(week(auckland.key.clone()).await.as_deref(), Some("2030-03-31"));
    assert_eq!(week(london.key.clone()).await.as_deref(), Some("2030-03-25"));
    // Nobody asked for email: none was sent, and each sees only its own digests.
    let res = app.get(&london.key, "/v1/reports/digests").await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(res.body["items"][0]["emailedTo"], json!([]));
}
