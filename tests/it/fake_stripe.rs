//! A local fake of the parts of Stripe's API favcrm calls, answering in Stripe's shapes:
//! `POST /v1/checkout/sessions` and `POST /v1/refunds` (form-encoded, `Authorization: Bearer
//! sk_…`, `Idempotency-Key`), with Stripe's error body for a refused call. The ids it answers
//! with are derived from the Idempotency-Key, as Stripe would answer a repeated call with the
//! first result. Events are signed as Stripe signs them (`favcrm::effects::stripe::sign`).

use std::collections::HashMap;

use serde_json::{Value, json};
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A payment intent whose refunds the fake refuses, as Stripe refuses a refund of a disputed charge.
pub const REFUSING_INTENT: &str = "pi_refuses_refunds";

fn form(request: &Request) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(&request.body).unwrap_or_default().into_iter().collect()
}

fn idempotency_key(request: &Request) -> String {
    request.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("none").replace('-', "")
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {"type": "invalid_request_error", "code": code, "message": message}
    }))
}

struct CheckoutSessions;

impl Respond for CheckoutSessions {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let f = form(request);
        let Some(amount) = f.get("line_items[0][price_data][unit_amount]").and_then(|a| a.parse::<i64>().ok()) else {
            return error(400, "parameter_missing", "Missing required param: line_items[0][price_data][unit_amount].");
        };
        if !f.contains_key("success_url") {
            return error(400, "parameter_missing", "Missing required param: success_url.");
        }
        let id = format!("cs_test_{}", idempotency_key(request));
        let metadata: serde_json::Map<String, Value> = f
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("metadata[")?.strip_suffix(']')?.to_string(), json!(v))))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id,
            "object": "checkout.session",
            "amount_total": amount,
            "currency": f.get("line_items[0][price_data][currency]"),
            "client_reference_id": f.get("client_reference_id"),
            "customer_email": f.get("customer_email"),
            "expires_at": 4_102_444_800i64,
            "livemode": false,
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": null,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": f.get("success_url"),
            "url": format!("https://checkout.stripe.com/c/pay/{id}"),
        }))
    }
}

struct Refunds;

impl Respond for Refunds {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let f = form(request);
        let intent = f.get("payment_intent").cloned().unwrap_or_default();
        if intent == REFUSING_INTENT {
            return error(400, "charge_disputed", "This charge has been disputed and cannot be refunded.");
        }
        let Some(amount) = f.get("amount").and_then(|a| a.parse::<i64>().ok()) else {
            return error(400, "parameter_invalid_integer", "Invalid integer: amount.");
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "id": format!("re_{}", idempotency_key(request)),
            "object": "refund",
            "amount": amount,
            "currency": "gbp",
            "payment_intent": intent,
            "metadata": {"favcrm_refund_id": f.get("metadata[favcrm_refund_id]")},
            "status": "succeeded",
        }))
    }
}

/// A fake Stripe, running until dropped.
pub async fn start() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header_exists("authorization"))
        .and(header_exists("idempotency-key"))
        .respond_with(CheckoutSessions)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header_exists("authorization"))
        .and(header_exists("idempotency-key"))
        .respond_with(Refunds)
        .mount(&server)
        .await;
    server
}

/// The form fields of a request the fake received.
pub fn fields(request: &Request) -> HashMap<String, String> {
    form(request)
}
