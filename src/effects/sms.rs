//! Text messages through Twilio's Messages API (`POST /2010-04-01/Accounts/{AccountSid}/
//! Messages.json`, form-encoded, HTTP Basic with the account SID and auth token), with a status
//! callback to this server; and the check of `X-Twilio-Signature` on what Twilio sends back
//! (status callbacks, incoming texts). The API base is a setting (`FAVCRM_TWILIO_API_BASE`), so
//! tests point it at a local fake that answers as Twilio does.
//!
//! Twilio's Messages API takes no idempotency key: an attempt repeated after a crash between
//! Twilio's answer and the outbox's record sends the text twice (at most once per lease).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;

use super::SendError;

/// What a text is sent with.
pub struct Text<'a> {
    pub account_sid: &'a str,
    pub auth_token: &'a str,
    pub from: Option<&'a str>,
    pub messaging_service_sid: Option<&'a str>,
    pub to: &'a str,
    pub body: &'a str,
    pub status_callback: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct TwilioClient {
    base: String,
    http: reqwest::Client,
}

impl TwilioClient {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("an HTTP client");
        Self { base: base.trim_end_matches('/').to_string(), http }
    }

    /// Sends a text; Twilio's message SID.
    pub async fn send(&self, text: &Text<'_>) -> Result<String, SendError> {
        let mut form = vec![("To", text.to), ("Body", text.body)];
        match (text.messaging_service_sid, text.from) {
            (Some(service), _) => form.push(("MessagingServiceSid", service)),
            (None, Some(from)) => form.push(("From", from)),
            (None, None) => return Err(SendError::Refused("the sms channel names no number to send from".into())),
        }
        if let Some(callback) = text.status_callback {
            form.push(("StatusCallback", callback));
        }
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base, text.account_sid);
        let res = self
            .http
            .post(url)
            .basic_auth(text.account_sid, Some(text.auth_token))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&form).map_err(|e| SendError::Refused(e.to_string()))?)
            .send()
            .await
            .map_err(|e| SendError::unreachable("Twilio", e))?;
        let status = res.status();
        let retry_after = super::retry_after(res.headers());
        let json: Value = res.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return json["sid"].as_str().map(str::to_string).ok_or_else(|| {
                SendError::failed(Some(status.as_u16()), "Twilio answered without a message sid".into(), None)
            });
        }
        let error = format!(
            "Twilio {} ({}): {}",
            status.as_u16(),
            json["code"].as_i64().map_or("?".to_string(), |c| c.to_string()),
            json["message"].as_str().unwrap_or("no message")
        );
        if status.as_u16() == 429 || status.is_server_error() || status.as_u16() == 408 {
            Err(SendError::failed(Some(status.as_u16()), error, retry_after))
        } else {
            // A bad number, an unsubscribed recipient, refused credentials: sending the same
            // again will not change Twilio's mind.
            Err(SendError::Refused(error))
        }
    }
}

/// `X-Twilio-Signature` of a request Twilio makes: base64 HMAC-SHA1, keyed by the auth token,
/// of the full URL it called followed by each POST parameter's name and value, sorted by name.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.as_bytes().cmp(b.1.as_bytes())));
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(auth_token.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether a request Twilio made carries the right signature (compared in constant time).
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    let expected = signature(auth_token, url, params);
    expected.len() == header.len() && expected.bytes().zip(header.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn twilios_documented_example_signature_is_reproduced() {
        // The example of Twilio's signature validation snippets (token 12345).
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(super::signature("12345", url, &params), "GvWf1cFY/Q7PnoempGyD5oXAezc=");
        assert!(super::verify("12345", url, &params, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
        assert!(!super::verify("12346", url, &params, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
    }
}
