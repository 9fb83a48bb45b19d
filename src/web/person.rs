//! The person confirms, not the model. A confirmation token handed to an agent can be replayed
//! by the agent itself, so when an MCP client says it can ask its person (the `elicitation`
//! capability, form mode) on the 2026-07-28 protocol, a destructive call's confirmation and an
//! agent's request for approval go to the person through the client instead: the tool answers
//! `input_required` (the multi round-trip request) with a one-field form (`confirm`) whose
//! message is the preview, and a request state the client echoes back with the answer.
//!
//! The request state is sealed with rmcp's [`RequestStateCodec`] (HMAC-SHA256, 5 or 30
//! minutes) and bound, as associated data, to the key, the tool and a digest of its arguments:
//! echoed with another key, to another tool or with other arguments it does not open. What it
//! carries that would let someone act (the confirmation token, the approval's secret) is also
//! encrypted under the server's secrets key, because a sealed state is signed, not secret. It
//! is single-use through what it carries: the database uses a confirmation token up, and an
//! approval is carried out once however often it is approved.
//!
//! Declining, cancelling or leaving `confirm` unticked changes nothing: a confirmation simply
//! is not used, and an approval stays pending in the inbox until it expires. Clients that
//! cannot ask their person keep the token flow and the approval inbox.

use std::time::Duration;

use rmcp::model::{
    CallToolResponse, InputRequest, InputRequests, InputRequiredResult, InputResponses, RequestStateCodec,
    RequestStateError, SealOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::catalog::Operation;
use crate::effects::secrets::Secrets;
use crate::error::ApiError;

/// The key of the one input request: the form's single field has the same name.
pub const CONFIRM: &str = "confirm";

/// How long a person has to answer a destructive call's confirmation (the token's own life).
const CONFIRM_TTL: Duration = Duration::from_secs(5 * 60);
/// How long a person has to answer an approval asked for in their client (the approval itself
/// waits longer, in the inbox).
const APPROVE_TTL: Duration = Duration::from_secs(30 * 60);

const STATE_PURPOSE: &str = "mcp_request_state";
const SEAL_PURPOSE: &str = "mcp_request_state_secret";

/// What a request state stands for once opened.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "k", rename_all = "lowercase")]
pub enum Pending {
    /// A destructive call waiting for the person's confirmation: the token the database issued
    /// for exactly this key, tool and arguments (sealed).
    Confirm { t: String },
    /// An agent's call turned into an approval the person may decide in the client: its id and
    /// the secret whose digest it keeps (sealed).
    Approve { a: Uuid, s: String },
}

/// What the person answered to the form.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Confirmed,
    /// Declined, cancelled, or accepted without ticking `confirm`.
    NotConfirmed(&'static str),
}

/// Seals and opens request states with keys derived from the server's secrets key, so every
/// server sharing that key reads every other's.
pub struct Seal<'a> {
    secrets: &'a Secrets,
    codec: RequestStateCodec,
}

impl<'a> Seal<'a> {
    pub fn new(secrets: &'a Secrets) -> Result<Self, ApiError> {
        let key = secrets.derive(Uuid::nil(), STATE_PURPOSE, "v1");
        let codec = RequestStateCodec::try_new(key.to_vec()).map_err(ApiError::internal)?;
        Ok(Self { secrets, codec })
    }

    /// The request state for `pending`, bound to this key, tool and arguments.
    pub fn seal(&self, binding: &[u8], pending: &Pending) -> Result<String, ApiError> {
        let hidden = |plain: &str| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.secrets.seal(Uuid::nil(), SEAL_PURPOSE, plain))
        };
        let (sealed, ttl) = match pending {
            Pending::Confirm { t } => (Pending::Confirm { t: hidden(t) }, CONFIRM_TTL),
            Pending::Approve { a, s } => (Pending::Approve { a: *a, s: hidden(s) }, APPROVE_TTL),
        };
        self.codec
            .seal_json_with(&sealed, &SealOptions::new().associated_data(binding).ttl(ttl))
            .map_err(ApiError::internal)
    }

    /// What a request state echoed by the client stands for, if it was sealed here for exactly
    /// this key, tool and arguments and has not expired.
    pub fn open(&self, binding: &[u8], state: &str) -> Result<Pending, ApiError> {
        let sealed: Pending = self.codec.open_json_with(state, binding).map_err(|e| match e {
            RequestStateError::Expired => ApiError::new(
                http::StatusCode::GONE,
                "request_state_expired",
                "The person did not answer in time; nothing was done. Call the tool again for a new question.",
            ),
            _ => ApiError::invalid(
                "requestState",
                "invalid_request_state",
                "The request state was not issued by this server for this key, tool and arguments; nothing was done.",
            ),
        })?;
        let shown = |hidden: &str| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(hidden)
                .ok()
                .and_then(|bytes| self.secrets.open(Uuid::nil(), SEAL_PURPOSE, &bytes).ok())
                .ok_or_else(|| ApiError::internal("a sealed request state whose secret does not open"))
        };
        Ok(match sealed {
            Pending::Confirm { t } => Pending::Confirm { t: shown(&t)? },
            Pending::Approve { a, s } => Pending::Approve { a, s: shown(&s)? },
        })
    }
}

/// The associated data a request state is bound to: the key's digest, the tool, and a digest
/// of the arguments as checked (without `idempotencyKey` and `confirmationToken`).
pub fn binding(key_digest: &[u8], tool: &str, input: &Value) -> Vec<u8> {
    let arguments = Sha256::digest(input.to_string().as_bytes());
    let mut bytes = b"favcrm/mcp/person/v1\0".to_vec();
    bytes.extend_from_slice(key_digest);
    bytes.push(0);
    bytes.extend_from_slice(tool.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(&arguments);
    bytes
}

/// A fresh secret for the person at the client (hex of 32 random bytes).
pub fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The question: an `elicitation/create` request's params, a form with one boolean.
pub fn form(message: String) -> Value {
    json!({
        "mode": "form",
        "message": message,
        "requestedSchema": {
            "type": "object",
            "properties": {
                CONFIRM: {
                    "type": "boolean",
                    "title": "Confirm",
                    "description": "Tick to go ahead exactly as described; leave it, decline or cancel and nothing happens.",
                    "default": false
                }
            },
            "required": [CONFIRM]
        }
    })
}

/// The `input_required` answer that asks the person: the form and the request state.
pub fn ask(message: String, state: String) -> Result<CallToolResponse, ApiError> {
    let request: InputRequest =
        serde_json::from_value(json!({ "method": "elicitation/create", "params": form(message) }))
            .map_err(ApiError::internal)?;
    let requests: InputRequests = [(CONFIRM.to_string(), request)].into_iter().collect();
    Ok(InputRequiredResult::new(Some(requests), Some(state)).into())
}

/// What the person answered, from the client's `inputResponses`.
pub fn answer(responses: Option<&InputResponses>) -> Result<Answer, ApiError> {
    let Some(response) = responses.and_then(|r| r.get(CONFIRM)) else {
        return Err(ApiError::invalid(
            "inputResponses",
            "missing_input_response",
            "The retry carries the request state but no answer under inputResponses.confirm; nothing was done.",
        ));
    };
    answer_of(response)
}

/// What the person answered, from an elicitation result (`action`, `content`).
pub fn answer_of(response: &Value) -> Result<Answer, ApiError> {
    Ok(match response["action"].as_str() {
        Some("accept") if response["content"][CONFIRM] == Value::Bool(true) => Answer::Confirmed,
        Some("accept") => Answer::NotConfirmed("accepted the form without ticking confirm"),
        Some("decline") => Answer::NotConfirmed("declined"),
        Some("cancel") => Answer::NotConfirmed("cancelled"),
        _ => {
            return Err(ApiError::invalid(
                "inputResponses",
                "invalid_input_response",
                "inputResponses.confirm must be an elicitation result: action accept, decline or cancel.",
            ));
        }
    })
}

/// How long a person has to answer a question asked while the call waits (a 2025 session).
pub const ANSWER_WITHIN: Duration = CONFIRM_TTL;

/// The refusal when the person did not answer in time, or the client could not ask them.
pub fn not_answered(op: &Operation, why: &str) -> ApiError {
    ApiError::new(
        http::StatusCode::CONFLICT,
        "not_confirmed",
        format!("The person was asked to confirm {} but {why}: nothing was done.", op.name),
    )
}

/// The refusal for an answer other than a ticked `confirm`: nothing was done.
pub fn not_confirmed(op: &Operation, pending: &Pending, how: &str) -> ApiError {
    let rest = match pending {
        Pending::Confirm { .. } => "nothing was done.".to_string(),
        Pending::Approve { a, .. } => format!(
            "nothing was done. Approval {a} stays pending in the approval inbox, where someone else may still decide \
             it, until it expires."
        ),
    };
    ApiError::new(
        http::StatusCode::CONFLICT,
        "not_confirmed",
        format!("The person {how} when asked to confirm {}: {rest}", op.name),
    )
}

/// The form's message for a destructive call: what it will do, from the confirmation preview.
pub fn confirm_message(op: &Operation, preview: &Value) -> String {
    let mut text = format!("{} — please confirm.\n", op.title);
    if let Some(effect) = preview.get("effect").filter(|e| !e.is_null()) {
        text.push_str("\nWhat happens:\n");
        describe(effect, &mut text);
    }
    if let Some(target) = preview.get("target").filter(|t| !t.is_null()) {
        text.push_str("\nApplies to:\n");
        describe(target, &mut text);
    }
    text
}

/// The form's message for an approval: its summary and snapshot.
pub fn approve_message(op: &Operation, approval: &Value) -> String {
    let mut text = format!(
        "Your agent asks to {}: {}\n\nApprove it? It happens exactly as shown below, once.\n\n",
        op.title.to_lowercase(),
        approval["summary"].as_str().unwrap_or(op.name)
    );
    describe(&approval["snapshot"], &mut text);
    text
}

/// A JSON value as plain lines for a person: the members of an object (nested ones indented),
/// without ids, bookkeeping times and empty values; at most 40 lines.
fn describe(value: &Value, out: &mut String) {
    fn noise(key: &str, member: &Value) -> bool {
        key == "id"
            || key.ends_with("Id")
            || matches!(key, "createdAt" | "updatedAt" | "canSend" | "refusals")
            || matches!(member, Value::Null)
            || member.as_array().is_some_and(Vec::is_empty)
            || member.as_object().is_some_and(Map::is_empty)
    }
    fn walk(value: &Value, depth: usize, lines: &mut Vec<String>) {
        let pad = "  ".repeat(depth);
        match value {
            Value::Object(map) => {
                for (key, member) in map.iter().filter(|(k, m)| !noise(k, m)) {
                    match member {
                        Value::Object(inner) if !inner.is_empty() => {
                            lines.push(format!("{pad}{key}:"));
                            walk(member, depth + 1, lines);
                        }
                        Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                            lines.push(format!("{pad}{key}:"));
                            for item in items {
                                walk(item, depth + 1, lines);
                            }
                        }
                        other => lines.push(format!("{pad}{key}: {}", scalar(other))),
                    }
                }
            }
            other => lines.push(format!("{pad}{}", scalar(other))),
        }
    }
    fn scalar(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    let mut lines = Vec::new();
    walk(value, 0, &mut lines);
    let more = lines.len().saturating_sub(40);
    lines.truncate(40);
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    if more > 0 {
        out.push_str(&format!("… and {more} more lines\n"));
    }
}

/// An approval as the result of the tool that asked for it: on approval, what carrying it out
/// gave (the tool's own answer); failed, the reason.
pub fn approved_result(approval: &Value) -> Result<Value, ApiError> {
    match approval["status"].as_str() {
        Some("approved") => Ok(approval["result"].clone()),
        _ => {
            let mut error = ApiError::new(
                http::StatusCode::CONFLICT,
                "approval_failed",
                format!(
                    "Approved, but it could not be carried out: {}. Nothing was done.",
                    approval["error"].as_str().unwrap_or("no longer allowed")
                ),
            );
            error.extra.insert("approval".into(), approval.clone());
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stable code a client reads: a field error's, else the problem's.
    fn code(error: ApiError) -> String {
        error.errors.first().map_or(error.code, |f| f.code.clone())
    }

    fn secrets() -> Secrets {
        let dir = std::env::temp_dir().join(format!("favcrm-person-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let secrets = Secrets::load(Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), &dir).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        secrets
    }

    #[test]
    fn a_request_state_opens_only_for_its_key_tool_and_arguments() {
        let secrets = secrets();
        let seal = Seal::new(&secrets).unwrap();
        let args = json!({"customerId": "c1"});
        let bound = binding(b"key-one", "delete_customer", &args);
        let pending = Pending::Confirm { t: "fav_cfm_secret".into() };
        let state = seal.seal(&bound, &pending).unwrap();
        assert!(!state.contains("fav_cfm_secret"), "the token is hidden in the state: {state}");
        assert_eq!(seal.open(&bound, &state).unwrap(), pending);
        for other in [
            binding(b"key-two", "delete_customer", &args),
            binding(b"key-one", "delete_service", &args),
            binding(b"key-one", "delete_customer", &json!({"customerId": "c2"})),
        ] {
            assert_eq!(code(seal.open(&other, &state).unwrap_err()), "invalid_request_state");
        }
        let mut tampered = state.clone();
        tampered.insert(5, 'x');
        assert_eq!(code(seal.open(&bound, &tampered).unwrap_err()), "invalid_request_state");
    }

    #[test]
    fn only_a_ticked_confirm_confirms() {
        let with = |value: Value| -> InputResponses { [(CONFIRM.to_string(), value)].into_iter().collect() };
        let ticked = with(json!({"action": "accept", "content": {"confirm": true}}));
        assert_eq!(answer(Some(&ticked)).unwrap(), Answer::Confirmed);
        for (value, how) in [
            (json!({"action": "accept", "content": {"confirm": false}}), "accepted the form without ticking confirm"),
            (json!({"action": "accept", "content": {}}), "accepted the form without ticking confirm"),
            (json!({"action": "accept", "content": {"confirm": "true"}}), "accepted the form without ticking confirm"),
            (json!({"action": "decline"}), "declined"),
            (json!({"action": "cancel"}), "cancelled"),
        ] {
            assert_eq!(answer(Some(&with(value))).unwrap(), Answer::NotConfirmed(how));
        }
        assert_eq!(code(answer(None).unwrap_err()), "missing_input_response");
        assert_eq!(code(answer(Some(&with(json!({"action": "maybe"})))).unwrap_err()), "invalid_input_response");
    }

    #[test]
    fn a_preview_reads_as_lines_without_ids_or_bookkeeping() {
        let preview = json!({"target": {"id": "x", "name": "Tess", "customerId": "y", "tags": [], "createdAt": "t",
                                        "startsAt": "2030-01-01T10:00:00Z", "address": {"city": "Leeds"}}});
        let text = confirm_message(crate::catalog::find("delete_customer").unwrap(), &preview);
        assert_eq!(
            text,
            "Delete a customer — please confirm.\n\nApplies to:\nname: Tess\nstartsAt: 2030-01-01T10:00:00Z\naddress:\n  city: Leeds\n"
        );
    }

    #[test]
    fn the_question_is_an_elicitation_form_with_one_boolean() {
        let CallToolResponse::InputRequired(result) = ask("Delete?".into(), "state".into()).unwrap() else {
            panic!("not input_required")
        };
        let wire = serde_json::to_value(&result).unwrap();
        assert_eq!(wire["resultType"], "input_required");
        assert_eq!(wire["requestState"], "state");
        let request = &wire["inputRequests"][CONFIRM];
        assert_eq!(request["method"], "elicitation/create");
        assert_eq!(request["params"]["message"], "Delete?");
        assert_eq!(request["params"]["requestedSchema"]["properties"]["confirm"]["type"], "boolean");
    }
}
