//! Local fakes of the messaging providers favcrm calls, answering in their shapes:
//!
//! * Twilio's Messages API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
//!   form-encoded, HTTP Basic (account SID and auth token), answering 201 with a message
//!   resource (`sid` SM…, `status` queued), or Twilio's error body (`code`, `message`,
//!   `more_info`, `status`): 401 (20003) for bad credentials, 400 (21211) for Twilio's magic
//!   invalid number +15005550001, 429 (20429) with Retry-After for +15005550429.
//! * The WhatsApp Business Cloud API: `POST /{phone-number-id}/messages`, JSON, Bearer token,
//!   answering with `messaging_product`, `contacts` and `messages[0].id` (wamid.…), or Graph's
//!   error body (`error.message`, `type`, `code`, `fbtrace_id`): 401 (190) for a bad token, and
//!   400 (130429, "Rate limit hit") the first time a number ending in 429 is written to.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TWILIO_SID: &str = "AC00000000000000000000000000000001";
pub const TWILIO_TOKEN: &str = "twilio-auth-token-0001";
pub const TWILIO_FROM: &str = "+15005550006";
/// Twilio's magic test number that is not a valid phone number.
pub const INVALID_NUMBER: &str = "+15005550001";
/// A number the fake answers 429 for.
pub const BUSY_NUMBER: &str = "+15005550429";

pub const WHATSAPP_PHONE_ID: &str = "106540352242922";
pub const WHATSAPP_TOKEN: &str = "EAAG-whatsapp-access-token";
pub const WHATSAPP_APP_SECRET: &str = "meta-app-secret-0001";
pub const WHATSAPP_VERIFY: &str = "verify-me-please";

pub fn form(request: &Request) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(&request.body).unwrap_or_default().into_iter().collect()
}

struct TwilioMessages {
    count: AtomicUsize,
}

impl Respond for TwilioMessages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"))
        );
        let error = |status: u16, code: i64, message: &str| {
            ResponseTemplate::new(status).set_body_json(json!({
                "code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
                "status": status
            }))
        };
        if request.headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return error(401, 20003, "Authentication Error - invalid username");
        }
        let f = form(request);
        let to = f.get("To").cloned().unwrap_or_default();
        if to == INVALID_NUMBER {
            return error(400, 21211, &format!("The 'To' number {to} is not a valid phone number."));
        }
        if to == BUSY_NUMBER {
            return error(429, 20429, "Too Many Requests").insert_header("Retry-After", "120");
        }
        if !f.contains_key("Body") || (!f.contains_key("From") && !f.contains_key("MessagingServiceSid")) {
            return error(400, 21604, "A 'From' phone number is required.");
        }
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(201).set_body_json(json!({
            "account_sid": TWILIO_SID,
            "api_version": "2010-04-01",
            "body": f["Body"],
            "date_created": "Mon, 07 Dec 2026 09:00:00 +0000",
            "direction": "outbound-api",
            "from": f.get("From"),
            "messaging_service_sid": f.get("MessagingServiceSid"),
            "num_segments": "1",
            "sid": format!("SM{n:032x}"),
            "status": "queued",
            "to": to,
            "uri": format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages/SM{n:032x}.json"),
        }))
    }
}

struct WhatsAppMessages {
    count: AtomicUsize,
    limited: Mutex<Vec<String>>,
}

impl Respond for WhatsAppMessages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let error = |status: u16, code: i64, message: &str| {
            ResponseTemplate::new(status).set_body_json(json!({
                "error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfGhIjK"}
            }))
        };
        let bearer = format!("Bearer {WHATSAPP_TOKEN}");
        if request.headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(bearer.as_str()) {
            return error(401, 190, "Error validating access token: The session is invalid.");
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let to = body["to"].as_str().unwrap_or_default().to_string();
        if body["messaging_product"] != "whatsapp" || to.is_empty() {
            return error(400, 100, "(#100) Invalid parameter");
        }
        if to.ends_with("429") {
            let mut limited = self.limited.lock().unwrap();
            if !limited.contains(&to) {
                limited.push(to.clone());
                return error(400, 130429, "(#130429) Rate limit hit");
            }
        }
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": format!("wamid.HBgL{n:020}")}],
        }))
    }
}

/// A Twilio and a WhatsApp Cloud API on loopback.
pub struct Providers {
    pub twilio: MockServer,
    pub whatsapp: MockServer,
}

pub async fn start() -> Providers {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/2010-04-01/Accounts/[^/]+/Messages\.json$"))
        .respond_with(TwilioMessages { count: AtomicUsize::new(1) })
        .mount(&twilio)
        .await;
    let whatsapp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{WHATSAPP_PHONE_ID}/messages")))
        .respond_with(WhatsAppMessages { count: AtomicUsize::new(1), limited: Mutex::new(Vec::new()) })
        .mount(&whatsapp)
        .await;
    Providers { twilio, whatsapp }
}

impl Providers {
    /// Server settings that send to these fakes.
    pub fn settings(&self) -> favcrm::web::ServerSettings {
        let mut settings = crate::common::relaxed();
        settings.outbox.twilio_api_base = self.twilio.uri();
        settings.outbox.whatsapp_api_base = self.whatsapp.uri();
        settings
    }

    /// The form of each text Twilio was asked to send.
    pub async fn texts(&self) -> Vec<HashMap<String, String>> {
        self.twilio.received_requests().await.unwrap_or_default().iter().map(form).collect()
    }

    /// The body of each WhatsApp message the Cloud API was asked to send.
    pub async fn whatsapps(&self) -> Vec<Value> {
        self.whatsapp
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}
