//! Billing: totals and the rounding rule, gapless numbers under concurrency and rollback, the
//! invoice state machine, payments, refunds and credit notes, and who may do what.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Org, Res, TestApp};

pub(crate) fn id(res: &Res) -> String {
    res.body["id"].as_str().unwrap_or_else(|| panic!("no id in {} {}", res.status, res.body)).to_string()
}

pub(crate) fn amount(v: &Value) -> i64 {
    v["amount"].as_i64().unwrap_or_else(|| panic!("not money: {v}"))
}

/// A tax rate of the organisation's.
pub async fn tax_rate(app: &TestApp, org: &Org, name: &str, bp: i64, inclusive: bool) -> String {
    let res =
        app.post(&org.key, "/v1/tax-rates", json!({"name": name, "percentageBp": bp, "inclusive": inclusive})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    id(&res)
}

/// A draft invoice with the given lines.
pub async fn draft(app: &TestApp, org: &Org, customer: &str, currency: &str, lines: Value) -> Res {
    let res =
        app.post(&org.key, "/v1/invoices", json!({"customerId": customer, "currency": currency, "lines": lines})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res
}

/// An open invoice of one custom line for `total` (no tax).
pub async fn open_invoice(app: &TestApp, org: &Org, customer: &str, total: i64) -> String {
    let inv = draft(app, org, customer, "GBP", json!([{"description": "Session", "unitAmount": total}])).await;
    let invoice = id(&inv);
    let res = app.post(&org.key, &format!("/v1/invoices/{invoice}/finalize"), json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    invoice
}

async fn pay(app: &TestApp, key: &str, invoice: &str, amount: i64) -> Res {
    app.post(key, "/v1/payments", json!({"invoiceId": invoice, "amount": amount, "method": "cash"})).await
}

pub(crate) async fn invoice(app: &TestApp, key: &str, invoice: &str) -> Value {
    let res = app.get(key, &format!("/v1/invoices/{invoice}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

#[tokio::test]
async fn invoice_totals_follow_the_per_line_rounding_rule_with_several_rates_and_discounts() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let customer = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let vat = tax_rate(&app, &org, "VAT 20%", 2000, false).await;
    let incl = tax_rate(&app, &org, "Incl 20%", 2000, true).await;
    let odd = tax_rate(&app, &org, "Odd 8.25%", 825, false).await;
    let reduced = tax_rate(&app, &org, "Reduced 5%", 500, false).await;
    let inv = draft(
        &app,
        &org,
        &customer,
        "GBP",
        json!([
            // 3 × 19.99 = 59.97, 10 % off = 5.997 → 6.00; 20 % of 53.97 = 10.794 → 10.79.
            {"description": "A", "quantity": 3, "unitAmount": 1999, "discountPercentBp": 1000, "taxRateId": vat},
            // 10.00 including 20 %: 10.00 × 20/120 = 1.6667 → 1.67 of tax.
            {"description": "B", "unitAmount": 1000, "taxRateId": incl},
            // 8.25 % of 3.33 = 0.274725 → 0.27.
            {"description": "C", "unitAmount": 333, "taxRateId": odd},
            // 5 % of 2.50 = 0.125 → 0.13: half away from zero.
            {"description": "D", "unitAmount": 250, "taxRateId": reduced},
            // 2 × 5.00 with 1.50 off, no tax.
            {"description": "E", "quantity": 2, "unitAmount": 500, "discountAmount": 150},
            {"description": "F", "unitAmount": 10, "taxRateId": vat},
        ]),
    )
    .await;
    let b = &inv.body;
    let lines = b["lines"].as_array().unwrap();
    let got: Vec<(i64, i64, i64, i64)> = lines
        .iter()
        .map(|l| (amount(&l["discount"]), amount(&l["amount"]), amount(&l["taxAmount"]), amount(&l["total"])))
        .collect();
    assert_eq!(
        got,
        vec![
            (600, 5397, 1079, 6476),
            (0, 1000, 167, 1000),
            (0, 333, 27, 360),
            (0, 250, 13, 263),
            (150, 850, 0, 850),
            (0, 10, 2, 12)
        ]
    );
    assert_eq!(amount(&lines[1]["totalExcludingTax"]), 833);
    assert_eq!(amount(&b["subtotal"]), 8590);
    assert_eq!(amount(&b["discount"]), 750);
    assert_eq!(amount(&b["tax"]), 1288);
    assert_eq!(amount(&b["total"]), 8961);
    assert_eq!(amount(&b["totalExcludingTax"]), 7673);
    assert_eq!(amount(&b["amountDue"]), 8961);
    let taxes: Vec<(String, i64, i64)> = b["taxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), amount(&t["taxableAmount"]), amount(&t["amount"])))
        .collect();
    assert_eq!(
        taxes,
        vec![
            ("Incl 20%".to_string(), 833, 167),
            ("VAT 20%".to_string(), 5407, 1081),
            ("Odd 8.25%".to_string(), 333, 27),
            ("Reduced 5%".to_string(), 250, 13),
        ]
    );
    assert_eq!(b["currency"], "GBP");
    assert_eq!(b["total"]["currency"], "GBP");
    // Finalising freezes the figures: a rate switched off afterwards changes nothing.
    let invoice_id = id(&inv);
    let fin = app.post(&org.key, &format!("/v1/invoices/{invoice_id}/finalize"), json!({})).await;
    assert_eq!(fin.status, StatusCode::OK, "{}", fin.body);
    app.patch(&org.key, &format!("/v1/tax-rates/{vat}"), json!({"active": false})).await;
    let after = invoice(&app, &org.key, &invoice_id).await;
    assert_eq!(amount(&after["total"]), 8961);
    assert_eq!(after["lines"], fin.body["lines"]);
}

#[tokio::test]
async fn zero_and_three_decimal_currencies_are_priced_in_their_own_minor_units() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let customer = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let ten = tax_rate(&app, &org, "JCT 10%", 1000, false).await;
    let eight = tax_rate(&app, &org, "Reduced 8% incl", 800, true).await;
    let five = tax_rate(&app, &org, "VAT 5%", 500, false).await;
    // Yen have no minor unit: 3 × ¥333 = ¥999, 10 % = ¥99.9 → ¥100.
    let jpy = draft(
        &app,
        &org,
        &customer,
        "JPY",
        json!([
            {"description": "Tea", "quantity": 3, "unitAmount": 333, "taxRateId": ten},
            // ¥1,005 including 8 %: 1005 × 8/108 = 74.44 → ¥74.
            {"description": "Cake", "unitAmount": 1005, "taxRateId": eight},
        ]),
    )
    .await;
    assert_eq!((amount(&jpy.body["tax"]), amount(&jpy.body["total"])), (174, 2104), "{}", jpy.body);
    assert_eq!(jpy.body["total"]["currency"], "JPY");
    // Dinars have 1,000 fils: 1.250 KWD + 5 % = 0.0625 → 0.063.
    let kwd = draft(
        &app,
        &org,
        &customer,
        "KWD",
        json!([
            {"description": "Oud", "unitAmount": 1250, "taxRateId": five},
            // 7 × 0.143 = 1.001, 3.33 % off = 0.0333 → 0.033; 5 % of 0.968 = 0.0484 → 0.048.
            {"description": "Bakhoor", "quantity": 7, "unitAmount": 143, "discountPercentBp": 333, "taxRateId": five},
        ]),
    )
    .await;
    let lines: Vec<(i64, i64)> =
        kwd.body["lines"].as_array().unwrap().iter().map(|l| (amount(&l["taxAmount"]), amount(&l["total"]))).collect();
    assert_eq!(lines, vec![(63, 1313), (48, 1016)]);
    assert_eq!((amount(&kwd.body["tax"]), amount(&kwd.body["total"])), (111, 2329));
    // A code that is no currency is refused by name.
    let bad = app.post(&org.key, "/v1/invoices", json!({"customerId": customer, "currency": "XYZ"})).await;
    assert_eq!(
        (bad.status, bad.code(), bad.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_currency", "currency")
    );
    // A discount larger than the line is refused and nothing is added.
    let inv = id(&jpy);
    let res = app
        .post(
            &org.key,
            &format!("/v1/invoices/{inv}/lines"),
            json!({"description": "X", "unitAmount": 100, "discountAmount": 101}),
        )
        .await;
    assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "discount_exceeds_line"), "{}", res.body);
    assert_eq!(invoice(&app, &org.key, &inv).await["lines"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn fifty_concurrent_finalisations_in_each_of_two_series_number_one_to_fifty_without_gaps() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let customer = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let mut drafts = Vec::new();
    for n in 0..100 {
        let series = if n % 2 == 0 { "INV" } else { "POS" };
        let res = app
            .post(
                &org.key,
                "/v1/invoices",
                json!({"customerId": customer, "currency": "GBP", "series": series,
                       "lines": [{"description": "Item", "unitAmount": 100 + n}]}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        drafts.push(id(&res));
    }
    let finalised = futures_util::future::join_all(drafts.iter().map(|d| {
        let path = format!("/v1/invoices/{d}/finalize");
        let (app, key) = (&app, &org.key);
        async move { app.post(key, &path, json!({})).await }
    }))
    .await;
    let mut numbers: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    for res in &finalised {
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let number = res.body["number"].as_str().unwrap();
        let parts: Vec<&str> = number.split('-').collect();
        assert_eq!(parts.len(), 3, "{number}");
        assert_eq!(parts[0], res.body["series"].as_str().unwrap());
        numbers.entry((parts[0].to_string(), parts[1].to_string())).or_default().push(parts[2].parse().unwrap());
    }
    for ((series, year), mut seq) in numbers.clone() {
        seq.sort();
        // (A run straddling New Year would start a second year at 1: each year is gapless.)
        assert_eq!(seq, (1..=seq.len() as u32).collect::<Vec<_>>(), "{series}-{year}");
    }
    assert_eq!(numbers.values().map(Vec::len).sum::<usize>(), 100);

    // A finalisation that rolls back returns its number: the next one gets it.
    let extra = |n: i64| {
        let (app, org, customer) = (&app, &org, &customer);
        async move {
            id(&app
                .post(
                    &org.key,
                    "/v1/invoices",
                    json!({"customerId": customer, "currency": "GBP", "lines": [{"description": "Late", "unitAmount": n}]}),
                )
                .await)
        }
    };
    let rolled_back = extra(7).await;
    let mut admin = app.admin().await;
    let tx = admin.transaction().await.unwrap();
    tx.batch_execute("set local role favcrm_member").await.unwrap();
    let claims = json!({"org_id": org.id, "user_id": org.owner_id, "role": "owner", "scopes": ["billing:write"]});
    tx.execute("select auth.set_claims($1::text::jsonb)", &[&claims.to_string()]).await.unwrap();
    let row =
        tx.query_one("select api.finalize_invoice($1::jsonb)", &[&json!({"invoiceId": rolled_back})]).await.unwrap();
    let in_flight: Value = row.get(0);
    tx.rollback().await.unwrap();
    let next = extra(8).await;
    let res = app.post(&org.key, &format!("/v1/invoices/{next}/finalize"), json!({})).await;
    assert_eq!(res.body["number"], in_flight["number"], "the rolled-back number is given again");
    assert!(res.body["number"].as_str().unwrap().ends_with("-0051"), "{}", res.body["number"]);
    assert_eq!(invoice(&app, &org.key, &rolled_back).await["status"], "draft");
}

#[tokio::test]
async fn a_finalised_invoice_never_changes_and_each_refusal_has_a_stable_code() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let customer = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let empty = id(&draft(&app, &org, &customer, "GBP", json!([])).await);
    let res = app.post(&org.key, &format!("/v1/invoices/{empty}/finalize"), json!({})).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "invoice_empty"));
    // No payment on a draft.
    let res = pay(&app, &org.key, &empty, 100).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "invalid_invoice_state"));

    let inv = open_invoice(&app, &org, &customer, 5000).await;
    let before = invoice(&app, &org.key, &inv).await;
    assert_eq!(before["status"], "open");
    assert!(before["number"].as_str().unwrap().starts_with("INV-"));
    assert!(before["dueDate"].is_string());
    for (method, path, body) in [
        (Method::PATCH, format!("/v1/invoices/{inv}"), json!({"memo": "changed"})),
        (Method::POST, format!("/v1/invoices/{inv}/lines"), json!({"description": "More", "unitAmount": 1})),
        (
            Method::DELETE,
            format!("/v1/invoices/{inv}/lines/{}", before["lines"][0]["id"].as_str().unwrap()),
            Value::Null,
        ),
    ] {
        let body = if body.is_null() { None } else { Some(body) };
        let res = app.call(Some(&org.key), method, &path, body).await;
        assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "invoice_not_draft"), "{path}: {}", res.body);
    }
    // Finalising again changes nothing.
    let again = app.post(&org.key, &format!("/v1/invoices/{inv}/finalize"), json!({})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["number"], before["number"]);
    assert_eq!(invoice(&app, &org.key, &inv).await, before);

    // Overpayment is refused with what is due; a wrong currency too.
    let res = pay(&app, &org.key, &inv, 5001).await;
    assert_eq!((res.status, res.code(), res.field()), (StatusCode::UNPROCESSABLE_ENTITY, "overpayment", "amount"));
    assert_eq!(amount(&res.body["amountDue"]), 5000);
    let res = app
        .post(&org.key, "/v1/payments", json!({"invoiceId": inv, "amount": 10, "currency": "EUR", "method": "cash"}))
        .await;
    assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "currency_mismatch"));

    // A paid invoice cannot be voided; a refund over the payment is refused.
    let payment = id(&pay(&app, &org.key, &inv, 5000).await);
    assert_eq!(invoice(&app, &org.key, &inv).await["status"], "paid");
    let res = app.confirmed(&org.key, Method::POST, &format!("/v1/invoices/{inv}/void"), Some(json!({}))).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "invoice_has_payments"));
    let res = app
        .confirmed(&org.key, Method::POST, &format!("/v1/payments/{payment}/refunds"), Some(json!({"amount": 5001})))
        .await;
    assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "refund_exceeds_payment"));
    assert_eq!(amount(&res.body["refundable"]), 5000);

    // A credit note cannot exceed the invoice, nor a line.
    let line = before["lines"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/invoices/{inv}/credit-notes");
    let res = app.confirmed(&org.key, Method::POST, &path, Some(json!({"amount": 5001}))).await;
    assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "credit_exceeds_invoice"));
    let res = app
        .confirmed(&org.key, Method::POST, &path, Some(json!({"lines": [{"invoiceLineId": line, "amount": 5001}]})))
        .await;
    assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "credit_exceeds_line"));
    let res = app.confirmed(&org.key, Method::POST, &path, Some(json!({"amount": 3000}))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = app.confirmed(&org.key, Method::POST, &path, Some(json!({"amount": 2001}))).await;
    assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "credit_exceeds_invoice"));
    assert_eq!(amount(&res.body["creditable"]), 2000);

    // A void invoice takes no payment and stays void.
    let other = open_invoice(&app, &org, &customer, 100).await;
    let res = app.confirmed(&org.key, Method::POST, &format!("/v1/invoices/{other}/void"), Some(json!({}))).await;
    assert_eq!((res.status, res.body["status"].as_str()), (StatusCode::OK, Some("void")));
    let res = pay(&app, &org.key, &other, 100).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "invalid_invoice_state"));
    let res = app.post(&org.key, &format!("/v1/invoices/{other}/mark-uncollectible"), json!({})).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "invalid_invoice_state"));
}

/// The invoice's running sums equal the rows of money behind them.
pub(crate) async fn assert_ledger_matches(app: &TestApp, org: Uuid) {
    let admin = app.admin().await;
    let rows = admin
        .query(
            "select i.number, i.amount_paid,
                    coalesce((select sum(p.amount - p.amount_refunded) from app.payments p
                               where p.org_id = i.org_id and p.invoice_id = i.id), 0)::bigint,
                    (coalesce((select sum(p.amount) from app.payments p where p.org_id = i.org_id and p.invoice_id = i.id), 0)
                     - coalesce((select sum(r.amount) from app.refunds r
                                 where r.org_id = i.org_id and r.invoice_id = i.id and r.status <> 'failed'), 0))::bigint,
                    i.amount_credited,
                    coalesce((select sum(c.amount) from app.credit_notes c where c.org_id = i.org_id and c.invoice_id = i.id), 0)::bigint,
                    i.amount_credited_to_balance,
                    (coalesce((select sum(e.amount) from app.customer_balance_entries e
                                join app.credit_notes c on c.org_id = e.org_id and c.id = e.source_id
                               where c.org_id = i.org_id and c.invoice_id = i.id), 0)
                     + coalesce((select sum(e.amount) from app.customer_balance_entries e
                                   join app.payments p on p.org_id = e.org_id and p.id = e.source_id
                                  where p.org_id = i.org_id and p.invoice_id = i.id and e.source_kind = 'overpayment'), 0)
                     + coalesce((select sum(e.amount) from app.customer_balance_entries e
                                   join app.refunds r on r.org_id = e.org_id and r.id = e.source_id
                                  where r.org_id = i.org_id and r.invoice_id = i.id and e.source_kind = 'failed_refund'), 0))::bigint
               from app.invoices i where i.org_id = $1",
            &[&org],
        )
        .await
        .unwrap();
    for r in rows {
        let number: Option<String> = r.get(0);
        let paid: i64 = r.get(1);
        assert_eq!(paid, r.get::<_, i64>(2), "{number:?}: amount_paid against payments");
        assert_eq!(r.get::<_, i64>(3), paid, "{number:?}: amount_paid against payments − refunds");
        assert_eq!(r.get::<_, i64>(4), r.get::<_, i64>(5), "{number:?}: amount_credited against credit notes");
        assert_eq!(r.get::<_, i64>(6), r.get::<_, i64>(7), "{number:?}: credited to balance against the ledger");
    }
}

#[tokio::test]
async fn payments_refunds_and_credit_notes_keep_every_sum_and_state_consistent() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    app.without_approvals(&org).await;
    let customer = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let inv = open_invoice(&app, &org, &customer, 10_000).await;
    // Partial payments add up; the invoice is paid when nothing is owed.
    let first = id(&pay(&app, &org.key, &inv, 4_000).await);
    let b = invoice(&app, &org.key, &inv).await;
    assert_eq!((b["status"].as_str(), amount(&b["amountDue"])), (Some("open"), 6_000));
    let second = id(&pay(&app, &org.key, &inv, 6_000).await);
    let b = invoice(&app, &org.key, &inv).await;
    assert_eq!((b["status"].as_str(), amount(&b["amountDue"]), amount(&b["amountPaid"])), (Some("paid"), 0, 10_000));
    assert!(b["paidAt"].is_string());
    // A refund reopens what is owed.
    let res = app
        .confirmed(&org.key, Method::POST, &format!("/v1/payments/{first}/refunds"), Some(json!({"amount": 1_000})))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(amount(&res.body["amountRefunded"]), 1_000);
    let b = invoice(&app, &org.key, &inv).await;
    assert_eq!((b["status"].as_str(), amount(&b["amountDue"])), (Some("open"), 1_000));
    // A credit note for what is owed settles it again without moving money.
    let path = format!("/v1/invoices/{inv}/credit-notes");
    let cn =
        app.confirmed(&org.key, Method::POST, &path, Some(json!({"amount": 1_000, "reason": "order_change"}))).await;
    assert_eq!(cn.status, StatusCode::CREATED, "{}", cn.body);
    assert!(cn.body["number"].as_str().unwrap().starts_with("CN-"));
    assert!(cn.body["number"].as_str().unwrap().ends_with("-0001"));
    assert_eq!((amount(&cn.body["appliedToAmountDue"]), amount(&cn.body["refunded"])), (1_000, 0));
    let b = invoice(&app, &org.key, &inv).await;
    assert_eq!((b["status"].as_str(), amount(&b["amountDue"])), (Some("paid"), 0));
    // On a paid invoice a credit note's excess is refunded from the payments, newest first …
    let cn = app.confirmed(&org.key, Method::POST, &path, Some(json!({"amount": 2_500, "refundExcess": true}))).await;
    assert_eq!(cn.status, StatusCode::CREATED, "{}", cn.body);
    assert!(cn.body["number"].as_str().unwrap().ends_with("-0002"));
    assert_eq!((amount(&cn.body["appliedToAmountDue"]), amount(&cn.body["refunded"])), (0, 2_500));
    let p2 = app.get(&org.key, &format!("/v1/payments/{second}")).await;
    assert_eq!(amount(&p2.body["amountRefunded"]), 2_500);
    assert_eq!(p2.body["refunds"][0]["creditNoteId"], cn.body["id"]);
    // … or goes to the customer's credit balance.
    let cn = app.confirmed(&org.key, Method::POST, &path, Some(json!({"amount": 500}))).await;
    assert_eq!((amount(&cn.body["creditedToBalance"]), amount(&cn.body["refunded"])), (500, 0));
    let b = invoice(&app, &org.key, &inv).await;
    assert_eq!(
        (b["status"].as_str(), amount(&b["amountDue"]), amount(&b["amountCredited"]), amount(&b["amountPaid"])),
        (Some("paid"), 0, 4_000, 6_500)
    );
    assert_eq!(b["creditNotes"].as_array().unwrap().len(), 3);
    assert_eq!(app.count("app.customer_balance_entries", Some(org.id)).await, 1);
    // The balance pays another invoice, never beyond what it holds; a refund puts it back.
    let balance = app.get(&org.key, &format!("/v1/customers/{customer}/balance")).await;
    assert_eq!(balance.body["balances"], json!([{"amount": 500, "currency": "GBP"}]), "{}", balance.body);
    assert_eq!(balance.body["entries"][0]["source"], "credit_note");
    let next = open_invoice(&app, &org, &customer, 1_000).await;
    let from_balance = |amount: i64| {
        let (app, key, next) = (&app, &org.key, &next);
        async move {
            app.post(key, "/v1/payments", json!({"invoiceId": next, "amount": amount, "method": "credit_balance"}))
                .await
        }
    };
    let spent = from_balance(300).await;
    assert_eq!(spent.status, StatusCode::CREATED, "{}", spent.body);
    let res = from_balance(300).await;
    assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_balance"), "{}", res.body);
    assert_eq!(amount(&res.body["balance"]), 200);
    let path = format!("/v1/payments/{}/refunds", spent.body["id"].as_str().unwrap());
    assert_eq!(app.confirmed(&org.key, Method::POST, &path, Some(json!({"amount": 100}))).await.status, StatusCode::OK);
    let balance = app.get(&org.key, &format!("/v1/customers/{customer}/balance")).await;
    assert_eq!(balance.body["balances"], json!([{"amount": 300, "currency": "GBP"}]), "{}", balance.body);
    assert_eq!(amount(&invoice(&app, &org.key, &next).await["amountDue"]), 800);
    // Credit by line and quantity on another invoice: tax follows the line's share.
    let vat = tax_rate(&app, &org, "VAT 20%", 2000, false).await;
    let d = draft(
        &app,
        &org,
        &customer,
        "GBP",
        json!([{"description": "Class", "quantity": 3, "unitAmount": 1000, "taxRateId": vat}]),
    )
    .await;
    let other = id(&d);
    let line = d.body["lines"][0]["id"].as_str().unwrap().to_string();
    app.post(&org.key, &format!("/v1/invoices/{other}/finalize"), json!({})).await;
    let cn = app
        .confirmed(
            &org.key,
            Method::POST,
            &format!("/v1/invoices/{other}/credit-notes"),
            Some(json!({"lines": [{"invoiceLineId": line, "quantity": 1}]})),
        )
        .await;
    assert_eq!(cn.status, StatusCode::CREATED, "{}", cn.body);
    assert_eq!((amount(&cn.body["amount"]), amount(&cn.body["tax"])), (1_200, 200));
    let b = invoice(&app, &org.key, &other).await;
    assert_eq!((b["status"].as_str(), amount(&b["amountDue"])), (Some("open"), 2_400));
    assert_ledger_matches(&app, org.id).await;
}

/// Records of every kind billing has, for the catalog-wide tests.
pub struct BillingFixture {
    pub customer: String,
    pub tax_rate: String,
    pub draft: String,
    pub draft_line: String,
    pub to_finalize: String,
    pub to_pay: String,
    pub to_credit: String,
    pub to_void: String,
    pub to_write_off: String,
    pub to_link: String,
    pub payment: String,
    /// A no-show booking with a fee (from the bookings fixture).
    pub fee_booking: String,
}

pub const SECRET_KEY: &str = "sk_test_51FixtureKeyAbcdefghij4242";
pub const WEBHOOK_SECRET: &str = "whsec_fixtureSigningSecret0123456789";

/// Billing records of `org`, whose bookings fixture gives a service and staff member to book.
pub async fn billing_fixture(app: &TestApp, org: &Org, bookings: &crate::bookings::BookingFixture) -> BillingFixture {
    let customer = app.customer(org, json!({"name": "Billed Customer"})).await.to_string();
    // A past no-show with a fee (written as an administrator, past the audit trigger: no request
    // books the past).
    let fee_booking = Uuid::now_v7().to_string();
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica;
             insert into app.bookings (org_id, id, service_id, staff_id, customer_id, status, starts_at, ends_at, blocked,
                                       price_amount, currency, fee_amount)
             values ('{}', '{fee_booking}', '{}', '{}', '{customer}', 'no_show', now() - interval '40 days',
                     now() - interval '40 days' + interval '1 hour',
                     tstzrange(now() - interval '40 days', now() - interval '40 days' + interval '1 hour'),
                     4500, 'USD', 1500)",
            org.id, bookings.service, bookings.staff
        ))
        .await
        .unwrap();
    let tax_rate = tax_rate(app, org, "VAT 20%", 2000, false).await;
    let d = draft(
        app,
        org,
        &customer,
        "GBP",
        json!([{"description": "Colour", "unitAmount": 6000, "taxRateId": tax_rate}]),
    )
    .await;
    let draft_line = d.body["lines"][0]["id"].as_str().unwrap().to_string();
    let to_finalize = id(&draft(app, org, &customer, "GBP", json!([{"description": "Cut", "unitAmount": 4000}])).await);
    let paid = open_invoice(app, org, &customer, 9000).await;
    let payment = pay(app, &org.key, &paid, 9000).await;
    assert_eq!(payment.status, StatusCode::CREATED, "{}", payment.body);
    let connected = app
        .call(
            Some(&org.key),
            Method::PUT,
            "/v1/stripe-connection",
            Some(json!({"secretKey": SECRET_KEY, "webhookSecret": WEBHOOK_SECRET})),
        )
        .await;
    assert_eq!(connected.status, StatusCode::OK, "{}", connected.body);
    BillingFixture {
        fee_booking: fee_booking.to_string(),
        to_link: open_invoice(app, org, &customer, 5000).await,
        draft: id(&d),
        draft_line,
        to_finalize,
        to_pay: open_invoice(app, org, &customer, 5000).await,
        to_credit: open_invoice(app, org, &customer, 5000).await,
        to_void: open_invoice(app, org, &customer, 5000).await,
        to_write_off: open_invoice(app, org, &customer, 5000).await,
        payment: id(&payment),
        customer,
        tax_rate,
    }
}

/// A valid input for each billing operation, naming the fixture's records.
pub fn billing_sample(op: &str, f: &BillingFixture) -> Option<Value> {
    Some(match op {
        "create_tax_rate" => json!({"name": "GST 10%", "percentageBp": 1000}),
        "update_tax_rate" => json!({"taxRateId": f.tax_rate, "name": "VAT (standard)"}),
        "list_tax_rates" | "list_invoices" | "list_payments" => json!({}),
        "create_invoice" => {
            json!({"customerId": f.customer, "memo": "Thank you", "lines": [{"description": "Blow-dry", "unitAmount": 2500}]})
        }
        "get_invoice" => json!({"invoiceId": f.to_pay}),
        "update_invoice" => json!({"invoiceId": f.draft, "memo": "Thank you", "paymentTermsDays": 30}),
        "add_invoice_line" => json!({"invoiceId": f.draft, "description": "Toner", "quantity": 2, "unitAmount": 750}),
        "remove_invoice_line" => json!({"invoiceId": f.draft, "lineId": f.draft_line}),
        "finalize_invoice" => json!({"invoiceId": f.to_finalize}),
        "void_invoice" => json!({"invoiceId": f.to_void}),
        "mark_uncollectible" => json!({"invoiceId": f.to_write_off}),
        "record_payment" => {
            json!({"invoiceId": f.to_pay, "amount": 1000, "method": "card_terminal", "reference": "T-1"})
        }
        "get_payment" => json!({"paymentId": f.payment}),
        "get_customer_balance" => json!({"customerId": f.customer}),
        "refund_payment" => json!({"paymentId": f.payment, "amount": 100, "reason": "goodwill"}),
        "create_credit_note" => json!({"invoiceId": f.to_credit, "amount": 500, "reason": "order_change"}),
        "connect_stripe" => json!({"secretKey": SECRET_KEY, "webhookSecret": WEBHOOK_SECRET}),
        "get_stripe_connection" | "disconnect_stripe" => json!({}),
        "create_payment_link" => json!({"invoiceId": f.to_link}),
        "invoice_booking_fees" => json!({"bookingIds": [f.fee_booking], "memo": "Missed appointment"}),
        _ => return None,
    })
}

#[tokio::test]
async fn staff_see_billing_only_where_allowed_and_then_only_their_own_bookings_and_never_write_it() {
    use crate::bookings::{at, every_day, in_days};
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 2).await;
    let (user, staff_key) = app.add_member(&s.org, "staff", None).await;
    let (_, manager_key) = app.add_member(&s.org, "manager", None).await;
    app.patch(&s.org.key, &format!("/v1/staff/{}", s.staff[0]), json!({"userId": user.to_string()})).await;
    let day = in_days(3);
    let mine = app.book(&s.org.key, &s.service, at(s.tz, day, 10, 0), json!({"staffId": s.staff[0]})).await;
    let theirs = app.book(&s.org.key, &s.service, at(s.tz, day, 10, 0), json!({"staffId": s.staff[1]})).await;
    let customer = mine.body["customerId"].as_str().unwrap().to_string();
    let bill = |booking: Value| {
        let (app, key, customer) = (&app, &manager_key, &customer);
        async move {
            let res =
                app.post(key, "/v1/invoices", json!({"customerId": customer, "lines": [{"bookingId": booking}]})).await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            res
        }
    };
    // Managers bill: the line takes the booking's price, and the booking is linked to the invoice.
    let my_invoice = bill(mine.body["id"].clone()).await;
    assert_eq!(amount(&my_invoice.body["total"]), 4500);
    assert_eq!(my_invoice.body["lines"][0]["kind"], "booking");
    let booking = app.get(&s.org.key, &format!("/v1/bookings/{}", mine.body["id"].as_str().unwrap())).await;
    assert_eq!(booking.body["invoiceId"], my_invoice.body["id"], "{}", booking.body);
    let their_invoice = bill(theirs.body["id"].clone()).await;
    // A booking is billed once.
    let again = app
        .post(&manager_key, "/v1/invoices", json!({"customerId": customer, "lines": [{"bookingId": mine.body["id"]}]}))
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "booking_already_invoiced"), "{}", again.body);

    // By default staff see no billing at all.
    let res = app.get(&staff_key, "/v1/invoices").await;
    assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "staff_billing_access_off"), "{}", res.body);
    // Allowed, they see the invoices of their own bookings only, even by id.
    let res = app.patch(&s.org.key, "/v1/organisation", json!({"billing": {"staffBillingAccess": true}})).await;
    assert_eq!(res.body["billing"]["staffBillingAccess"], true, "{}", res.body);
    let listed = app.get(&staff_key, "/v1/invoices").await;
    let ids: Vec<&Value> = listed.body["items"].as_array().unwrap().iter().map(|i| &i["id"]).collect();
    assert_eq!(ids, [&my_invoice.body["id"]], "{}", listed.body);
    let theirs_id = their_invoice.body["id"].as_str().unwrap();
    assert_eq!(app.get(&staff_key, &format!("/v1/invoices/{theirs_id}")).await.status, StatusCode::NOT_FOUND);
    // They never bill, finalise or record payments.
    let my_id = my_invoice.body["id"].as_str().unwrap();
    for (path, body) in [
        ("/v1/invoices".to_string(), json!({"customerId": customer})),
        (format!("/v1/invoices/{my_id}/finalize"), json!({})),
        ("/v1/payments".to_string(), json!({"invoiceId": my_id, "amount": 1, "method": "cash"})),
    ] {
        let res = app.post(&staff_key, &path, body).await;
        assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "insufficient_scope"), "{path}: {}", res.body);
    }

    // Managers finalise and record; only owners and admins void, refund and credit.
    app.post(&manager_key, &format!("/v1/invoices/{my_id}/finalize"), json!({})).await;
    let payment = id(&pay(&app, &manager_key, my_id, 4500).await);
    for (path, body) in [
        (format!("/v1/invoices/{theirs_id}/void"), json!({})),
        (format!("/v1/payments/{payment}/refunds"), json!({"amount": 100})),
        (format!("/v1/invoices/{my_id}/credit-notes"), json!({"amount": 100})),
    ] {
        let res = app.confirmed(&manager_key, Method::POST, &path, Some(body)).await;
        assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "forbidden"), "{path}: {}", res.body);
    }
    assert_ledger_matches(&app, s.org.id).await;
}

#[tokio::test]
async fn an_agent_key_voids_refunds_and_credits_only_after_a_confirmed_preview() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    app.without_approvals(&org).await;
    let customer = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let agent =
        app.confirmed(&org.key, Method::POST, "/v1/api-keys", Some(json!({"name": "agent", "kind": "agent"}))).await;
    let agent = agent.body["apiKey"].as_str().unwrap().to_string();
    let to_void = open_invoice(&app, &org, &customer, 1000).await;
    let paid = open_invoice(&app, &org, &customer, 2000).await;
    let payment = id(&pay(&app, &org.key, &paid, 2000).await);
    for (path, body, what) in [
        (format!("/v1/invoices/{to_void}/void"), json!({}), "void"),
        (format!("/v1/payments/{payment}/refunds"), json!({"amount": 500}), "refund"),
        (format!("/v1/invoices/{paid}/credit-notes"), json!({"amount": 300, "refundExcess": true}), "credit"),
    ] {
        let before = app.fingerprint(org.id).await;
        let first = app.post(&agent, &path, body.clone()).await;
        assert_eq!(
            (first.status, first.code()),
            (StatusCode::PRECONDITION_REQUIRED, "confirmation_required"),
            "{what}: {}",
            first.body
        );
        match what {
            "refund" => {
                assert_eq!(amount(&first.body["preview"]["effect"]["refund"]), 500, "{}", first.body);
                assert_eq!(first.body["preview"]["effect"]["invoiceStatusAfter"], "open");
            }
            // The refund reopened 500: the credit lowers that first, and moves no money.
            "credit" => {
                let effect = &first.body["preview"]["effect"];
                assert_eq!((amount(&effect["appliedToAmountDue"]), amount(&effect["refunded"])), (300, 0), "{effect}");
                assert_eq!(amount(&effect["invoiceAmountDueAfter"]), 200);
            }
            _ => assert_eq!(first.body["preview"]["target"]["status"], "open", "{}", first.body),
        }
        // Nothing happened but the token (a confirmation row).
        assert_ne!(app.fingerprint(org.id).await, before);
        let token = first.body["confirmationToken"].as_str().unwrap();
        let res = app.call_with(Some(&agent), Method::POST, &path, Some(body), &[("Confirmation-Token", token)]).await;
        assert!(res.status.is_success(), "{what}: {} {}", res.status, res.body);
    }
    let b = invoice(&app, &org.key, &paid).await;
    assert_eq!((amount(&b["amountPaid"]), amount(&b["amountCredited"]), amount(&b["amountDue"])), (1500, 300, 200));
    assert_eq!(invoice(&app, &org.key, &to_void).await["status"], "void");
    assert_ledger_matches(&app, org.id).await;
}

#[tokio::test]
async fn invoices_are_listed_by_status_customer_overdue_and_issue_date() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let ben = app.customer(&org, json!({"name": "Ben"})).await.to_string();
    // Dates are the organisation's (London), counted from its today.
    let today = app.get(&org.key, "/v1/organisation").await.body["today"].as_str().unwrap().to_string();
    let in_days = |n: i64| today.parse::<chrono::NaiveDate>().unwrap() + chrono::Duration::days(n);
    let make = |customer: String, due: String| {
        let (app, org) = (&app, &org);
        async move {
            let res = app
                .post(
                    &org.key,
                    "/v1/invoices",
                    json!({"customerId": customer, "dueDate": due, "lines": [{"description": "x", "unitAmount": 100}]}),
                )
                .await;
            let invoice = id(&res);
            app.post(&org.key, &format!("/v1/invoices/{invoice}/finalize"), json!({})).await;
            invoice
        }
    };
    let late = make(amy.clone(), in_days(-1).to_string()).await;
    let due_today = make(amy.clone(), today.clone()).await;
    let bens = make(ben.clone(), in_days(10).to_string()).await;
    pay(&app, &org.key, &bens, 100).await;
    let draft_id = id(&draft(&app, &org, &amy, "USD", json!([])).await);
    let ids = |path: &str| {
        let (app, key, path) = (&app, &org.key, path.to_string());
        async move {
            let res = app.get(key, &path).await;
            assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
            res.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids("/v1/invoices?overdue=true").await, std::slice::from_ref(&late));
    assert_eq!(invoice(&app, &org.key, &late).await["overdue"], true);
    assert_eq!(invoice(&app, &org.key, &due_today).await["overdue"], false);
    assert_eq!(ids("/v1/invoices?status=draft").await, std::slice::from_ref(&draft_id));
    assert_eq!(ids("/v1/invoices?status=paid").await, std::slice::from_ref(&bens));
    assert_eq!(ids(&format!("/v1/invoices?customerId={ben}")).await, std::slice::from_ref(&bens));
    assert_eq!(ids(&format!("/v1/invoices?dueBefore={today}")).await, std::slice::from_ref(&late));
    assert_eq!(ids(&format!("/v1/invoices?from={today}&to={today}")).await.len(), 4);
    assert!(ids(&format!("/v1/invoices?from={}", in_days(1))).await.is_empty());
    // Pages follow the cursor, newest first.
    let first = app.get(&org.key, "/v1/invoices?limit=3").await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 3);
    let cursor = first.body["nextCursor"].as_str().unwrap();
    assert_eq!(ids(&format!("/v1/invoices?limit=3&cursor={cursor}")).await, [late]);
    let res = app.get(&org.key, &format!("/v1/invoices?from={today}&to={}", in_days(-1))).await;
    assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "range_end_before_start"));
}

#[tokio::test]
async fn completed_late_cancelled_and_no_show_bookings_reach_invoices_as_their_service_says() {
    use crate::bookings::{at, every_day, in_days};
    let app = TestApp::spawn().await;
    let policy =
        json!({"cancellationPolicy": {"freeCancelHours": 48, "lateCancelFeeAmount": 1000, "noShowFeeAmount": 2000}});
    let s = app.studio("Europe/London", every_day(&[("00:00", "24:00")]), policy, 1).await;
    let key = s.org.key.clone();
    let vat = tax_rate(&app, &s.org, "VAT 20%", 2000, false).await;
    let res = app
        .patch(
            &key,
            &format!("/v1/services/{}", s.service),
            json!({"billing": {"taxRateId": vat, "invoiceOnComplete": true, "invoiceFees": true}}),
        )
        .await;
    assert_eq!(
        res.body["billing"],
        json!({"taxRateId": vat, "invoiceOnComplete": true, "invoiceFees": true, "payWithCredits": false})
    );
    let (user, staff_key) = app.add_member(&s.org, "staff", None).await;
    app.patch(&key, &format!("/v1/staff/{}", s.staff[0]), json!({"userId": user.to_string()})).await;
    let day = in_days(1);
    let mut booked = Vec::new();
    for hour in [9, 11, 13, 15, 17] {
        let res = app.book(&key, &s.service, at(s.tz, day, hour, 0), json!({})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        booked.push(res.body["id"].as_str().unwrap().to_string());
    }
    // Two have started (written past the audit trigger, as no request would).
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.bookings set starts_at = starts_at - interval '3 days', ends_at = ends_at - interval '3 days',
                    blocked = tstzrange(lower(blocked) - interval '3 days', upper(blocked) - interval '3 days')
              where id in ('{}', '{}')",
            booked[0], booked[1]
        ))
        .await
        .unwrap();
    app.patch(&key, "/v1/organisation", json!({"billing": {"staffBillingAccess": true}})).await;

    // Staff complete a booking: a draft invoice for its price, with the service's tax, theirs to read.
    let done = app.post(&staff_key, &format!("/v1/bookings/{}/complete", booked[0]), json!({})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let invoice_id = done.body["invoiceId"].as_str().expect("the booking names its invoice").to_string();
    let inv = invoice(&app, &staff_key, &invoice_id).await;
    assert_eq!((inv["status"].as_str(), amount(&inv["total"]), amount(&inv["tax"])), (Some("draft"), 5400, 900));
    assert_eq!(inv["lines"][0]["kind"], "booking");
    assert_eq!(inv["lines"][0]["bookingId"], booked[0].as_str());
    assert_eq!(inv["customerId"], done.body["customerId"]);

    // A no-show: a draft for the fee.
    let no_show =
        app.confirmed(&staff_key, Method::POST, &format!("/v1/bookings/{}/no-show", booked[1]), Some(json!({}))).await;
    assert_eq!(no_show.status, StatusCode::OK, "{}", no_show.body);
    let inv = invoice(&app, &key, no_show.body["invoiceId"].as_str().unwrap()).await;
    assert_eq!(inv["lines"][0]["kind"], "fee");
    assert!(inv["lines"][0]["description"].as_str().unwrap().starts_with("No-show fee: Cut"), "{inv}");
    assert_eq!(amount(&inv["lines"][0]["amount"]), 2000);

    // A late cancellation: a draft for its fee.
    let cancelled =
        app.confirmed(&key, Method::POST, &format!("/v1/bookings/{}/cancel", booked[2]), Some(json!({}))).await;
    assert_eq!((cancelled.body["lateCancel"].as_bool(), amount(&cancelled.body["fee"])), (Some(true), 1000));
    let inv = invoice(&app, &key, cancelled.body["invoiceId"].as_str().unwrap()).await;
    assert!(inv["lines"][0]["description"].as_str().unwrap().starts_with("Late cancellation fee: Cut"), "{inv}");

    // With the setting off, a manager bills fees by hand, finalised at once.
    app.patch(&key, &format!("/v1/services/{}", s.service), json!({"billing": {"invoiceFees": false}})).await;
    let cancelled =
        app.confirmed(&key, Method::POST, &format!("/v1/bookings/{}/cancel", booked[3]), Some(json!({}))).await;
    assert!(cancelled.body["invoiceId"].is_null(), "{}", cancelled.body);
    let (_, manager_key) = app.add_member(&s.org, "manager", None).await;
    let billed =
        app.post(&manager_key, "/v1/invoices/booking-fees", json!({"bookingIds": [booked[3]], "finalize": true})).await;
    assert_eq!(billed.status, StatusCode::CREATED, "{}", billed.body);
    assert_eq!(
        (billed.body["status"].as_str(), amount(&billed.body["total"])),
        (Some("open"), 1200),
        "{}",
        billed.body
    );
    assert!(billed.body["number"].as_str().unwrap().starts_with("INV-"));
    let booking = app.get(&key, &format!("/v1/bookings/{}", booked[3])).await;
    assert_eq!(booking.body["invoiceId"], billed.body["id"]);
    let again = app.post(&manager_key, "/v1/invoices/booking-fees", json!({"bookingIds": [booked[3]]})).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "booking_already_invoiced"), "{}", again.body);
    // A booking without a fee cannot be billed one; nothing is left behind.
    let drafts = app.count("app.invoices", Some(s.org.id)).await;
    let res = app.post(&manager_key, "/v1/invoices/booking-fees", json!({"bookingIds": [booked[4]]})).await;
    assert_eq!(
        (res.status, res.code(), res.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "no_fee", "bookingIds[0].bookingId")
    );
    assert_eq!(app.count("app.invoices", Some(s.org.id)).await, drafts);
    // Staff never bill fees themselves.
    let res = app.post(&staff_key, "/v1/invoices/booking-fees", json!({"bookingIds": [booked[2]]})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn concurrent_payments_and_refunds_never_take_more_than_is_owed_or_was_paid() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    app.without_approvals(&org).await;
    let customer = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let inv = open_invoice(&app, &org, &customer, 5000).await;
    let paid = futures_util::future::join_all((0..10).map(|_| pay(&app, &org.key, &inv, 1000))).await;
    let (accepted, refused): (Vec<&Res>, Vec<&Res>) = paid.iter().partition(|r| r.status == StatusCode::CREATED);
    assert_eq!(accepted.len(), 5, "{:?}", paid.iter().map(|r| r.status).collect::<Vec<_>>());
    // Refused as more than is owed, or, once paid, as a payment to a paid invoice.
    assert!(
        refused.iter().all(|r| ["overpayment", "invalid_invoice_state"].contains(&r.code())),
        "{:?}",
        refused.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let b = invoice(&app, &org.key, &inv).await;
    assert_eq!((b["status"].as_str(), amount(&b["amountPaid"]), amount(&b["amountDue"])), (Some("paid"), 5000, 0));

    let payment = accepted[0].body["id"].as_str().unwrap().to_string();
    let path = format!("/v1/payments/{payment}/refunds");
    let refunds = futures_util::future::join_all(
        (0..4).map(|_| app.confirmed(&org.key, Method::POST, &path, Some(json!({"amount": 400})))),
    )
    .await;
    let done = refunds.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(done, 2, "{:?}", refunds.iter().map(|r| (r.status, r.code().to_string())).collect::<Vec<_>>());
    assert!(refunds.iter().filter(|r| r.status != StatusCode::OK).all(|r| r.code() == "refund_exceeds_payment"));
    let p = app.get(&org.key, &format!("/v1/payments/{payment}")).await;
    assert_eq!(amount(&p.body["amountRefunded"]), 800);
    assert_eq!(amount(&invoice(&app, &org.key, &inv).await["amountDue"]), 800);
    assert_ledger_matches(&app, org.id).await;
}

#[tokio::test]
async fn a_booking_freed_from_its_invoice_by_removing_the_line_or_voiding_can_be_billed_again() {
    use crate::bookings::{at, every_day, in_days};
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let key = s.org.key.clone();
    let booked = app.book(&key, &s.service, at(s.tz, in_days(2), 10, 0), json!({})).await;
    let (booking, customer) = (booked.body["id"].clone(), booked.body["customerId"].clone());
    let bill = || {
        let (app, key, booking, customer) = (&app, &key, &booking, &customer);
        async move {
            app.post(key, "/v1/invoices", json!({"customerId": customer, "lines": [{"bookingId": booking}]})).await
        }
    };
    let linked = |invoice: Value| {
        let (app, key, booking) = (&app, &key, &booking);
        async move {
            let b = app.get(key, &format!("/v1/bookings/{}", booking.as_str().unwrap())).await;
            assert_eq!(b.body["invoiceId"], invoice, "{}", b.body);
        }
    };
    let first = bill().await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    linked(first.body["id"].clone()).await;
    // Removing the line frees the booking.
    let line = first.body["lines"][0]["id"].as_str().unwrap();
    let res = app.delete(&key, &format!("/v1/invoices/{}/lines/{line}", first.body["id"].as_str().unwrap())).await;
    assert_eq!((res.status, amount(&res.body["total"])), (StatusCode::OK, 0), "{}", res.body);
    linked(Value::Null).await;
    // Billed again and finalised, it is held until that invoice is voided.
    let second = bill().await;
    let second_id = second.body["id"].as_str().unwrap().to_string();
    app.post(&key, &format!("/v1/invoices/{second_id}/finalize"), json!({})).await;
    assert_eq!(bill().await.code(), "booking_already_invoiced");
    let voided = app.confirmed(&key, Method::POST, &format!("/v1/invoices/{second_id}/void"), Some(json!({}))).await;
    assert_eq!(voided.body["status"], "void", "{}", voided.body);
    assert!(voided.body["number"].is_string(), "a void invoice keeps its number: no gap");
    linked(Value::Null).await;
    let third = bill().await;
    assert_eq!(third.status, StatusCode::CREATED, "{}", third.body);
    linked(third.body["id"].clone()).await;
    // A booking is billed to its own customer only.
    let other = app.customer(&s.org, json!({"name": "Someone else"})).await.to_string();
    let res = app.post(&key, "/v1/invoices", json!({"customerId": other, "lines": [{"bookingId": booking}]})).await;
    assert_eq!(
        (res.status, res.code(), res.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "booking_customer_mismatch", "lines[0].bookingId")
    );
}

/// Every currency a country of `app.country` uses (an organisation's default) is one billing
/// knows the minor units of.
#[test]
fn every_countrys_currency_has_known_minor_units() {
    let common = include_str!("../../sql/operations/common.sql");
    let billing = include_str!("../../sql/operations/billing.sql");
    let start = billing.find("create function app.currency_exponent").unwrap();
    let end = billing.find("comment on function app.currency_exponent").unwrap();
    let known = &billing[start..end];
    let mut missing = Vec::new();
    for line in common.lines().filter(|l| l.trim_start().starts_with("('")) {
        let fields: Vec<&str> = line.split("', '").collect();
        if let Some(currency) = fields.get(2).filter(|c| c.len() == 3)
            && !known.contains(&format!("'{currency}'"))
        {
            missing.push(currency.to_string());
        }
    }
    assert!(missing.is_empty(), "currencies without minor units in app.currency_exponent: {missing:?}");
}
