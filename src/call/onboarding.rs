//! The flows anyone can start without a key: registering an organisation and joining a team
//! by invitation. Each is request (mail a code) then verify (check it, act).
//!
//! ```text
//! request: limits → code = CSPRNG, hash = argon2id(code), sealed = seal(code)
//!          → auth.start_*(hash, sealed): the request and its mail in the outbox → wake the worker
//! verify:  limits → auth.begin_*_attempt (one of 5, committed) → argon2 check → auth.complete_*
//! ```
//!
//! The database never sees a code in the clear: it keeps the hash to check against, and the
//! mail's copy sealed under the server's secrets key until the outbox worker has sent it.

use std::net::IpAddr;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::AppState;
use crate::auth::{hash_code, new_code, verify_code};
use crate::catalog::Operation;
use crate::db::tx::{Body, Outcome, Via, call_entry_point};
use crate::effects::outbox::ACCOUNT_MAIL_CODE;
use crate::error::ApiError;

/// One no-key call.
pub struct Request<'a> {
    pub op: &'a Operation,
    pub input: &'a Value,
    pub via: Via,
    pub request_id: &'a str,
    pub client_ip: Option<IpAddr>,
}

pub async fn run(state: &AppState, req: Request<'_>) -> Result<Outcome, ApiError> {
    let body = match req.op.name {
        "register_organisation_request" => register_request(state, &req).await?,
        "register_organisation_verify" => register_verify(state, &req).await?,
        "accept_team_invite_request" => invite_request(state, &req).await?,
        "accept_team_invite_verify" => invite_verify(state, &req).await?,
        other => return Err(ApiError::internal(format!("{other} is not a no-key flow"))),
    };
    Ok(Outcome { status: req.op.success_status, body: Body::Value(body), principal: None, replayed: false })
}

async fn entry(state: &AppState, req: &Request<'_>, function: &'static str, input: Value) -> Result<Value, ApiError> {
    call_entry_point(&state.pool, function, &input, req.via, req.op.name, req.request_id).await
}

/// The mail of a code as the entry points queue it: its id, and the code sealed for it.
fn sealed_mail(state: &AppState, code: &str) -> Result<Value, ApiError> {
    let secrets = state.secrets().map_err(ApiError::internal)?;
    let id = uuid::Uuid::now_v7();
    let sealed =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, secrets.seal(id, ACCOUNT_MAIL_CODE, code));
    Ok(json!({ "id": id, "sealedCode": sealed }))
}

fn text<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap_or_default()
}

async fn register_request(state: &AppState, req: &Request<'_>) -> Result<Value, ApiError> {
    let input = req.input;
    let email = text(input, "email").trim().to_lowercase();
    state.abuse.code_email(req.client_ip)?;
    state.abuse.signup_email(&email)?;
    let code = new_code();
    let hash = hash_code(code.clone()).await?;
    let settings = &state.abuse.settings;
    let started = entry(
        state,
        req,
        "start_signup",
        json!({
            "email": email,
            "organisationName": input["organisationName"],
            "industry": input["industry"],
            "country": input["country"],
            "timezone": input["timezone"],
            "codeHash": hash,
            "mail": sealed_mail(state, &code)?,
            "clientIp": req.client_ip.map(|ip| ip.to_string()),
            "limits": {
                "perEmailPerHour": settings.signups_per_email_per_hour,
                "perIpPerDay": settings.code_emails_per_ip_per_day,
            },
        }),
    )
    .await?;
    // The same answer either way: only the inbox learns whether the address already owns an
    // organisation (the mail is the code, or a notice).
    state.wake_outbox();
    Ok(json!({
        "requestId": started["requestId"],
        "maskedEmail": started["maskedEmail"],
        "expiresAt": started["expiresAt"],
        "instructions": format!(
            "A 6-digit code was emailed to {}. Ask the person for it, then call register_organisation_verify with \
             this requestId and the code. The code expires in 10 minutes and allows 5 attempts. If no email \
             arrives, check spam; asking again sends a new code and makes this one invalid.",
            text(&started, "maskedEmail")
        ),
    }))
}

async fn register_verify(state: &AppState, req: &Request<'_>) -> Result<Value, ApiError> {
    state.abuse.code_check(req.client_ip)?;
    let request_id = text(req.input, "requestId");
    let attempt = entry(state, req, "begin_signup_attempt", json!({ "requestId": request_id })).await?;
    check_code(req.input, &attempt, "register_organisation_request").await?;
    let done = entry(
        state,
        req,
        "complete_signup",
        json!({ "requestId": request_id, "via": req.via.as_str(), "requestContextId": req.request_id }),
    )
    .await?;
    Ok(json!({
        "organisationId": done["organisationId"],
        "organisationName": done["organisationName"],
        "userId": done["userId"],
        "apiKeyId": done["apiKeyId"],
        "apiKey": done["apiKey"],
        "timezone": done["timezone"],
        "defaultCurrency": done["defaultCurrency"],
        "nextSteps": [
            "Store apiKey now (it is shown only once): send it as Authorization: Bearer <apiKey> on REST and MCP, or run `favcrm login <apiKey>`.",
            "Check the time zone and currency with get_organisation; change them with update_organisation.",
            "Example services for the industry are ready (list_services): set prices with update_service, add staff with create_staff and set_working_hours, then they can be booked.",
            "Invite colleagues with create_team_member_invite.",
            "Add customers with create_customer.",
        ],
    }))
}

fn token_digest(input: &Value) -> String {
    hex::encode(Sha256::digest(text(input, "token").trim().as_bytes()))
}

async fn invite_request(state: &AppState, req: &Request<'_>) -> Result<Value, ApiError> {
    state.abuse.code_email(req.client_ip)?;
    let code = new_code();
    let hash = hash_code(code.clone()).await?;
    let started = entry(
        state,
        req,
        "start_invite_acceptance",
        json!({ "tokenDigest": token_digest(req.input), "codeHash": hash, "mail": sealed_mail(state, &code)? }),
    )
    .await?;
    let organisation = text(&started, "organisationName");
    state.wake_outbox();
    Ok(json!({
        "maskedEmail": started["maskedEmail"],
        "expiresAt": started["expiresAt"],
        "organisationName": organisation,
        "role": started["role"],
        "instructions": format!(
            "A 6-digit code was emailed to {}. Call accept_team_invite_verify with the same token, the code and \
             the person's name. The code expires in 10 minutes and allows 5 attempts.",
            text(&started, "maskedEmail")
        ),
    }))
}

async fn invite_verify(state: &AppState, req: &Request<'_>) -> Result<Value, ApiError> {
    state.abuse.code_check(req.client_ip)?;
    let digest = token_digest(req.input);
    let attempt = entry(state, req, "begin_invite_attempt", json!({ "tokenDigest": digest })).await?;
    check_code(req.input, &attempt, "accept_team_invite_request").await?;
    let done = entry(
        state,
        req,
        "complete_invite",
        json!({
            "tokenDigest": digest,
            "name": req.input["name"],
            "via": req.via.as_str(),
            "requestContextId": req.request_id,
        }),
    )
    .await?;
    Ok(json!({
        "organisationId": done["organisationId"],
        "organisationName": done["organisationName"],
        "userId": done["userId"],
        "memberId": done["memberId"],
        "role": done["role"],
        "apiKeyId": done["apiKeyId"],
        "apiKey": done["apiKey"],
        "nextSteps": [
            "Store apiKey now (it is shown only once): send it as Authorization: Bearer <apiKey>, or run `favcrm login <apiKey>`.",
            "See your colleagues with list_team_members and your organisations with list_my_organisations.",
        ],
    }))
}

/// Checks the code against the hash of the attempt the database just counted.
async fn check_code(input: &Value, attempt: &Value, ask_again_with: &str) -> Result<(), ApiError> {
    let code = text(input, "code").chars().filter(char::is_ascii_digit).collect::<String>();
    let hash = text(attempt, "codeHash").to_string();
    if verify_code(code, hash).await? {
        return Ok(());
    }
    let remaining = attempt["attemptsRemaining"].as_i64().unwrap_or(0);
    let detail = if remaining > 0 {
        format!(
            "The code is not right; {remaining} attempt(s) left. Ask the person to read it again from the latest email."
        )
    } else {
        format!("The code is not right and no attempts are left: ask for a new code with {ask_again_with}.")
    };
    let mut error = ApiError::invalid("code", "invalid_code", detail);
    error.extra.insert("attemptsRemaining".into(), remaining.into());
    Err(error)
}
