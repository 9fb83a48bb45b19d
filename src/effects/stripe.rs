//! Stripe, through its HTTP API with the organisation's own secret key: Checkout Sessions for
//! payment links, refunds, and the check of the `Stripe-Signature` header on the events Stripe
//! sends. The API base is a setting (`FAVCRM_STRIPE_API_BASE`), so tests point it at a local
//! fake that answers as Stripe does; this client is the one used in production.
//!
//! Each call carries an `Idempotency-Key` (the payment link's or the refund's id): if the
//! answer is lost and the call is made again, Stripe answers with the first result instead
//! of making a second session or refund.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Stripe and the secrets its keys are kept under.
#[derive(Debug, Clone)]
pub struct PaymentSettings {
    /// Where Stripe's API is (tests point it at a local fake).
    pub stripe_api_base: String,
    /// The address people reach this server at, for the pages Stripe sends payers back to.
    /// None: the address it listens on.
    pub public_url: Option<String>,
    /// The key provider secrets are sealed under (base64 of 32 bytes). None: the data
    /// folder's `secrets.key`, generated on first start.
    pub secrets_key: Option<String>,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self { stripe_api_base: "https://api.stripe.com".into(), public_url: None, secrets_key: None }
    }
}

/// How far an event's signed timestamp may be from now (Stripe's libraries use five minutes).
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone)]
pub struct StripeClient {
    base: String,
    http: reqwest::Client,
}

/// Stripe refused a call (its error message), or could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("Stripe refused: {0}")]
    Refused(String),
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
}

impl StripeClient {
    pub fn new(base: &str) -> Self {
        let http =
            reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build().expect("an HTTP client");
        Self { base: base.trim_end_matches('/').to_string(), http }
    }

    /// POST /v1/checkout/sessions: one line for what the invoice still owes.
    pub async fn create_checkout_session(
        &self,
        secret_key: &str,
        call: &Value,
        org: &str,
        success_url: &str,
    ) -> Result<Value, StripeError> {
        let text = |k: &str| call[k].as_str().unwrap_or_default().to_string();
        let number = text("invoiceNumber");
        let mut form = vec![
            ("mode".to_string(), "payment".to_string()),
            ("line_items[0][quantity]".into(), "1".into()),
            ("line_items[0][price_data][currency]".into(), text("currency")),
            ("line_items[0][price_data][unit_amount]".into(), call["amount"].to_string()),
            ("line_items[0][price_data][product_data][name]".into(), format!("Invoice {number}")),
            ("success_url".into(), success_url.to_string()),
            ("client_reference_id".into(), text("invoiceId")),
            ("metadata[favcrm_org_id]".into(), org.to_string()),
            ("metadata[favcrm_invoice_id]".into(), text("invoiceId")),
            ("metadata[favcrm_link_id]".into(), text("linkId")),
            ("payment_intent_data[metadata][favcrm_org_id]".into(), org.to_string()),
            ("payment_intent_data[metadata][favcrm_invoice_id]".into(), text("invoiceId")),
        ];
        if let Some(email) = call["customerEmail"].as_str() {
            form.push(("customer_email".into(), email.to_string()));
        }
        self.post(secret_key, "/v1/checkout/sessions", &text("linkId"), &form).await
    }

    /// POST /v1/refunds: part or all of a payment intent.
    pub async fn create_refund(&self, secret_key: &str, call: &Value) -> Result<Value, StripeError> {
        let refund_id = call["refundId"].as_str().unwrap_or_default().to_string();
        let form = vec![
            ("payment_intent".to_string(), call["paymentIntent"].as_str().unwrap_or_default().to_string()),
            ("amount".into(), call["amount"].to_string()),
            ("metadata[favcrm_refund_id]".into(), refund_id.clone()),
        ];
        self.post(secret_key, "/v1/refunds", &refund_id, &form).await
    }

    async fn post(
        &self,
        secret_key: &str,
        path: &str,
        idempotency_key: &str,
        form: &[(String, String)],
    ) -> Result<Value, StripeError> {
        let body = serde_urlencoded::to_string(form).map_err(|e| StripeError::Refused(e.to_string()))?;
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(secret_key)
            .header("Idempotency-Key", idempotency_key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| StripeError::Unreachable(e.without_url().to_string()))?;
        let status = res.status();
        let json: Value = res.json().await.map_err(|e| StripeError::Unreachable(e.without_url().to_string()))?;
        if status.is_success() {
            return Ok(json);
        }
        let message = json["error"]["message"].as_str().unwrap_or("no message").to_string();
        if status.is_server_error() || status.as_u16() == 429 {
            Err(StripeError::Unreachable(format!("{status}: {message}")))
        } else {
            Err(StripeError::Refused(message))
        }
    }
}

/// Why an event's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No `t=` or no `v1=` in the header.
    Malformed,
    /// Signed more than the tolerance away from now (a replay, or a clock far off).
    Expired,
    /// No `v1` signature matches the payload and secret.
    Mismatch,
}

/// Checks a `Stripe-Signature` header (`t=<unix time>,v1=<hex HMAC-SHA256>,…`) over the raw
/// payload with the endpoint's signing secret, the way Stripe's libraries do: HMAC-SHA256 of
/// `"<t>.<payload>"` keyed by the whole secret, any of the `v1` values matching, compared in
/// constant time, and the timestamp within the tolerance of `now`.
pub fn verify_signature(secret: &str, header: &str, payload: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let (Some(timestamp), false) = (timestamp, signatures.is_empty()) else {
        return Err(SignatureError::Malformed);
    };
    if (now - timestamp).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(SignatureError::Expired);
    }
    let matches = signatures.iter().any(|signature| {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac.verify_slice(signature).is_ok()
    });
    if matches { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// The header Stripe would send for `payload` signed at `timestamp` (for tests and fakes).
pub fn sign(secret: &str, payload: &[u8], timestamp: i64) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_accepted_only_for_its_payload_secret_and_time() {
        let payload = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
        let header = sign("whsec_abc", payload, 1_800_000_000);
        assert_eq!(verify_signature("whsec_abc", &header, payload, 1_800_000_100), Ok(()));
        assert_eq!(verify_signature("whsec_abd", &header, payload, 1_800_000_100), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature("whsec_abc", &header, b"{}", 1_800_000_100), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature("whsec_abc", &header, payload, 1_800_000_301), Err(SignatureError::Expired));
        assert_eq!(verify_signature("whsec_abc", "v1=00", payload, 1_800_000_000), Err(SignatureError::Malformed));
        // Several v1 values (a secret being rolled): any one matching is enough.
        let rolled = format!("{header},v1={}", "00".repeat(32));
        assert_eq!(verify_signature("whsec_abc", &rolled, payload, 1_800_000_000), Ok(()));
    }
}
