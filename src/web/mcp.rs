//! The MCP endpoint: every catalog operation as a typed, annotated tool, served statelessly
//! over streamable HTTP by rmcp through rmcp-actix-web.
//!
//! Authentication happens in actix middleware ([`gate`]), because rmcp-actix-web strips the
//! `Authorization` header before rmcp sees it; the middleware hands an [`McpContext`] to the
//! handler through the builder's `on_request_fn`.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};

use super::request::{RequestId, caller, declared_length, read_limited};
use super::sessions::{InSession, ReadBody, SESSION_HEADER, Sessions};
use super::{WebState, person};
use crate::call::{self, AppState};
use crate::catalog::{self, Effect, Operation};
use crate::db::tx::{self, Call, Caller, Principal, Via};
use crate::error::ApiError;
use crate::skills;

/// Arguments every mutating tool accepts besides its operation's input.
pub const IDEMPOTENCY_ARG: &str = "idempotencyKey";
/// The argument that carries a confirmation token to a tool that asked for one.
pub const CONFIRMATION_ARG: &str = "confirmationToken";

/// What the gate established about an MCP request.
#[derive(Clone, Debug)]
pub struct McpContext {
    pub caller: Caller,
    /// None for a caller without a key: they see only the no-key tools.
    pub principal: Option<Principal>,
    pub request_id: String,
    pub client_ip: Option<std::net::IpAddr>,
    /// Toolsets asked for on the URL or in `X-MCP-Toolsets`; None: all.
    pub toolsets: Option<Vec<String>>,
    /// `readOnly=true` or `X-MCP-Readonly: true`: only read-only tools.
    pub read_only: bool,
    /// A `tools/call` authenticates inside the call's own transaction; when the database
    /// refuses the key there, the call leaves the refusal here and the gate answers HTTP 401
    /// with it, as it would have before rmcp.
    pub refused_key: Arc<std::sync::Mutex<Option<ApiError>>>,
    /// A read's answer as PostgreSQL wrote it, for the gate to send as the result's
    /// `structuredContent` (see [`with_structured_content`]): parsing a page into a `Value`
    /// only for rmcp to write it out again cost a tool call about a fifth of the server's time.
    pub structured_text: Arc<std::sync::Mutex<Option<String>>>,
    /// The request belongs to a session ([`sessions`]): answered as an event stream, so a
    /// read's structuredContent goes into the result itself.
    pub session: bool,
    /// Served on [`PUBLIC_PATH`]: a keyed tool called without a key is an error result there,
    /// not the HTTP 401 that starts an OAuth client's sign-in.
    pub public: bool,
}

impl McpContext {
    /// Whether a tool is offered to this caller: without a key, the no-key tools alone; with
    /// one, the tools whose scope it holds and whose role its member has. Then the request's
    /// toolset and read-only narrowing.
    pub fn offers(&self, op: &Operation) -> bool {
        let held = match &self.principal {
            None => op.is_public(),
            Some(p) => p.scopes.iter().any(|s| s == op.scope) && op.allows_role(&p.role),
        };
        held && self.enabled(op)
    }

    fn enabled(&self, op: &Operation) -> bool {
        (!self.read_only || op.read_only())
            && self.toolsets.as_ref().is_none_or(|sets| sets.iter().any(|t| t == op.toolset))
    }
}

/// Where an MCP client without a key may open a session (initialize) to register an
/// organisation or join a team. On `/mcp` itself, a client without a key gets 401 with the
/// OAuth challenge for everything but the plain stateless no-key calls, so that connector-style
/// clients start their sign-in.
pub const PUBLIC_PATH: &str = "/mcp/public";

/// Middleware in front of rmcp: makes plain clients acceptable to rmcp (Accept and
/// Content-Type), authenticates the bearer key, and reads toolset narrowing.
pub async fn gate(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let web = req.app_data::<web::Data<WebState>>().cloned();
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let (Some(state), Some(web)) = (state, web) else {
        return Ok(deny(req, ApiError::internal("no application state")));
    };
    // A web page may not make its visitors' browsers call the server: a browser always names
    // the page's origin, and only the server's own and the configured ones may call.
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if !origin_allowed(origin, host, &web.mcp_allowed_origins) {
            let error = ApiError::new(
                http::StatusCode::FORBIDDEN,
                "origin_not_allowed",
                format!(
                    "Requests from the web origin {origin} are not allowed on /mcp. The operator can allow it \
                     with FAVCRM_MCP_ALLOWED_ORIGINS."
                ),
            );
            return Ok(deny(req, error));
        }
    }
    // JSON only, as on REST: a form or text/plain body is what a cross-site form can send.
    if req.method() == actix_web::http::Method::POST
        && let Some(content_type) = req.headers().get(header::CONTENT_TYPE)
    {
        let mime = content_type.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if mime != "application/json" {
            let error = ApiError::new(
                http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send JSON-RPC messages as JSON with Content-Type: application/json.",
            );
            return Ok(deny(req, error));
        }
    }
    // JSON-RPC's own errors for a body that is not one JSON-RPC message (rmcp would answer 415).
    let mut calls_tool = false;
    let mut method = String::new();
    let mut direct = None;
    if req.method() == actix_web::http::Method::POST {
        // Read once: by the session router in front, or here.
        let read = req.extensions_mut().remove::<ReadBody>();
        let bytes = match read {
            Some(ReadBody(bytes)) => bytes,
            None => match read_limited(declared_length(req.headers()), req.take_payload()).await {
                Ok(bytes) => bytes.freeze(),
                Err(error) => return Ok(deny(req, error)),
            },
        };
        match serde_json::from_slice::<Value>(&bytes) {
            Err(e) => return Ok(rpc_error(req, -32700, format!("Parse error: the body is not JSON ({e})."))),
            Ok(Value::Array(_)) => {
                return Ok(rpc_error(
                    req,
                    -32600,
                    "Invalid Request: batches are not supported; send one JSON-RPC message per request.".into(),
                ));
            }
            Ok(message) => {
                method = message["method"].as_str().unwrap_or_default().to_string();
                calls_tool = method == "tools/call";
                direct = if calls_tool { plain_tool_call(&req, message, &web.mcp_allowed_hosts) } else { None };
                if direct.is_none() {
                    req.set_payload(actix_web::dev::Payload::from(bytes));
                }
            }
        }
    }
    normalise_headers(&mut req);
    let session = req.extensions().get::<InSession>().is_some();
    // Without a key, /mcp answers only the plain no-key calls (tools/list shows the no-key
    // tools; a keyed tool is refused with 401 inside the call); anything else — an initialize
    // above all — gets the 401 whose challenge starts an OAuth client's sign-in.
    let public = req.path().starts_with(PUBLIC_PATH);
    let plain_no_key_call =
        req.method() == actix_web::http::Method::POST && matches!(method.as_str(), "tools/list" | "tools/call");
    if !public && !plain_no_key_call && !req.headers().contains_key(header::AUTHORIZATION) {
        let error = ApiError::unauthorized(
            "missing_api_key",
            format!(
                "Sign in: this MCP server takes an OAuth access token (discovery starts at \
                 /.well-known/oauth-protected-resource/mcp) or an API key as Authorization: Bearer fav_mcp_…. \
                 To register an organisation or join a team without either, connect to {PUBLIC_PATH}."
            ),
        );
        return Ok(deny(req, error));
    }
    // No Authorization header: a caller without a key, who may register or join a team. A
    // header that is malformed, or a key that is unknown, revoked or expired, is a 401. A tool
    // call authenticates in its own transaction (one round trip, as on REST); other methods
    // (tools/list needs the key's scopes) look the key up here.
    let (caller, principal) = if req.headers().contains_key(header::AUTHORIZATION) {
        let caller = match caller(req.headers(), || super::oauth::resource(req.request(), super::oauth::MCP_PATH)) {
            Ok(caller) => caller,
            Err(error) => return Ok(deny(req, error)),
        };
        if calls_tool && !session {
            (caller, None)
        } else {
            match tx::authenticate(&state.pool, &caller, Via::Mcp, &request_id).await {
                Ok(p) => (caller, Some(p)),
                Err(e) => return Ok(deny(req, e)),
            }
        }
    } else {
        (Caller::Anonymous, None)
    };
    // A session belongs to the key that opened it: to any other caller it does not exist.
    let sessions = req.app_data::<web::Data<Sessions>>().cloned();
    let named = req.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let key_digest = match &caller {
        Caller::Key { digest, .. } => Some(*digest),
        Caller::Session { .. } | Caller::Anonymous => None,
    };
    if let Some(named) = &named
        && !key_digest.is_some_and(|d| sessions.as_ref().is_some_and(|s| s.owned_by(named, &d)))
    {
        let error = ApiError::new(
            http::StatusCode::NOT_FOUND,
            "session_not_found",
            "No such MCP session for this key: it ended (after five idle minutes, or with the server), or another \
             key opened it. Initialize again.",
        );
        return Ok(deny(req, error));
    }
    let client_ip = web.client_ip(req.request());
    let (toolsets, read_only) = narrowing(&req);
    if let Some(unknown) = toolsets.iter().flatten().find(|t| !catalog::toolsets().contains(&t.as_str())) {
        let error = ApiError::invalid(
            "toolsets",
            "unknown_toolset",
            format!("{unknown} is not a toolset; the toolsets are {}.", catalog::toolsets().join(", ")),
        )
        .extra("toolsets", json!(catalog::toolsets()));
        return Ok(deny(req, error));
    }
    let refused_key = Arc::new(std::sync::Mutex::new(None));
    let structured_text = Arc::new(std::sync::Mutex::new(None));
    let context = McpContext {
        caller,
        principal,
        request_id,
        client_ip,
        toolsets,
        read_only,
        refused_key,
        structured_text,
        session,
        public,
    };
    if let Some((id, params)) = direct {
        return answer_tool_call(req, state, context, id, params).await;
    }
    let refused = context.refused_key.clone();
    let structured = context.structured_text.clone();
    req.extensions_mut().insert(context);
    let res = next.call(req).await?;
    if session && named.is_none() {
        // The session this initialize opened belongs to its key.
        let opened = res.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok());
        if let (Some(opened), Some(sessions), Some(digest)) = (opened, &sessions, key_digest) {
            sessions.opened(opened, digest).await;
        }
    }
    if let Some(error) = refused.lock().ok().and_then(|mut r| r.take()) {
        let (req, _) = res.into_parts();
        return Ok(ServiceResponse::new(req, error.error_response()));
    }
    // rmcp streams even a plain JSON answer in many small frames; sent as one body, a page of
    // tools or customers costs a fraction of the writes. (Event streams pass through as they are.)
    let is_json =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_json {
        if structured.lock().ok().is_some_and(|s| s.is_some()) {
            // rmcp answers a stateless request with JSON (json_response); were that to change,
            // a read's structuredContent would be missing here.
            tracing::error!("a tool's structured content could not be added to a non-JSON response");
        }
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (head, body) = res.map_into_boxed_body().into_parts();
    let bytes =
        actix_web::body::to_bytes(body).await.map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
    let bytes = match structured.lock().ok().and_then(|mut s| s.take()) {
        Some(text) => with_structured_content(bytes, &text)?,
        None => bytes,
    };
    let res = head.set_body(bytes).map_into_boxed_body();
    Ok(ServiceResponse::new(req, res))
}

/// A `tools/call` that rmcp would take exactly as it is: one JSON-RPC request with a number or
/// string id, only a tool name and arguments, no `Mcp-` headers but a protocol version of the
/// 2025 revisions (whose tool results have this one shape), no `Origin`, and a `Host` that
/// rmcp's list names as it is. The gate answers it without rmcp's per-request transport (the
/// request bridged into `http` types, a one-shot service spawned and awaited through a
/// channel), which cost a tool call about as much server time as the rest of it. The answer is
/// rmcp's own message type serialised as rmcp does; anything else, including every request
/// rmcp could refuse, goes through rmcp.
fn plain_tool_call(
    req: &ServiceRequest,
    message: Value,
    allowed_hosts: &[String],
) -> Option<(rmcp::model::RequestId, CallToolRequestParams)> {
    let Value::Object(mut message) = message else { return None };
    let params = message.get("params")?.as_object()?;
    let plain = message.len() == 4
        && message.get("jsonrpc")? == "2.0"
        && params.keys().all(|k| k == "name" || k == "arguments")
        && params.get("name")?.is_string()
        && params.get("arguments").is_none_or(Value::is_object);
    if !plain {
        return None;
    }
    let headers = req.headers();
    if headers.keys().any(|name| name.as_str().starts_with("mcp-") && name.as_str() != "mcp-protocol-version")
        || headers.contains_key(header::ORIGIN)
    {
        return None;
    }
    let mut versions = headers.get_all("mcp-protocol-version");
    if let Some(version) = versions.next()
        && (versions.next().is_some() || !matches!(version.as_bytes(), b"2025-03-26" | b"2025-06-18" | b"2025-11-25"))
    {
        return None;
    }
    let mut hosts = headers.get_all(header::HOST);
    let host = hosts.next()?.to_str().ok()?;
    if hosts.next().is_some() || !(allowed_hosts.is_empty() || allowed_hosts.iter().any(|a| host_named(a, host))) {
        return None;
    }
    let id = match message.remove("id")? {
        Value::String(id) => rmcp::model::RequestId::String(id.into()),
        Value::Number(n) => rmcp::model::RequestId::Number(n.as_i64()?),
        _ => return None,
    };
    let params = serde_json::from_value(message.remove("params")?).ok()?;
    Some((id, params))
}

/// Whether a `Host` header names an allowed host exactly: the same host and port, or the same
/// host when the allowed one names no port. (A subset of what rmcp accepts: whatever this does
/// not recognise, rmcp judges.)
fn host_named(allowed: &str, host: &str) -> bool {
    if allowed == host {
        return true;
    }
    let allowed = allowed.trim_start_matches('[').trim_end_matches(']');
    if allowed.contains(':') && !allowed.contains("::") {
        return false; // a port of its own: only the exact match above
    }
    let bare = match host.strip_prefix('[') {
        Some(rest) => rest.split_once("]:"),
        None => host.split_once(':'),
    };
    bare.is_some_and(|(h, port)| h == allowed && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
}

/// Answers a plain tool call (see [`plain_tool_call`]) as rmcp would: the handler's result or
/// error in rmcp's JSON-RPC message, a read's page added as `structuredContent`, a key the
/// database refused as HTTP 401.
async fn answer_tool_call(
    req: ServiceRequest,
    state: web::Data<AppState>,
    mcp: McpContext,
    id: rmcp::model::RequestId,
    params: CallToolRequestParams,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let outcome = FavcrmMcp::new(state).run_tool(&mcp, params, None).await;
    if let Some(error) = mcp.refused_key.lock().ok().and_then(|mut r| r.take()) {
        return Ok(deny(req, error));
    }
    let message: rmcp::model::ServerJsonRpcMessage = match outcome {
        Ok(response) => {
            // What rmcp's handler does to a result for a peer on a 2025 revision.
            let mut result = rmcp::model::ServerResult::from(response);
            result.strip_result_type_for_legacy_peer();
            result.strip_non_object_output_for_legacy_peer();
            rmcp::model::JsonRpcMessage::response(result, id)
        }
        Err(error) => rmcp::model::JsonRpcMessage::error(error, Some(id)),
    };
    let structured = mcp.structured_text.lock().ok().and_then(|mut s| s.take());
    // Written once into a buffer of the right size: the page escaped as text, then as itself.
    let page = structured.as_ref().map_or(0, String::len);
    let mut bytes = Vec::with_capacity(3 * page + 256);
    serde_json::to_writer(&mut bytes, &message)
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
    let bytes = match structured {
        Some(text) => with_structured_content(bytes, &text)?,
        None => bytes.into(),
    };
    Ok(req.into_response(actix_web::HttpResponse::Ok().content_type("application/json").body(bytes)))
}

/// Adds `"structuredContent": <text>` to the result of a serialised JSON-RPC response whose
/// result is a tool call's. rmcp writes a response's `result` last, so the message ends with
/// the result's closing brace and then its own: the member goes in before them. `text` is JSON
/// PostgreSQL built (checked by the handler); any other shape takes the slow road through
/// `Value`.
fn with_structured_content(bytes: impl Into<Vec<u8>>, text: &str) -> Result<web::Bytes, actix_web::Error> {
    const MEMBER: &[u8] = b",\"structuredContent\":";
    let mut bytes: Vec<u8> = bytes.into();
    if bytes.ends_with(b"}}") {
        bytes.truncate(bytes.len() - 2);
        bytes.reserve(MEMBER.len() + text.len() + 2);
        bytes.extend_from_slice(MEMBER);
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(b"}}");
        return Ok(bytes.into());
    }
    let internal = |e: serde_json::Error| actix_web::error::ErrorInternalServerError(e.to_string());
    let mut message: Value = serde_json::from_slice(&bytes).map_err(internal)?;
    if let Some(result) = message.get_mut("result").and_then(Value::as_object_mut) {
        result.insert("structuredContent".into(), serde_json::from_str(text).map_err(internal)?);
    }
    Ok(serde_json::to_vec(&message).map_err(internal)?.into())
}

/// A JSON-RPC error with no id (the request could not be read), as HTTP 400.
fn rpc_error(req: ServiceRequest, code: i64, message: String) -> ServiceResponse<actix_web::body::BoxBody> {
    let body = json!({ "jsonrpc": "2.0", "id": null, "error": { "code": code, "message": message } });
    req.into_response(actix_web::HttpResponse::BadRequest().json(body))
}

fn deny(req: ServiceRequest, error: ApiError) -> ServiceResponse<actix_web::body::BoxBody> {
    req.into_response(error.error_response())
}

/// Whether a browser origin may call `/mcp`: the server's own (same scheme-less host and port
/// as the request's `Host`), or one the operator listed.
fn origin_allowed(origin: &str, host: &str, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    if allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    !authority.is_empty() && authority.eq_ignore_ascii_case(host)
}

/// rmcp wants `Accept` to list both JSON and SSE and the body typed as JSON; simple
/// clients (curl, scripts) send neither.
fn normalise_headers(req: &mut ServiceRequest) {
    if req.method() != actix_web::http::Method::POST {
        return;
    }
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if !(accept.contains("application/json") && accept.contains("text/event-stream")) {
        let value = if accept.contains("text/event-stream") && !accept.contains("application/json") {
            "text/event-stream, application/json"
        } else {
            "application/json, text/event-stream"
        };
        req.headers_mut().insert(header::ACCEPT, HeaderValue::from_static(value));
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with("application/json") {
        req.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
}

fn narrowing(req: &ServiceRequest) -> (Option<Vec<String>>, bool) {
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let from_query = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let from_header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let toolsets = from_query("toolsets")
        .or_else(|| from_header("x-mcp-toolsets"))
        .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>());
    let read_only = from_query("readOnly")
        .or_else(|| from_header("x-mcp-readonly"))
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    (toolsets, read_only)
}

/// The MCP server: stateless, one instance per request.
#[derive(Clone)]
pub struct FavcrmMcp {
    state: web::Data<AppState>,
}

impl FavcrmMcp {
    pub fn new(state: web::Data<AppState>) -> Self {
        Self { state }
    }
}

/// The MCP context of a request, as put there by [`gate`].
fn context(ctx: &RequestContext<RoleServer>) -> Result<McpContext, ErrorData> {
    let from_parts = ctx
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<rmcp::model::Extensions>())
        .and_then(|ext| ext.get::<McpContext>());
    from_parts
        .or_else(|| ctx.extensions.get::<McpContext>())
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("request context missing", None))
}

/// The skills, as MCP resources.
pub fn resources() -> Vec<Value> {
    skills::all()
        .into_iter()
        .map(|s| json!({ "uri": s.uri, "name": s.name, "description": s.description, "mimeType": "text/markdown" }))
        .collect()
}

/// `GET /.well-known/mcp/server-card.json`: what an MCP client needs to know before it connects.
pub fn server_card() -> Value {
    let mut tools: Vec<&Operation> = catalog::all().iter().collect();
    tools.sort_by_key(|op| op.name);
    json!({
        "name": "favcrm",
        "title": "favcrm",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Agentic headless backend for service businesses: customers, bookings (services, slots, appointments, classes, waiting lists), the team, API keys and the audit log. Without a key: registration and joining a team by invitation.",
        "transport": { "type": "streamable-http", "endpoint": "/mcp", "stateless": true },
        "authentication": {
            "type": "bearer",
            "keyPrefixes": ["fav_mcp_", "fav_sk_"],
            "oauth": {
                "protectedResourceMetadata": "/.well-known/oauth-protected-resource/mcp",
                "authorizationServerMetadata": "/.well-known/oauth-authorization-server",
                "tokenPrefix": tx::ACCESS_TOKEN_PREFIX,
            },
            "required": false,
            "withoutKey": catalog::all().iter().filter(|op| op.is_public()).map(|op| op.name).collect::<Vec<_>>(),
            "withoutKeyEndpoint": PUBLIC_PATH,
        },
        "capabilities": { "tools": {}, "resources": {} },
        "tools": tools.into_iter().map(tool_json).collect::<Vec<_>>(),
        "resources": resources(),
    })
}

/// The MCP description of an operation.
pub fn tool_json(op: &Operation) -> Value {
    let mut input = op.input_schema.clone();
    if !op.read_only() && !op.is_public() && input.get("properties").is_none() {
        // An operation that takes nothing still takes these.
        input["properties"] = json!({});
    }
    if !op.read_only()
        && !op.is_public()
        && let Some(props) = input["properties"].as_object_mut()
    {
        props.insert(
                IDEMPOTENCY_ARG.into(),
                json!({
                    "type": "string", "minLength": 1, "maxLength": 255,
                    "description": "Optional. A unique string per intended change: retrying with the same key and arguments returns the first result instead of acting twice."
                }),
            );
        if op.confirm {
            props.insert(
                    CONFIRMATION_ARG.into(),
                    json!({
                        "type": "string", "minLength": 1, "maxLength": 200,
                        "description": "Only on the second call: the confirmationToken returned when this tool answered confirmation_required, after the person you act for approved the preview. Same arguments as the first call."
                    }),
                );
        }
    }
    json!({
        "name": op.name,
        "title": op.title,
        "description": op.client_description(),
        "inputSchema": input,
        "outputSchema": op.output_schema,
        "annotations": {
            "title": op.title,
            "readOnlyHint": op.read_only(),
            "destructiveHint": op.effect == Effect::Destructive,
            "idempotentHint": op.idempotent,
            "openWorldHint": op.open_world,
        },
    })
}

/// Every tool, built once: schemas are shared (`Arc`) by every `tools/list` answer.
fn tools() -> &'static [(&'static Operation, Tool)] {
    static TOOLS: std::sync::LazyLock<Vec<(&'static Operation, Tool)>> = std::sync::LazyLock::new(|| {
        let mut tools: Vec<(&'static Operation, Tool)> = catalog::all()
            .iter()
            .map(|op| (op, serde_json::from_value(tool_json(op)).unwrap_or_else(|e| panic!("tool {}: {e}", op.name))))
            .collect();
        tools.sort_by_key(|(op, _)| op.name);
        tools
    });
    &TOOLS
}

/// A business error as a tool result the agent can read: `isError` with the problem (code,
/// detail, field errors, a confirmation token or nearby slots) as JSON text. It carries no
/// `structuredContent`, which must conform to the tool's `outputSchema`: clients that validate
/// (the TypeScript SDK, MCP Inspector) would otherwise throw the error away unseen.
fn error_result(error: &ApiError) -> CallToolResult {
    CallToolResult::error(vec![rmcp::model::ContentBlock::text(error.body(None).to_string())])
}

impl ServerHandler for FavcrmMcp {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build());
        info.server_info = Implementation::new("favcrm", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(
            "favcrm is the back office of a service business: customers, their notes and tags, bookings (services, \
             staff hours, slots, appointments, classes and waiting lists), the team, the organisation, API keys and \
             the audit log. Call get_organisation first to learn its time zone and \
             currency. Find records with the list_ tools before changing them. Every change is audited. Without \
             an API key or OAuth sign-in, only registration (register_organisation_request, then \
             register_organisation_verify) and joining a team by invitation (accept_team_invite_request, then \
             accept_team_invite_verify) are offered, on /mcp/public; read the resource skill://favcrm/agentic-registration first."
                .into(),
        );
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mcp = context(&ctx)?;
        let tools: Vec<Tool> = tools().iter().filter(|(op, _)| mcp.offers(op)).map(|(_, tool)| tool.clone()).collect();
        Ok(ListToolsResult { tools, ..Default::default() })
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        serde_json::from_value(json!({ "resources": resources() }))
            .map_err(|e| ErrorData::internal_error(format!("resources/list: {e}"), None))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let Some(skill) = skills::find(&request.uri) else {
            return Err(ErrorData::resource_not_found(format!("no resource {}", request.uri), None));
        };
        let result: ReadResourceResult = serde_json::from_value(json!({
            "contents": [{ "uri": skill.uri, "mimeType": "text/markdown", "text": skill.text }]
        }))
        .map_err(|e| ErrorData::internal_error(format!("resources/read: {e}"), None))?;
        Ok(result.into())
    }

    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let mcp = context(&ctx)?;
        let asker = asker(&ctx, &mcp, &mut request);
        self.run_tool(&mcp, request, asker).await
    }
}

impl FavcrmMcp {
    /// A tool call, whether rmcp delivered it or the gate took it directly. `asker`: how the
    /// client can ask its person, if it can (see [`person`]).
    async fn run_tool(
        &self,
        mcp: &McpContext,
        request: CallToolRequestParams,
        asker: Option<Asker>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(op) = catalog::find(&request.name) else {
            return Err(ErrorData::invalid_params(format!("unknown tool: {}", request.name), None));
        };
        if !mcp.enabled(op) {
            let error = ApiError::new(
                http::StatusCode::FORBIDDEN,
                "tool_not_enabled",
                format!("{} is outside the toolsets or read-only mode this connection asked for.", op.name),
            );
            return Ok(error_result(&error).into());
        }
        let mut args: Map<String, Value> = request.arguments.unwrap_or_default();
        let idempotency_key = match args.remove(IDEMPOTENCY_ARG) {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) if !k.is_empty() && k.len() <= 255 => Some(k),
            Some(_) => {
                let error = ApiError::invalid(
                    IDEMPOTENCY_ARG,
                    "invalid_idempotency_key",
                    "idempotencyKey must be a string of 1 to 255 characters.",
                );
                return Ok(error_result(&error).into());
            }
        };
        let confirmation_token = match args.remove(CONFIRMATION_ARG) {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if op.confirm && !t.is_empty() && t.len() <= 200 => Some(t),
            Some(_) => {
                let error = ApiError::invalid(
                    CONFIRMATION_ARG,
                    "invalid_confirmation_token",
                    "confirmationToken must be the string this tool returned.",
                );
                return Ok(error_result(&error).into());
            }
        };
        let mut input = Value::Object(args);
        if let Err(e) = op.check_input(&mut input) {
            return Ok(error_result(&e).into());
        }
        let call = Call {
            op,
            caller: &mcp.caller,
            input: &input,
            via: Via::Mcp,
            request_id: &mcp.request_id,
            idempotency_key: idempotency_key.as_deref(),
            confirmation_token: confirmation_token.as_deref(),
            person_secret: None,
        };
        // Only a call that can need the person is put to them; a retry that carries a request
        // state is always checked (a state for any other call does not open).
        let asker =
            asker.filter(|a| op.may_ask_the_person() || matches!(a, Asker::InputRequired { state: Some(_), .. }));
        match (&mcp.caller, asker) {
            (Caller::Key { digest, .. }, Some(asker)) => match self.ask_person(mcp, call, digest, asker).await {
                Ok(Asked::Question(question)) => Ok(question),
                Ok(Asked::Done(outcome)) => self.tool_result(mcp, outcome),
                Err(error) => self.tool_result(mcp, Err(error)),
            },
            _ => {
                let outcome = call::dispatch(&self.state, call, mcp.client_ip).await;
                self.tool_result(mcp, outcome)
            }
        }
    }

    /// A call from a client that can ask its person: the person, not a token the model holds,
    /// confirms a destructive call or approves an agent's request (see [`person`]).
    async fn ask_person(
        &self,
        mcp: &McpContext,
        call: Call<'_>,
        key_digest: &[u8],
        asker: Asker,
    ) -> Result<Asked, ApiError> {
        let secrets = self.state.secrets().map_err(ApiError::internal)?;
        let seal = person::Seal::new(secrets)?;
        let binding = person::binding(key_digest, call.op.name, call.input);
        if let Asker::InputRequired { state: Some(state), responses } = &asker {
            // The retry, with the person's answer.
            let pending = seal.open(&binding, state)?;
            let answer = person::answer(responses.as_ref())?;
            return self.carry_out(mcp, call, pending, answer).await;
        }
        // The first round. A token the model offers is not the person's confirmation.
        let secret = person::new_secret();
        let first = Call { confirmation_token: None, person_secret: Some(&secret), ..call };
        let op = call.op;
        let (message, pending) = match call::dispatch(&self.state, first, mcp.client_ip).await {
            Err(error) if error.code == "confirmation_required" => {
                let Some(token) = error.extra.get("confirmationToken").and_then(Value::as_str) else {
                    return Err(error);
                };
                (
                    person::confirm_message(op, &error.extra["preview"]),
                    person::Pending::Confirm { t: token.to_string() },
                )
            }
            Err(error)
                if error.code == "approval_required"
                    && error.extra["approval"]["decidableInClient"] == Value::Bool(true) =>
            {
                let approval = &error.extra["approval"];
                let Some(id) = approval["id"].as_str().and_then(|id| id.parse().ok()) else {
                    return Err(error);
                };
                (person::approve_message(op, approval), person::Pending::Approve { a: id, s: secret.clone() })
            }
            other => return Ok(Asked::Done(other)),
        };
        match asker {
            Asker::InputRequired { .. } => {
                let state = seal.seal(&binding, &pending)?;
                Ok(Asked::Question(person::ask(message, state)?))
            }
            Asker::Session(peer) => {
                let params = serde_json::from_value(person::form(message)).map_err(ApiError::internal)?;
                let answer = match peer.create_elicitation_with_timeout(params, Some(person::ANSWER_WITHIN)).await {
                    Ok(result) => person::answer_of(&serde_json::to_value(result).map_err(ApiError::internal)?)?,
                    Err(rmcp::ServiceError::Timeout { .. }) => {
                        return Err(person::not_answered(op, "did not answer in time"));
                    }
                    Err(error) => {
                        tracing::info!(%error, "the client could not ask its person");
                        return Err(person::not_answered(op, "the client could not ask them"));
                    }
                };
                self.carry_out(mcp, call, pending, answer).await
            }
        }
    }

    /// What the person answered: a ticked confirmation carries out what they were shown (the
    /// confirmed call, or the approval's snapshot); anything else, nothing.
    async fn carry_out(
        &self,
        mcp: &McpContext,
        call: Call<'_>,
        pending: person::Pending,
        answer: person::Answer,
    ) -> Result<Asked, ApiError> {
        if let person::Answer::NotConfirmed(how) = answer {
            return Err(person::not_confirmed(call.op, &pending, how));
        }
        match pending {
            person::Pending::Confirm { t } => {
                let call = Call { confirmation_token: Some(&t), person_secret: None, ..call };
                Ok(Asked::Done(call::dispatch(&self.state, call, mcp.client_ip).await))
            }
            person::Pending::Approve { a, s } => {
                let approve = catalog::find("approve").ok_or_else(|| ApiError::internal("no approve operation"))?;
                let input = json!({ "approvalId": a });
                let decision = Call {
                    op: approve,
                    input: &input,
                    idempotency_key: None,
                    confirmation_token: None,
                    person_secret: Some(&s),
                    ..call
                };
                let mut outcome = call::dispatch(&self.state, decision, mcp.client_ip).await?;
                let approval = match std::mem::replace(&mut outcome.body, tx::Body::Value(Value::Null)) {
                    tx::Body::Value(value) => value,
                    tx::Body::Text(text) => serde_json::from_str(&text).map_err(ApiError::internal)?,
                };
                outcome.body = tx::Body::Value(person::approved_result(&approval)?);
                Ok(Asked::Done(Ok(outcome)))
            }
        }
    }

    /// A call's outcome as a tool result.
    fn tool_result(
        &self,
        mcp: &McpContext,
        outcome: Result<tx::Outcome, ApiError>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(match outcome {
            Ok(outcome) => {
                // A read's text as PostgreSQL built it, not parsed into a Value: the gate adds
                // it to the response as structuredContent. It is JSON because every operation's
                // function returns json or jsonb, whose values PostgreSQL has checked (policy
                // rule 9 holds every api function to that).
                match outcome.body {
                    tx::Body::Value(value) => {
                        let mut result =
                            CallToolResult::success(vec![rmcp::model::ContentBlock::text(value.to_string())]);
                        result.structured_content = Some(value);
                        result.into()
                    }
                    tx::Body::Text(text) if mcp.session => {
                        let value: Value = serde_json::from_str(&text)
                            .map_err(|e| ErrorData::internal_error(format!("a tool's answer: {e}"), None))?;
                        let mut result = CallToolResult::success(vec![rmcp::model::ContentBlock::text(text)]);
                        result.structured_content = Some(value);
                        result.into()
                    }
                    tx::Body::Text(text) => {
                        if let Ok(mut structured) = mcp.structured_text.lock() {
                            *structured = Some(text.clone());
                        }
                        CallToolResult::success(vec![rmcp::model::ContentBlock::text(text)]).into()
                    }
                }
            }
            Err(error)
                if error.status == http::StatusCode::UNAUTHORIZED
                    && (matches!(mcp.caller, Caller::Key { .. }) || !mcp.public) =>
            {
                // The key was refused inside the call, or a keyed tool was called without one on
                // /mcp: the gate answers HTTP 401 with this (and the OAuth challenge).
                let message = error.detail.clone();
                if let Ok(mut refused) = mcp.refused_key.lock() {
                    *refused = Some(error);
                }
                return Err(ErrorData::invalid_request(message, None));
            }
            Err(error) => {
                if error.status.is_server_error() {
                    return Err(ErrorData::internal_error(error.detail.clone(), Some(error.body(None))));
                }
                error_result(&error).into()
            }
        })
    }
}

/// What asking the person gave: a question for the client to put to them, or the call's
/// outcome.
enum Asked {
    Question(CallToolResponse),
    Done(Result<tx::Outcome, ApiError>),
}

/// How the client of a request can ask its person.
enum Asker {
    /// On the 2026-07-28 protocol: an `input_required` answer carries the question, and the
    /// retry the answer (with the request state echoed).
    InputRequired { state: Option<String>, responses: Option<rmcp::model::InputResponses> },
    /// In a session on a 2025 protocol: an `elicitation/create` request while the call waits.
    Session(rmcp::Peer<RoleServer>),
}

/// How the client of this request can ask its person, if it can: form elicitation among the
/// capabilities it declared, and either the 2026-07-28 protocol or a session on an older one.
fn asker(ctx: &RequestContext<RoleServer>, mcp: &McpContext, request: &mut CallToolRequestParams) -> Option<Asker> {
    let forms =
        ctx.client_capabilities().and_then(|c| c.elicitation).is_some_and(|e| e.form.is_some() || e.url.is_none());
    if !forms {
        return None;
    }
    if ctx.protocol_version().is_some_and(|v| v.as_str() >= "2026-07-28") {
        return Some(Asker::InputRequired {
            state: request.request_state.take(),
            responses: request.input_responses.take(),
        });
    }
    mcp.session.then(|| Asker::Session(ctx.peer.clone()))
}

/// The `/mcp` scope: rmcp's streamable HTTP service behind [`gate`]; stateless, or with the
/// shared `sessions` for the clients [`super::sessions`] routes to it.
pub fn service(
    state: web::Data<AppState>,
    allowed_hosts: Option<Vec<String>>,
    sessions: Option<Arc<rmcp_actix_web::transport::LocalSessionManager>>,
) -> rmcp_actix_web::transport::StreamableHttpService<FavcrmMcp> {
    let stateful = sessions.is_some();
    let builder = rmcp_actix_web::transport::StreamableHttpService::builder()
        .service_factory(Arc::new(move || Ok(FavcrmMcp::new(state.clone()))))
        .session_manager(sessions.unwrap_or_default())
        .stateful_mode(stateful)
        .json_response(true)
        .stateless_protocol_metadata_required(false)
        // Origins are checked by the gate (the server's own and the operator's list).
        .maybe_allowed_hosts(allowed_hosts);
    builder
        .on_request_fn(|req, ext| {
            if let Some(ctx) = req.extensions().get::<McpContext>() {
                ext.insert(ctx.clone());
            }
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_named_only_as_rmcp_would_also_accept_it() {
        for (allowed, host) in [
            ("127.0.0.1", "127.0.0.1:8080"),
            ("localhost", "localhost"),
            ("::1", "[::1]:8080"),
            ("api.example:443", "api.example:443"),
        ] {
            assert!(host_named(allowed, host), "{allowed} should name {host}");
        }
        for (allowed, host) in [
            ("127.0.0.1", "127.0.0.2:8080"),
            ("localhost", "localhost.evil:80"),
            ("localhost", "localhost:"),
            ("localhost", "localhost:8o"),
            ("api.example:443", "api.example:8443"),
            ("api.example:443", "api.example"),
            ("::1", "[::2]:8080"),
        ] {
            assert!(!host_named(allowed, host), "{allowed} should not name {host}");
        }
    }

    #[test]
    fn structured_content_joins_the_result_whichever_road_it_takes() {
        let text = r#"{"items" : [{"id":"a","name":"Ann \"A\""}], "nextCursor" : null}"#;
        let expected = json!({"jsonrpc": "2.0", "id": 7, "result": {
            "content": [{"type": "text", "text": text}],
            "structuredContent": serde_json::from_str::<Value>(text).unwrap(),
        }});
        let message = json!({"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": text}]}});
        // As rmcp writes it (the result last), and with the members in another order.
        let compact = web::Bytes::from(serde_json::to_vec(&message).unwrap());
        let reordered = web::Bytes::from(format!(
            r#"{{"result":{{"content":[{{"type":"text","text":{}}}]}},"id":7,"jsonrpc":"2.0"}} "#,
            Value::from(text)
        ));
        for bytes in [compact, reordered] {
            let joined = with_structured_content(bytes, text).unwrap();
            assert_eq!(serde_json::from_slice::<Value>(&joined).unwrap(), expected);
        }
    }
}
