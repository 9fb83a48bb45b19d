//! Side effects: what happens outside favcrm's database once a change has committed (mail,
//! webhooks, texts through Twilio, WhatsApp messages through the Business Cloud API). No request
//! handler performs one.
//!
//! An operation asks for an effect by writing it down in the database, in the same
//! transaction as the change that causes it (a row of the outbox, `app.deliveries`); the
//! worker here ([`outbox`], run inside `favcrm serve` and alone as `favcrm worker`) claims due
//! rows with `FOR UPDATE SKIP LOCKED`, performs them through the providers in this folder
//! ([`mail`], [`webhooks`], [`sms`], [`whatsapp`]) and records the outcome, retrying with backoff. Stripe's calls
//! ([`stripe`]) are still made by the call path after the commit that asked for them.

pub mod mail;
pub mod outbox;
pub mod secrets;
pub mod sms;
pub mod stripe;
pub mod webhooks;
pub mod whatsapp;

use std::time::Duration;

/// What each sealed credential is for (bound into the sealed value with the organisation).
pub mod purpose {
    pub const SMTP_URL: &str = "smtp_url";
    pub const TWILIO_AUTH_TOKEN: &str = "twilio_auth_token";
    pub const WHATSAPP_ACCESS_TOKEN: &str = "whatsapp_access_token";
    pub const WHATSAPP_APP_SECRET: &str = "whatsapp_app_secret";
}

/// What an attempt to hand something to a provider came to, when it did not succeed.
#[derive(Debug)]
pub enum SendError {
    /// Try again later: no answer, a 5xx, a rate limit, or any answer that is not final.
    Failed { status: Option<u16>, error: String, retry_after: Option<Duration> },
    /// It can never be delivered as it is (a bad address, refused credentials, a URL that
    /// points inside).
    Refused(String),
}

impl SendError {
    pub fn failed(status: Option<u16>, error: String, retry_after: Option<Duration>) -> Self {
        SendError::Failed { status, error, retry_after }
    }

    /// The provider could not be reached (not known to have failed: try again).
    pub fn unreachable(provider: &str, e: reqwest::Error) -> Self {
        SendError::Failed {
            status: None,
            error: format!("{provider} could not be reached: {}", e.without_url()),
            retry_after: None,
        }
    }
}

/// The wait a provider asked for (`Retry-After` in seconds).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
