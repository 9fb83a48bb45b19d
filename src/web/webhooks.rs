//! Events providers send: Stripe's, signed with the organisation's webhook secret, at
//! `POST /v1/webhooks/stripe/{orgId}`. The signature is checked here (HMAC-SHA256, constant
//! time, five minutes' tolerance) and again in the database with the secret used; the event is
//! then recorded once however often Stripe delivers it. A refused event is a 400 (Stripe shows
//! it and retries); one that cannot be handled now is a 5xx (Stripe retries later).

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use http::StatusCode;
use uuid::Uuid;

use crate::call::AppState;
use crate::call::payments::{WEBHOOK_SECRET, decode_base64};
use crate::db::tx;
use crate::effects::stripe::{SignatureError, verify_signature};
use crate::error::ApiError;

fn refused(code: &str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, detail)
}

pub async fn stripe(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request_id = req.extensions().get::<super::request::RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let org: Uuid = path.parse().map_err(|_| refused("invalid_signature", "No Stripe connection at this address."))?;
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refused("missing_signature", "The Stripe-Signature header is missing."))?
        .to_string();
    let payload =
        std::str::from_utf8(&body).map_err(|_| refused("invalid_payload", "The event is not UTF-8 JSON."))?.to_string();
    let payments = state.payments.as_deref().ok_or_else(|| ApiError::internal("payments are not configured"))?;
    let sealed =
        tx::run_anonymous(&state.pool, "stripe_webhook", &request_id, "select auth.stripe_webhook_secret($1)", &[&org])
            .await?;
    let Some(sealed) = sealed["sealed"].as_str().and_then(|s| decode_base64(s).ok()) else {
        return Err(refused("invalid_signature", "No Stripe connection at this address."));
    };
    let secret = payments.secrets.open(org, WEBHOOK_SECRET, &sealed).map_err(|e| {
        tracing::error!(error = %e, %org, "the stored webhook secret does not open");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "secrets_unavailable", "The event cannot be checked now.")
    })?;
    match verify_signature(&secret, &header, &body, chrono::Utc::now().timestamp()) {
        Ok(()) => {}
        Err(SignatureError::Expired) => {
            return Err(refused("signature_expired", "The event's timestamp is not within five minutes of now."));
        }
        Err(SignatureError::Malformed | SignatureError::Mismatch) => {
            return Err(refused("invalid_signature", "The Stripe-Signature header does not match the event."));
        }
    }
    if serde_json::from_str::<serde_json::Value>(&payload).is_err() {
        return Err(refused("invalid_payload", "The event is not JSON."));
    }
    let recorded = tx::run_anonymous(
        &state.pool,
        "stripe_webhook",
        &request_id,
        "select auth.record_stripe_event($1, $2, $3, $4)",
        &[&org, &payload, &header, &secret],
    )
    .await
    .map_err(|e| match e.code.as_str() {
        "invalid_signature" | "signature_expired" => refused(&e.code, "The event's signature was refused."),
        _ => e,
    })?;
    Ok(HttpResponse::Ok().json(recorded))
}

/// Where Stripe sends a payer back after paying.
pub async fn paid_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"))
        .body(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
             content=\"width=device-width, initial-scale=1\"><title>Payment received</title></head><body \
             style=\"font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem\">\
             <h1>Thank you</h1><p>Your payment was received. You can close this page.</p></body></html>",
        )
}
