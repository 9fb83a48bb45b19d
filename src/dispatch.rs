//! The one entry REST and MCP share: routes a checked call to the no-key flows or to the
//! transaction executor, and sends the mail an operation asked for once it committed.

use std::net::IpAddr;

use serde_json::Value;

use crate::db::tx::{self, Call, Caller, Outcome};
use crate::error::ApiError;
use crate::onboarding;
use crate::startup::AppState;

/// The member of an `api.*` result that asks the server for an email (never shown to clients).
const MAIL_REQUEST: &str = "_mail";

pub async fn call(state: &AppState, call: Call<'_>, client_ip: Option<IpAddr>) -> Result<Outcome, ApiError> {
    if call.op.is_public() {
        let request = onboarding::Request {
            op: call.op,
            input: call.input,
            via: call.via,
            request_id: call.request_id,
            client_ip,
        };
        return onboarding::run(state, request).await;
    }
    if let (Caller::Key { digest }, Some(budget)) = (call.caller, &state.sensitive_budget)
        && call.op.sensitive()
    {
        budget.check(digest)?;
    }
    if matches!(call.caller, Caller::Anonymous) {
        return Err(ApiError::unauthorized(
            "unauthenticated",
            format!(
                "{} needs an API key (Authorization: Bearer fav_mcp_…). Without one, only registration \
                 (register_organisation_request) and joining a team (accept_team_invite_request) are available.",
                call.op.name
            ),
        ));
    }
    let mut outcome = tx::execute(&state.db.pool, call).await?;
    if let Some(request) = outcome.body.as_object_mut().and_then(|body| body.remove(MAIL_REQUEST)) {
        // A replay answers again; it does not mail again.
        if !outcome.replayed {
            let sent = onboarding::send_requested(state, &request).await;
            outcome.body["emailSent"] = Value::Bool(sent);
        }
    }
    Ok(outcome)
}
