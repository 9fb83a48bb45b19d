//! Commerce: products with SKUs and stock levels kept as a ledger of movements.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::billing::id;
use crate::common::{Org, Res, TestApp};

async fn adjust(app: &TestApp, key: &str, product: &str, body: Value) -> Res {
    app.post(key, &format!("/v1/products/{product}/stock-movements"), body).await
}

/// A product that tracks stock (10 received, 3 reserved by the orders), a customer and three
/// open orders.
pub struct CommerceFixture {
    pub product: String,
    pub customer: String,
    pub to_pay: String,
    pub to_fulfil: String,
    pub to_cancel: String,
    pub promotion: String,
}

async fn order(app: &TestApp, key: &str, customer: &str, product: &str, quantity: i64) -> Res {
    app.post(
        key,
        "/v1/orders",
        json!({"customerId": customer, "lines": [{"productId": product, "quantity": quantity}]}),
    )
    .await
}

pub async fn commerce_fixture(app: &TestApp, org: &Org) -> CommerceFixture {
    let res = app
        .post(
            &org.key,
            "/v1/products",
            json!({"name": "Fixture shampoo", "sku": "FIX-1", "price": {"amount": 1500}, "trackStock": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let product = id(&res);
    let res = adjust(app, &org.key, &product, json!({"quantity": 10, "reason": "received"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let customer = app.customer(org, json!({"name": "Shopper"})).await.to_string();
    let mut orders = Vec::new();
    for _ in 0..3 {
        let res = order(app, &org.key, &customer, &product, 1).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        orders.push(id(&res));
    }
    let promotion = app
        .post(&org.key, "/v1/promotions", json!({"code": "fix10", "percentOffBp": 1000, "description": "Fixture"}))
        .await;
    assert_eq!(promotion.status, StatusCode::CREATED, "{}", promotion.body);
    CommerceFixture {
        promotion: id(&promotion),
        product,
        customer,
        to_pay: orders[0].clone(),
        to_fulfil: orders[1].clone(),
        to_cancel: orders[2].clone(),
    }
}

/// A valid input for each commerce operation, naming the fixture's records.
pub fn commerce_sample(op: &str, f: &CommerceFixture) -> Option<Value> {
    Some(match op {
        "create_product" => {
            json!({"name": "Sample conditioner", "sku": "sample-1", "price": {"amount": 1200}, "trackStock": true})
        }
        "update_product" => json!({"productId": f.product, "name": "Fixture shampoo (large)"}),
        "get_product" | "list_stock_movements" => json!({"productId": f.product}),
        "list_products" => json!({}),
        "adjust_stock" => json!({"productId": f.product, "quantity": 5, "reason": "received", "note": "delivery"}),
        "create_order" => json!({"customerId": f.customer, "lines": [{"productId": f.product, "quantity": 1}]}),
        "get_order" | "pay_order" => json!({"orderId": f.to_pay}),
        "list_orders" => json!({}),
        "fulfil_order" => json!({"orderId": f.to_fulfil}),
        "cancel_order" => json!({"orderId": f.to_cancel}),
        "create_promotion" => {
            json!({"code": "SAMPLE20", "percentOffBp": 2000, "appliesTo": ["products"], "maxRedemptions": 100})
        }
        "list_promotions" => json!({}),
        "deactivate_promotion" => json!({"promotionId": f.promotion}),
        _ => return None,
    })
}

#[tokio::test]
async fn skus_are_unique_per_organisation_whatever_their_case() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let other = app.create_org("Other").await;
    let body = json!({"name": "Shampoo", "sku": "sh-500", "price": {"amount": 1500}});
    let first = app.post(&org.key, "/v1/products", body.clone()).await;
    assert_eq!((first.status, first.body["sku"].as_str()), (StatusCode::CREATED, Some("SH-500")), "{}", first.body);
    let mut again = body.clone();
    again["sku"] = json!("SH-500");
    let res = app.post(&org.key, "/v1/products", again).await;
    assert_eq!((res.status, res.code(), res.field()), (StatusCode::CONFLICT, "sku_taken", "sku"), "{}", res.body);
    // Another organisation's SKUs are its own.
    assert_eq!(app.post(&other.key, "/v1/products", body).await.status, StatusCode::CREATED);
    // Found by its SKU; renamed; archived products leave the list until asked for.
    let found = app.get(&org.key, "/v1/products?q=sh-500").await;
    assert_eq!(found.body["items"][0]["id"], first.body["id"], "{}", found.body);
    let product = id(&first);
    let res = app.patch(&org.key, &format!("/v1/products/{product}"), json!({"status": "archived"})).await;
    assert_eq!(res.body["status"], "archived", "{}", res.body);
    assert!(app.get(&org.key, "/v1/products").await.body["items"].as_array().unwrap().is_empty());
    assert_eq!(app.get(&org.key, "/v1/products?includeArchived=true").await.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn stock_is_the_sum_of_its_movements_and_never_goes_below_zero_under_concurrency() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let f = commerce_fixture(&app, &org).await;
    let product = f.product.clone();
    // 30 concurrent removals of one against the 7 left in stock: exactly 7 happen.
    let results = futures_util::future::join_all(
        (0..30).map(|_| adjust(&app, &org.key, &product, json!({"quantity": -1, "reason": "damaged"}))),
    )
    .await;
    let done = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(done, 7, "{:?}", results.iter().map(|r| (r.status, r.code().to_string())).collect::<Vec<_>>());
    let refused = results.iter().find(|r| r.status != StatusCode::CREATED).unwrap();
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "insufficient_stock"), "{}", refused.body);
    let p = app.get(&org.key, &format!("/v1/products/{product}")).await;
    assert_eq!(p.body["stockOnHand"], 0, "{}", p.body);
    // A stocktake sets the level, recorded as the difference.
    let counted = adjust(&app, &org.key, &product, json!({"countedQuantity": 7, "note": "stocktake"})).await;
    assert_eq!(counted.body["stockOnHand"], 7, "{}", counted.body);
    let movements = app.get(&org.key, &format!("/v1/products/{product}/stock-movements?limit=1")).await;
    assert_eq!(movements.body["items"][0]["reason"], "count");
    assert_eq!(movements.body["items"][0]["quantity"], 7);
    let admin = app.admin().await;
    let (ledger, rows): (i64, i64) = {
        let row = admin
            .query_one(
                "select coalesce(sum(quantity), 0)::bigint, count(*) from app.stock_movements where org_id = $1",
                &[&org.id],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((ledger, rows), (7, 12), "10 received, 3 reserved, 7 removed, one count");
    // Both a change and a count at once is refused; an untracked product has no stock.
    let res = adjust(&app, &org.key, &product, json!({"quantity": 1, "countedQuantity": 3})).await;
    assert_eq!((res.status, res.code()), (StatusCode::UNPROCESSABLE_ENTITY, "quantity_or_count"));
    let untracked =
        id(&app.post(&org.key, "/v1/products", json!({"name": "Gift card", "price": {"amount": 5000}})).await);
    let res = adjust(&app, &org.key, &untracked, json!({"quantity": 1})).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "stock_not_tracked"));
    assert!(app.get(&org.key, &format!("/v1/products/{untracked}")).await.body["stockOnHand"].is_null());
}

#[tokio::test]
async fn staff_read_products_and_stock_but_only_managers_change_them() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let f = commerce_fixture(&app, &org).await;
    let (_, staff) = app.add_member(&org, "staff", None).await;
    let res = app.get(&staff, &format!("/v1/products/{}", f.product)).await;
    assert_eq!((res.status, res.body["stockOnHand"].as_i64()), (StatusCode::OK, Some(7)), "{}", res.body);
    let res = adjust(&app, &staff, &f.product, json!({"quantity": -1})).await;
    assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "insufficient_scope"), "{}", res.body);
    let res =
        app.call(Some(&staff), Method::PATCH, &format!("/v1/products/{}", f.product), Some(json!({"name": "x"}))).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let (_, manager) = app.add_member(&org, "manager", None).await;
    let res = adjust(&app, &manager, &f.product, json!({"quantity": -2, "reason": "damaged"})).await;
    assert_eq!((res.status, res.body["stockOnHand"].as_i64()), (StatusCode::CREATED, Some(5)), "{}", res.body);
    // Staff read orders but do not take them.
    assert_eq!(app.get(&staff, &format!("/v1/orders/{}", f.to_pay)).await.status, StatusCode::OK);
    let res = order(&app, &staff, &f.customer, &f.product, 1).await;
    assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "insufficient_scope"));
}

#[tokio::test]
async fn thirty_concurrent_orders_for_ten_items_sell_exactly_ten_and_a_cancel_restocks() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let product = id(&app
        .post(&org.key, "/v1/products", json!({"name": "Candle", "price": {"amount": 2500}, "trackStock": true}))
        .await);
    adjust(&app, &org.key, &product, json!({"quantity": 10, "reason": "received"})).await;
    let customer = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let results = futures_util::future::join_all((0..30).map(|_| order(&app, &org.key, &customer, &product, 1))).await;
    let made: Vec<&Res> = results.iter().filter(|r| r.status == StatusCode::CREATED).collect();
    assert_eq!(made.len(), 10, "{:?}", results.iter().map(|r| (r.status, r.code().to_string())).collect::<Vec<_>>());
    let refused = results.iter().find(|r| r.status != StatusCode::CREATED).unwrap();
    assert_eq!((refused.code(), refused.field()), ("insufficient_stock", "lines[0].quantity"), "{}", refused.body);
    assert_eq!(refused.body["stockOnHand"], 0);
    assert_eq!(app.get(&org.key, &format!("/v1/products/{product}")).await.body["stockOnHand"], 0);
    // A failed order leaves nothing behind.
    assert_eq!(app.count("app.orders", Some(org.id)).await, 10);
    // Cancelling an order puts its stock back, once.
    let cancelled = id(made[0]);
    let path = format!("/v1/orders/{cancelled}/cancel");
    for _ in 0..2 {
        let res = app.confirmed(&org.key, Method::POST, &path, Some(json!({}))).await;
        assert_eq!(res.body["status"], "cancelled", "{}", res.body);
    }
    assert_eq!(app.get(&org.key, &format!("/v1/products/{product}")).await.body["stockOnHand"], 1);
    let res = app.post(&org.key, &format!("/v1/orders/{cancelled}/pay"), json!({})).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "order_cancelled"));
}

#[tokio::test]
async fn an_order_is_billed_through_an_invoice_taxed_as_its_products_and_paid_there() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let vat = crate::billing::tax_rate(&app, &org, "VAT 20%", 2000, false).await;
    let product = id(&app
        .post(
            &org.key,
            "/v1/products",
            json!({"name": "Candle", "sku": "c-1", "price": {"amount": 2500, "currency": "GBP"}, "taxRateId": vat,
                   "trackStock": true}),
        )
        .await);
    adjust(&app, &org.key, &product, json!({"quantity": 5})).await;
    let customer = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let made = app
        .post(
            &org.key,
            "/v1/orders",
            json!({"customerId": customer, "currency": "GBP", "lines": [{"productId": product, "quantity": 2}]}),
        )
        .await;
    assert_eq!((made.status, made.body["paymentStatus"].as_str()), (StatusCode::CREATED, Some("not_invoiced")));
    assert_eq!(made.body["amount"], json!({"amount": 5000, "currency": "GBP"}));
    let order_id = id(&made);
    let paid = app.post(&org.key, &format!("/v1/orders/{order_id}/pay"), json!({})).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!(paid.body["paymentStatus"], "awaiting_payment");
    assert_eq!(paid.body["amountDue"], json!({"amount": 6000, "currency": "GBP"}), "5000 + 20 %");
    let invoice = paid.body["invoiceId"].as_str().unwrap().to_string();
    // Billing it again gives the same invoice.
    let again = app.post(&org.key, &format!("/v1/orders/{order_id}/pay"), json!({})).await;
    assert_eq!(again.body["invoiceId"], paid.body["invoiceId"]);
    // While its invoice stands the order cannot be cancelled.
    let res = app.confirmed(&org.key, Method::POST, &format!("/v1/orders/{order_id}/cancel"), Some(json!({}))).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "order_invoiced"), "{}", res.body);
    let res = app
        .post(&org.key, "/v1/payments", json!({"invoiceId": invoice, "amount": 6000, "method": "card_terminal"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let done = app.post(&org.key, &format!("/v1/orders/{order_id}/fulfil"), json!({})).await;
    assert_eq!((done.body["status"].as_str(), done.body["paymentStatus"].as_str()), (Some("fulfilled"), Some("paid")));
    let res = app.confirmed(&org.key, Method::POST, &format!("/v1/orders/{order_id}/cancel"), Some(json!({}))).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "order_fulfilled"));
    assert_eq!(app.get(&org.key, &format!("/v1/products/{product}")).await.body["stockOnHand"], 3);
}

async fn order_with_code(app: &TestApp, key: &str, customer: &str, product: &str, quantity: i64, code: &str) -> Res {
    app.post(
        key,
        "/v1/orders",
        json!({"customerId": customer, "lines": [{"productId": product, "quantity": quantity}], "promotionCode": code}),
    )
    .await
}

#[tokio::test]
async fn a_promotion_limited_to_ten_is_redeemed_by_exactly_ten_of_thirty_concurrent_orders() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let product = id(&app.post(&org.key, "/v1/products", json!({"name": "Mug", "price": {"amount": 1000}})).await);
    let promo = app
        .post(&org.key, "/v1/promotions", json!({"code": "launch", "percentOffBp": 2500, "maxRedemptions": 10}))
        .await;
    assert_eq!((promo.status, promo.body["code"].as_str()), (StatusCode::CREATED, Some("LAUNCH")), "{}", promo.body);
    let mut customers = Vec::new();
    for i in 0..30 {
        customers.push(app.customer(&org, json!({"name": format!("Buyer {i}")})).await.to_string());
    }
    let results = futures_util::future::join_all(
        customers.iter().map(|c| order_with_code(&app, &org.key, c, &product, 1, "Launch")),
    )
    .await;
    let made: Vec<&Res> = results.iter().filter(|r| r.status == StatusCode::CREATED).collect();
    assert_eq!(made.len(), 10, "{:?}", results.iter().map(|r| (r.status, r.code().to_string())).collect::<Vec<_>>());
    assert!(results.iter().filter(|r| r.status != StatusCode::CREATED).all(|r| r.code() == "promotion_used_up"));
    assert_eq!(made[0].body["discount"]["amount"], 250);
    assert_eq!(made[0].body["amount"]["amount"], 750);
    let listed = app.get(&org.key, "/v1/promotions").await;
    assert_eq!(listed.body["items"][0]["redemptions"], 10, "{}", listed.body);
    // A cancelled order gives its redemption back.
    let path = format!("/v1/orders/{}/cancel", made[0].body["id"].as_str().unwrap());
    app.confirmed(&org.key, Method::POST, &path, Some(json!({}))).await;
    let res = order_with_code(&app, &org.key, &customers[0], &product, 1, "LAUNCH").await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = order_with_code(&app, &org.key, &customers[1], &product, 1, "LAUNCH").await;
    assert_eq!(res.code(), "promotion_used_up");
}

#[tokio::test]
async fn promotion_rules_window_minimum_spend_per_customer_and_amounts_reach_the_invoice() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let vat = crate::billing::tax_rate(&app, &org, "VAT 20%", 2000, false).await;
    let product = id(&app
        .post(&org.key, "/v1/products", json!({"name": "Candle", "price": {"amount": 2000}, "taxRateId": vat}))
        .await);
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let create = |body: Value| {
        let (app, key) = (&app, &org.key);
        async move { app.post(key, "/v1/promotions", body).await }
    };
    assert_eq!(create(json!({"code": "TEN", "percentOffBp": 1000})).await.status, StatusCode::CREATED);
    let taken = create(json!({"code": "ten", "percentOffBp": 500})).await;
    assert_eq!((taken.status, taken.code()), (StatusCode::CONFLICT, "promotion_code_taken"));
    let both = create(json!({"code": "BOTH", "percentOffBp": 500, "amountOff": {"amount": 100}})).await;
    assert_eq!((both.status, both.code()), (StatusCode::UNPROCESSABLE_ENTITY, "percent_or_amount"));
    create(json!({"code": "FIFTEEN", "amountOff": {"amount": 1500}, "minSpend": 3000, "maxPerCustomer": 1})).await;
    create(json!({"code": "OLD", "percentOffBp": 5000, "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2020-02-01T00:00:00Z"}))
        .await;
    let gone = id(&create(json!({"code": "GONE", "percentOffBp": 5000})).await);
    app.post(&org.key, &format!("/v1/promotions/{gone}/deactivate"), json!({})).await;
    for (code, quantity, refusal) in [
        ("NOPE", 1, "unknown_promotion"),
        ("OLD", 1, "promotion_expired"),
        ("GONE", 1, "promotion_inactive"),
        ("FIFTEEN", 1, "below_minimum_spend"),
    ] {
        let res = order_with_code(&app, &org.key, &amy, &product, quantity, code).await;
        assert_eq!((res.code(), res.field()), (refusal, "promotionCode"), "{code}: {}", res.body);
    }
    assert_eq!(app.count("app.orders", Some(org.id)).await, 0, "a refused order leaves nothing");
    // 15.00 off 2 × 20.00: the amount comes off the lines; the invoice taxes what is left.
    let order = order_with_code(&app, &org.key, &amy, &product, 2, "fifteen").await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.body);
    assert_eq!(
        (order.body["discount"]["amount"].as_i64(), order.body["amount"]["amount"].as_i64()),
        (Some(1500), Some(2500))
    );
    let paid = app.post(&org.key, &format!("/v1/orders/{}/pay", id(&order)), json!({})).await;
    assert_eq!(paid.body["amountDue"]["amount"], 3000, "2,500 + 20 %: {}", paid.body);
    let invoice = crate::billing::invoice(&app, &org.key, paid.body["invoiceId"].as_str().unwrap()).await;
    assert_eq!(invoice["discount"]["amount"], 1500);
    // Once per customer.
    let again = order_with_code(&app, &org.key, &amy, &product, 2, "FIFTEEN").await;
    assert_eq!(again.code(), "promotion_limit_reached", "{}", again.body);
}
