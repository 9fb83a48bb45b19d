//! What the call path does around Stripe: sealing the secrets `connect_stripe` is given before
//! they reach the database, and making the calls an operation asked for under `_stripe` once
//! its transaction committed (a payment link's Checkout Session, refunds), then recording what
//! Stripe answered, under the caller's own policies, with `auth.apply_stripe_results`.
//!
//! A replayed request (the same Idempotency-Key) asks again: the calls carry Stripe
//! idempotency keys (the link's or refund's id), so Stripe answers with what it did the first
//! time, and recording an answer twice changes nothing.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{AppState, Payments};
use crate::catalog::Operation;
use crate::db::tx::{self, Call, Caller, Via};
use crate::effects::stripe::StripeError;
use crate::error::ApiError;

/// What the sealed secrets are for (bound into each sealed value).
pub const SECRET_KEY: &str = "stripe_secret_key";
pub const WEBHOOK_SECRET: &str = "stripe_webhook_secret";

fn payments(state: &AppState) -> Result<&super::Payments, ApiError> {
    state.payments.as_deref().ok_or_else(|| ApiError::internal("payments are not configured on this server"))
}

/// `connect_stripe`'s input with the secrets sealed for the caller's organisation: what the
/// database stores (the ciphertexts, a hint of the key, the webhook secret's SHA-256).
pub async fn seal_stripe_secrets(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let payments = payments(state)?;
    let principal = tx::authenticate(&state.pool, call.caller, call.via, call.request_id).await?;
    let key = call.input["secretKey"].as_str().unwrap_or_default();
    let webhook = call.input["webhookSecret"].as_str().unwrap_or_default();
    let hint = key_hint(key);
    Ok(json!({
        "secretKeyCiphertext": STANDARD.encode(payments.secrets.seal(principal.org_id, SECRET_KEY, key)),
        "secretKeyDigest": hex::encode(Sha256::digest(key.as_bytes())),
        "keyHint": hint,
        "livemode": key.contains("_live_"),
        "webhookSecretCiphertext": STANDARD.encode(payments.secrets.seal(principal.org_id, WEBHOOK_SECRET, webhook)),
        "webhookSecretDigest": hex::encode(Sha256::digest(webhook.as_bytes())),
    }))
}

pub use crate::effects::secrets::decode_base64;

/// The kind of a key and its last four characters: `sk_test_…4242`.
fn key_hint(key: &str) -> String {
    let kind: String = key.split('_').take(2).map(|part| format!("{part}_")).collect();
    let last: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{kind}…{last}")
}

/// Makes the Stripe calls of `request`, records the answers and returns the operation's answer
/// as it now stands. A payment link or a refund Stripe refused is a 502 naming Stripe's reason
/// (the refund's amount is back on the payment); a credit note stands, its refused refund
/// moved to the customer's credit balance.
pub async fn perform(
    state: &AppState,
    caller: &Caller,
    via: Via,
    op: &Operation,
    request_id: &str,
    request: &Value,
    body: &Value,
) -> Result<Value, ApiError> {
    let (results, refused) = call_stripe(payments(state)?, request).await?;
    let answered = tx::run_as(
        &state.pool,
        caller,
        via,
        op.name,
        request_id,
        "select auth.apply_stripe_results($1, $2::jsonb, $3::jsonb)",
        &[&op.name, &results, body],
    )
    .await?;
    match refused {
        Some(e) if op.name != "create_credit_note" => {
            Err(ApiError::new(StatusCode::BAD_GATEWAY, "stripe_refused", e.to_string()))
        }
        _ => Ok(answered),
    }
}

/// Makes the Stripe calls of a `_stripe` request with the organisation's own key: what Stripe
/// answered for each (for `auth.apply_stripe_results`), and the first refusal. Stripe out of
/// reach is an error (502 `stripe_unavailable`): nothing is known to have failed, and the same
/// calls may be made again (they carry Stripe idempotency keys).
pub async fn call_stripe(payments: &Payments, request: &Value) -> Result<(Value, Option<StripeError>), ApiError> {
    let org: Uuid =
        request["orgId"].as_str().and_then(|s| s.parse().ok()).ok_or_else(|| ApiError::internal("no orgId"))?;
    let sealed = decode_base64(request["secret"].as_str().unwrap_or_default()).map_err(ApiError::internal)?;
    let secret_key = payments.secrets.open(org, SECRET_KEY, &sealed).map_err(|e| {
        tracing::error!(error = %e, %org, "the stored Stripe key does not open");
        ApiError::new(
            StatusCode::CONFLICT,
            "stripe_reconnect_needed",
            "The stored Stripe key cannot be read with this server's secrets key (was FAVCRM_SECRETS_KEY changed?): \
             an owner must connect Stripe again.",
        )
    })?;
    let success_url = format!("{}/pay/done", payments.public_url);
    let mut results = Vec::new();
    let mut refused: Option<StripeError> = None;
    for call in request["calls"].as_array().into_iter().flatten() {
        let kind = call["kind"].as_str().unwrap_or_default();
        let answer = match kind {
            "checkout_session" => {
                payments.stripe.create_checkout_session(&secret_key, call, &org.to_string(), &success_url).await
            }
            "refund" => payments.stripe.create_refund(&secret_key, call).await,
            other => return Err(ApiError::internal(format!("unknown Stripe call {other}"))),
        };
        let mut result = json!({ "kind": kind, "linkId": call["linkId"], "refundId": call["refundId"] });
        match answer {
            Ok(object) => {
                result["ok"] = json!(true);
                result[if kind == "refund" { "refund" } else { "session" }] = object;
            }
            Err(StripeError::Unreachable(reason)) => {
                // Not known to have failed: the row stays as it is (a link still creating, a
                // refund still pending) and the caller may retry with the same request.
                tracing::warn!(%reason, kind, "Stripe unreachable");
                return Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "stripe_unavailable",
                    format!("Stripe could not be reached ({reason}); nothing was lost: send the same request again."),
                ));
            }
            Err(e @ StripeError::Refused(_)) => {
                result["ok"] = json!(false);
                result["error"] = json!(e.to_string());
                refused.get_or_insert(e);
            }
        }
        results.push(result);
    }
    Ok((Value::Array(results), refused))
}
