//! What the call path does around messaging channels: sealing the credentials `connect_channel`
//! is given (an SMTP URL, Twilio's auth token, WhatsApp's access token and app secret) for the
//! caller's organisation before the database sees them. The database keeps the sealed values,
//! their SHA-256 (which the callback entry points check a signature's secret against) and a
//! hint to recognise them by; nothing returns or logs them again.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::AppState;
use crate::db::tx::{self, Call};
use crate::effects::purpose;
use crate::error::ApiError;

/// `connect_channel`'s input with its secrets sealed and removed.
pub async fn seal_channel_secrets(state: &AppState, call: &Call<'_>) -> Result<Value, ApiError> {
    let secrets = state.secrets().map_err(ApiError::internal)?;
    let principal = tx::authenticate(&state.pool, call.caller, call.via, call.request_id).await?;
    let org = principal.org_id;
    let mut input = call.input.clone();
    let object = input.as_object_mut().ok_or_else(|| ApiError::internal("input is not an object"))?;
    let (secret_field, secret_purpose, webhook_field) = match object.get("channel").and_then(Value::as_str) {
        Some("email") => ("smtpUrl", purpose::SMTP_URL, None),
        Some("sms") => ("authToken", purpose::TWILIO_AUTH_TOKEN, None),
        Some("whatsapp") => ("accessToken", purpose::WHATSAPP_ACCESS_TOKEN, Some("appSecret")),
        _ => return Ok(input),
    };
    if let Some(secret) = object.remove(secret_field).and_then(|v| v.as_str().map(str::to_string)) {
        object.insert("secretCiphertext".into(), json!(STANDARD.encode(secrets.seal(org, secret_purpose, &secret))));
        object.insert("secretDigest".into(), json!(hex::encode(Sha256::digest(secret.as_bytes()))));
        object.insert("secretHint".into(), json!(hint(secret_field, &secret)));
    }
    if let Some(field) = webhook_field
        && let Some(secret) = object.remove(field).and_then(|v| v.as_str().map(str::to_string))
    {
        let sealed = secrets.seal(org, purpose::WHATSAPP_APP_SECRET, &secret);
        object.insert("webhookSecretCiphertext".into(), json!(STANDARD.encode(sealed)));
        object.insert("webhookSecretDigest".into(), json!(hex::encode(Sha256::digest(secret.as_bytes()))));
    }
    Ok(input)
}

/// Enough of a secret to recognise it: an SMTP URL's server (never its password), a token's
/// last four characters.
fn hint(field: &str, secret: &str) -> String {
    if field == "smtpUrl" {
        return match url::Url::parse(secret) {
            Ok(u) => format!("{}://{}", u.scheme(), u.host_str().unwrap_or("?")),
            Err(_) => "an SMTP URL".into(),
        };
    }
    let last: String = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("…{last}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hint_shows_no_password_or_whole_token() {
        assert_eq!(super::hint("smtpUrl", "smtp://user:s3cret@mail.example.com:587"), "smtp://mail.example.com");
        assert_eq!(super::hint("authToken", "abcdef0123456789"), "…6789");
    }
}
