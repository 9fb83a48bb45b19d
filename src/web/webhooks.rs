//! Events providers send: Stripe's, signed with the organisation's webhook secret, at
//! `POST /v1/webhooks/stripe/{orgId}`; Twilio's (status callbacks and incoming texts) at
//! `POST /v1/webhooks/twilio/{orgId}`; Meta's WhatsApp webhook at
//! `GET|POST /v1/webhooks/whatsapp/{orgId}`. Each signature is checked here (constant time)
//! and again in the database with the secret used; an event is then recorded once however often
//! it is delivered. A refused event is a 400 (the provider shows it and retries); one that cannot
//! be handled now is a 5xx (the provider retries later).

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use http::StatusCode;
use serde_json::Value;
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

/// The secret that signs a channel's callbacks, opened: None when the channel is not connected.
async fn channel_secret(state: &AppState, org: Uuid, channel: &str) -> Result<Option<(String, Value)>, ApiError> {
    let found: Value = crate::db::in_org(&state.pool, "select auth.channel_callback_secret($1, $2)", &[&org, &channel])
        .await
        .map_err(ApiError::internal)?
        .get::<_, Option<Value>>(0)
        .unwrap_or(Value::Null);
    let (Some(sealed), Some(purpose)) = (found["sealed"].as_str(), found["purpose"].as_str()) else {
        return Ok(None);
    };
    let secrets = state.secrets().map_err(ApiError::internal)?;
    let bytes = decode_base64(sealed).map_err(ApiError::internal)?;
    let secret = secrets.open(org, purpose, &bytes).map_err(|e| {
        tracing::error!(error = %e, %org, channel, "a channel's callback secret does not open");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "secrets_unavailable", "The callback cannot be checked now.")
    })?;
    Ok(Some((secret, found)))
}

/// Applies a checked callback (the database checks the signature again).
async fn record_channel_event(
    state: &AppState,
    org: Uuid,
    channel: &str,
    secret: &str,
    event: &Value,
) -> Result<Value, ApiError> {
    let mut client = state.pool.get().await.map_err(ApiError::unavailable)?;
    let tx = client.transaction().await.map_err(|e| crate::error::from_db_error(&e))?;
    tx.batch_execute("set local role favcrm_member").await.map_err(|e| crate::error::from_db_error(&e))?;
    let row = tx
        .query_one("select auth.record_channel_event($1, $2, $3, $4)", &[&org, &channel, &secret, event])
        .await
        .map_err(|e| match crate::error::from_db_error(&e) {
            e if e.code == "invalid_signature" => refused("invalid_signature", "The callback's signature was refused."),
            e => e,
        })?;
    tx.commit().await.map_err(|e| crate::error::from_db_error(&e))?;
    Ok(row.get(0))
}

/// `POST /v1/webhooks/twilio/{orgId}`: Twilio's status callbacks and incoming texts, signed
/// with the account's auth token (`X-Twilio-Signature` over the URL Twilio called and its form
/// parameters). Answered with an empty TwiML response (no automatic reply).
pub async fn twilio(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let org: Uuid = path.parse().map_err(|_| refused("invalid_signature", "No sms channel at this address."))?;
    let header = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refused("missing_signature", "The X-Twilio-Signature header is missing."))?
        .to_string();
    let params: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| refused("invalid_payload", "The callback is not a form."))?;
    let Some((secret, _)) = channel_secret(&state, org, "sms").await? else {
        return Err(refused("invalid_signature", "No sms channel at this address."));
    };
    let public = state.payments.as_deref().map(|p| p.public_url.clone()).unwrap_or_default();
    let url = format!("{public}{}", req.uri().path_and_query().map_or(req.path(), |pq| pq.as_str()));
    if !crate::effects::sms::verify(&secret, &url, &params, &header) {
        return Err(refused("invalid_signature", "The X-Twilio-Signature header does not match the request."));
    }
    let form: serde_json::Map<String, Value> =
        params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let event = serde_json::json!({ "url": url, "params": form, "signature": header });
    record_channel_event(&state, org, "sms", &secret, &event).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/xml")
        .body("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"))
}

#[derive(Debug, serde::Deserialize)]
pub struct HubChallenge {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET /v1/webhooks/whatsapp/{orgId}`: Meta's subscription check, answered with the challenge
/// when the verify token is the one given to connect_channel.
pub async fn whatsapp_subscribe(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<HubChallenge>,
) -> Result<HttpResponse, ApiError> {
    let forbidden = || ApiError::new(StatusCode::FORBIDDEN, "invalid_verify_token", "The verify token does not match.");
    let org: Uuid = path.parse().map_err(|_| forbidden())?;
    let (Some("subscribe"), Some(token), Some(challenge)) =
        (query.mode.as_deref(), query.verify_token.as_deref(), query.challenge.as_deref())
    else {
        return Err(refused("invalid_request", "Expected hub.mode=subscribe, hub.verify_token and hub.challenge."));
    };
    let Some((_, found)) = channel_secret(&state, org, "whatsapp").await? else {
        return Err(forbidden());
    };
    let given = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
    let stored = found["verifyTokenDigest"].as_str().unwrap_or_default();
    let same = given.len() == stored.len() && given.bytes().zip(stored.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
    if !same {
        return Err(forbidden());
    }
    Ok(HttpResponse::Ok().content_type("text/plain").body(challenge.to_string()))
}

/// `POST /v1/webhooks/whatsapp/{orgId}`: Meta's webhook calls (message statuses, messages from
/// customers), signed with the app secret (`X-Hub-Signature-256` over the raw body).
pub async fn whatsapp(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let org: Uuid = path.parse().map_err(|_| refused("invalid_signature", "No whatsapp channel at this address."))?;
    let header = req
        .headers()
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refused("missing_signature", "The X-Hub-Signature-256 header is missing."))?
        .to_string();
    let payload = std::str::from_utf8(&body).map_err(|_| refused("invalid_payload", "The call is not UTF-8 JSON."))?;
    let Some((secret, _)) = channel_secret(&state, org, "whatsapp").await? else {
        return Err(refused("invalid_signature", "No whatsapp channel at this address."));
    };
    if !crate::effects::whatsapp::verify(&secret, &body, &header) {
        return Err(refused("invalid_signature", "The X-Hub-Signature-256 header does not match the body."));
    }
    if serde_json::from_str::<Value>(payload).is_err() {
        return Err(refused("invalid_payload", "The call is not JSON."));
    }
    let event = serde_json::json!({ "body": payload, "signature": header });
    let recorded = record_channel_event(&state, org, "whatsapp", &secret, &event).await?;
    Ok(HttpResponse::Ok().json(recorded))
}
