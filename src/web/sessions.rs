//! Sessions for the clients that can use one: a client on a 2025 protocol that declares form
//! elicitation and presents a key gets an MCP session (`Mcp-Session-Id`), so that a destructive
//! call's confirmation or an agent's approval can be put to its person with `elicitation/create`
//! while the call waits (see [`super::person`]). Every other client is served statelessly, as
//! before: a session is kept only where it buys the person a say.
//!
//! A session lives in this server's memory (rmcp's `LocalSessionManager`, shared by every
//! worker), ends after five idle minutes, belongs to the key that opened it (another key naming
//! it is told it does not exist), and at most [`MAX_SESSIONS`] are open at once; beyond that a
//! client is served statelessly and keeps the token flow. With several servers behind a load
//! balancer, route by `Mcp-Session-Id` (sticky sessions); clients on 2026-07-28 need none.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use serde_json::Value;

use super::request::{declared_length, read_limited};

/// The most sessions open at once.
pub const MAX_SESSIONS: usize = 1000;
/// The header naming a session.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// Marks a request for the MCP service that keeps sessions.
#[derive(Clone, Copy, Debug)]
pub struct InSession;

/// A request's body as [`route`] read it, so that the gate does not read it again.
#[derive(Clone, Debug)]
pub struct ReadBody(pub web::Bytes);

/// The open sessions and the key that opened each.
pub struct Sessions {
    pub manager: Arc<LocalSessionManager>,
    owners: Mutex<HashMap<String, [u8; 32]>>,
}

impl Sessions {
    pub fn new() -> Self {
        Self { manager: Arc::new(LocalSessionManager::default()), owners: Mutex::default() }
    }

    /// Remembers that the key with this digest opened the session; forgets sessions rmcp has
    /// closed meanwhile.
    pub async fn opened(&self, session: &str, key: [u8; 32]) {
        let open: Vec<String> = self.manager.sessions.read().await.keys().map(|id| id.to_string()).collect();
        if let Ok(mut owners) = self.owners.lock() {
            owners.retain(|id, _| open.iter().any(|o| o == id));
            owners.insert(session.to_string(), key);
        }
    }

    /// Whether the session was opened by the key with this digest.
    pub fn owned_by(&self, session: &str, key: &[u8; 32]) -> bool {
        self.owners.lock().is_ok_and(|owners| owners.get(session) == Some(key))
    }

    async fn has_room(&self) -> bool {
        self.manager.sessions.read().await.len() < MAX_SESSIONS
    }
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware in front of the router: marks the requests that belong to a session (they name
/// one) or should open one (a keyed `initialize` on a 2025 protocol declaring form elicitation,
/// while there is room), for the session-keeping service's guard.
pub async fn route(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if matches!(req.path(), "/mcp" | "/mcp/") {
        if req.headers().contains_key(SESSION_HEADER) {
            req.extensions_mut().insert(InSession);
        } else if req.method() == actix_web::http::Method::POST && req.headers().contains_key(header::AUTHORIZATION) {
            let declared = declared_length(req.headers());
            let bytes = match read_limited(declared, req.take_payload()).await {
                Ok(bytes) => bytes.freeze(),
                Err(error) => return Ok(req.into_response(error.error_response())),
            };
            let sessions = req.app_data::<web::Data<Sessions>>().cloned();
            if opens_session(&bytes)
                && let Some(sessions) = sessions
                && sessions.has_room().await
            {
                req.extensions_mut().insert(InSession);
            }
            req.extensions_mut().insert(ReadBody(bytes.clone()));
            req.set_payload(actix_web::dev::Payload::from(bytes));
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_boxed_body)
}

/// Whether a request body is an `initialize` on a protocol before 2026-07-28 (which has no
/// sessions) from a client that declares form elicitation.
fn opens_session(body: &[u8]) -> bool {
    // Most requests are tool calls: look for the method's name before parsing anything.
    if !body.windows(12).any(|w| w == b"\"initialize\"") {
        return false;
    }
    let Ok(message) = serde_json::from_slice::<Value>(body) else { return false };
    let params = &message["params"];
    message["method"] == "initialize"
        && params["protocolVersion"].as_str().is_some_and(|v| v < "2026-07-28")
        && params["capabilities"]["elicitation"]
            .as_object()
            .is_some_and(|e| e.contains_key("form") || !e.contains_key("url"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_2025_initialize_declaring_form_elicitation_opens_a_session() {
        let init = |version: &str, capabilities: Value| {
            serde_json::to_vec(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": version, "capabilities": capabilities,
                           "clientInfo": {"name": "c", "version": "1"}}}))
            .unwrap()
        };
        assert!(opens_session(&init("2025-11-25", serde_json::json!({"elicitation": {}}))));
        assert!(opens_session(&init("2025-06-18", serde_json::json!({"elicitation": {"form": {}}}))));
        assert!(!opens_session(&init("2025-11-25", serde_json::json!({}))));
        assert!(!opens_session(&init("2025-11-25", serde_json::json!({"elicitation": {"url": {}}}))));
        assert!(!opens_session(&init("2026-07-28", serde_json::json!({"elicitation": {}}))));
        let call = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "initialize", "arguments": {"capabilities": {"elicitation": {}}}}});
        assert!(!opens_session(&serde_json::to_vec(&call).unwrap()));
    }
}
