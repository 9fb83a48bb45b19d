//! WhatsApp messages through the WhatsApp Business Cloud API (`POST /{phone-number-id}/messages`
//! on Meta's Graph API, with the organisation's access token): free text inside the 24-hour
//! window after the customer last wrote, a template approved at Meta outside it. And the check
//! of `X-Hub-Signature-256` (HMAC-SHA256 of the raw body, keyed by the Meta app secret) on the
//! webhook calls Meta makes (statuses, incoming messages). The API base, with its version, is
//! a setting (`FAVCRM_WHATSAPP_API_BASE`), so tests point it at a local fake that answers as
//! the Cloud API does.
//!
//! The Cloud API takes no idempotency key: an attempt repeated after a crash between Meta's
//! answer and the outbox's record sends the message twice (at most once per lease). The
//! delivery's id travels as `biz_opaque_callback_data`, which Meta returns with each status.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::SendError;

/// What a WhatsApp message is: free text, or a template with its body parameters in order.
pub enum Content<'a> {
    Text(&'a str),
    Template { name: &'a str, language: &'a str, parameters: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct WhatsAppClient {
    base: String,
    http: reqwest::Client,
}

/// Cloud API error codes that mean "not now" (rate limits, temporary trouble at Meta).
const RETRYABLE: &[i64] = &[1, 2, 4, 17, 341, 80007, 130429, 131000, 131016, 131056, 133004];

impl WhatsAppClient {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("an HTTP client");
        Self { base: base.trim_end_matches('/').to_string(), http }
    }

    /// Sends a message; the message id (`wamid.…`).
    pub async fn send(
        &self,
        phone_number_id: &str,
        access_token: &str,
        to: &str,
        content: &Content<'_>,
        callback_data: &str,
    ) -> Result<String, SendError> {
        let to = to.trim_start_matches('+');
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "biz_opaque_callback_data": callback_data,
        });
        match content {
            Content::Text(text) => {
                body["type"] = json!("text");
                body["text"] = json!({ "preview_url": false, "body": text });
            }
            Content::Template { name, language, parameters } => {
                body["type"] = json!("template");
                let mut template = json!({ "name": name, "language": { "code": language } });
                if !parameters.is_empty() {
                    let parameters: Vec<Value> =
                        parameters.iter().map(|p| json!({"type": "text", "text": p})).collect();
                    template["components"] = json!([{ "type": "body", "parameters": parameters }]);
                }
                body["template"] = template;
            }
        }
        let res = self
            .http
            .post(format!("{}/{phone_number_id}/messages", self.base))
            .bearer_auth(access_token)
            .json(&body)
            .send()
            .await
            .map_err(|e| SendError::unreachable("the WhatsApp Cloud API", e))?;
        let status = res.status();
        let retry_after = super::retry_after(res.headers());
        let json: Value = res.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return json["messages"][0]["id"].as_str().map(str::to_string).ok_or_else(|| {
                SendError::failed(Some(status.as_u16()), "the Cloud API answered without a message id".into(), None)
            });
        }
        let code = json["error"]["code"].as_i64().unwrap_or(0);
        let error = format!(
            "WhatsApp {} ({code}): {}",
            status.as_u16(),
            json["error"]["message"].as_str().unwrap_or("no message")
        );
        if status.is_server_error() || status.as_u16() == 429 || RETRYABLE.contains(&code) {
            Err(SendError::failed(Some(status.as_u16()), error, retry_after))
        } else {
            Err(SendError::Refused(error))
        }
    }
}

/// `X-Hub-Signature-256` of a body: `sha256=` and the hex HMAC-SHA256 keyed by the app secret.
pub fn signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether a webhook call carries the right signature (compared in constant time).
pub fn verify(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_part) = header.strip_prefix("sha256=") else { return false };
    let Ok(given) = hex::decode(hex_part) else { return false };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_webhook_signature_matches_only_its_body_and_secret() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = super::signature("app-secret", body);
        assert!(header.starts_with("sha256=") && header.len() == 7 + 64);
        assert!(super::verify("app-secret", body, &header));
        assert!(!super::verify("other", body, &header));
        assert!(!super::verify("app-secret", b"{}", &header));
        assert!(!super::verify("app-secret", body, "sha1=00"));
    }
}
