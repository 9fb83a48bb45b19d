//! OAuth 2.1 for MCP clients that add the server by URL (connectors), as the MCP
//! authorization specification asks:
//!
//! ```text
//! client ──/mcp, no token──▶ 401  WWW-Authenticate: Bearer resource_metadata="…/.well-known/oauth-protected-resource/mcp"
//!        ──GET that────────▶ RFC 9728 protected resource metadata: resource, authorization_servers
//!        ──GET /.well-known/oauth-authorization-server──▶ RFC 8414 metadata
//!        ──POST /oauth/register (RFC 7591), or a client_id that is its metadata document's https URL
//!        ──browser: /oauth/authorize (PKCE S256, resource) → sign in by emailed code → consent
//!        ◀─redirect_uri?code=…&state=…&iss=…
//!        ──POST /oauth/token: code + code_verifier ──▶ access token (1 h) + refresh token (rotating)
//!        ──/mcp, Bearer access token──▶ tools
//! ```
//!
//! The rules (one use, bindings, rotation, reuse detection) are in `sql/operations/oauth.sql`;
//! this module reads HTTP into those entry points and their answers back into OAuth's shapes.
//! The human pages of the flow (sign-in, organisation, consent) are in [`super::pages`].
//!
//! Resources (RFC 8707): the server as a whole (its base URL: REST and `/mcp`) and `/mcp`
//! alone. The base is `FAVCRM_PUBLIC_URL` when set, else `http://` and the request's `Host`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::WebState;
use super::request::RequestId;
use crate::call::AppState;
use crate::db::tx::{Via, call_entry_point};
use crate::error::ApiError;

/// The path of the MCP endpoint, a resource of its own.
pub const MCP_PATH: &str = "/mcp";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/.well-known/oauth-protected-resource", web::get().to(protected_resource))
        .route("/.well-known/oauth-protected-resource/mcp", web::get().to(protected_resource_mcp))
        .route("/.well-known/oauth-authorization-server", web::get().to(authorization_server))
        .route("/oauth/register", web::post().to(register))
        .route("/oauth/token", web::post().to(token))
        .route("/oauth/revoke", web::post().to(revoke));
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/oauth/register",
        "/oauth/token",
        "/oauth/revoke",
    ] {
        cfg.route(path, web::method(actix_web::http::Method::OPTIONS).to(preflight));
    }
}

/// The server's base URL as clients reach it.
pub fn base(req: &HttpRequest) -> String {
    if let Some(public) = req.app_data::<web::Data<WebState>>().and_then(|w| w.public_url.clone()) {
        return public;
    }
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The resource a request to `path` (`""` for REST, [`MCP_PATH`]) is for.
pub fn resource(req: &HttpRequest, path: &str) -> String {
    format!("{}{path}", base(req))
}

/// A `resource` parameter in canonical form (RFC 8707 §2: absolute, no fragment; scheme and
/// host lower case, no trailing slash), if it is one of this server's resources.
pub fn our_resource(req: &HttpRequest, given: &str) -> Option<String> {
    let canonical = canonical(given)?;
    let base = canonical_base(req);
    [base.clone(), format!("{base}{MCP_PATH}")].into_iter().find(|r| *r == canonical)
}

fn canonical_base(req: &HttpRequest) -> String {
    canonical(&base(req)).unwrap_or_else(|| base(req))
}

fn canonical(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    if url.fragment().is_some() || url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let mut text = url.to_string();
    if url.query().is_none() {
        while text.ends_with('/') {
            text.pop();
        }
    }
    Some(text)
}

/// The scopes a client may ask for: every scope there is.
pub fn scopes_supported() -> Vec<String> {
    let mut scopes: Vec<String> =
        crate::catalog::all().iter().filter(|op| !op.is_public()).map(|op| op.scope.to_string()).collect();
    scopes.push("approvals:decide".into());
    scopes.sort();
    scopes.dedup();
    scopes
}

fn metadata_response(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::CACHE_CONTROL, "max-age=300"))
        .json(body)
}

async fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "authorization, content-type, mcp-protocol-version"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .finish()
}

fn protected_resource_for(req: &HttpRequest, path: &str, name: &str) -> HttpResponse {
    let base = canonical_base(req);
    metadata_response(json!({
        "resource": format!("{base}{path}"),
        "authorization_servers": [base],
        "scopes_supported": scopes_supported(),
        "bearer_methods_supported": ["header"],
        "resource_name": name,
        "resource_documentation": format!("{base}/openapi.json"),
    }))
}

/// RFC 9728 for the whole server (REST and MCP).
async fn protected_resource(req: HttpRequest) -> HttpResponse {
    protected_resource_for(&req, "", "favcrm API")
}

/// RFC 9728 for `/mcp` alone (its path-aware metadata URL).
async fn protected_resource_mcp(req: HttpRequest) -> HttpResponse {
    protected_resource_for(&req, MCP_PATH, "favcrm MCP server")
}

/// RFC 8414.
async fn authorization_server(req: HttpRequest) -> HttpResponse {
    let base = canonical_base(&req);
    metadata_response(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "registration_endpoint": format!("{base}/oauth/register"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "scopes_supported": scopes_supported(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{base}/openapi.json"),
    }))
}

/// An OAuth error answer (RFC 6749 §5.2, RFC 7591 §3.2.2): `error` and `error_description`,
/// with `code` and `detail` as every other refusal of this server has them.
pub fn oauth_error(status: http::StatusCode, error: &str, description: impl Into<String>) -> HttpResponse {
    let description = description.into();
    let mut res = HttpResponse::build(actix_status(status));
    res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")).insert_header((header::CACHE_CONTROL, "no-store"));
    if status == http::StatusCode::UNAUTHORIZED {
        res.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="favcrm""#));
    }
    res.json(json!({
        "error": error,
        "error_description": description,
        "code": error,
        "detail": description,
        "status": status.as_u16(),
    }))
}

/// An [`ApiError`] from an entry point, as an OAuth error answer.
fn oauth_refusal(error: ApiError) -> HttpResponse {
    match error.status {
        http::StatusCode::TOO_MANY_REQUESTS => {
            let mut res = oauth_error(error.status, "rate_limited", error.detail.clone());
            if let Some(seconds) = error.extra.get("retryAfterSeconds") {
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_str(&seconds.to_string()).unwrap_or(HeaderValue::from_static("60")),
                );
            }
            res
        }
        s if s.is_server_error() => oauth_error(error.status, "server_error", error.detail),
        _ => oauth_error(http::StatusCode::BAD_REQUEST, "invalid_request", error.detail),
    }
}

fn request_id(req: &HttpRequest) -> String {
    use actix_web::HttpMessage;
    req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default()
}

async fn entry(state: &AppState, req: &HttpRequest, function: &'static str, input: Value) -> Result<Value, ApiError> {
    call_entry_point(&state.pool, function, &input, Via::Rest, function, &request_id(req)).await
}

// ---------------------------------------------------------------------------------------
// Registration (RFC 7591)
// ---------------------------------------------------------------------------------------

/// Whether a redirect URI may be registered: https; http only to a loopback address (a native
/// client's local listener, RFC 8252 §7.3); or a private-use scheme (`com.example.app:/cb`,
/// `cursor://…`). Never a fragment, and never a scheme that runs code or reads files.
pub fn redirect_uri_problem(uri: &str) -> Option<&'static str> {
    let Ok(url) = url::Url::parse(uri) else { return Some("is not an absolute URI") };
    if url.fragment().is_some() {
        return Some("has a fragment");
    }
    match url.scheme() {
        "https" => None,
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => None,
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => None,
            Some(url::Host::Domain("localhost")) => None,
            _ => Some("uses http to a host that is not loopback (use https)"),
        },
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "ftp" | "ws" | "wss" => {
            Some("uses a scheme that cannot be a redirect URI")
        }
        _ => None,
    }
}

async fn register(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    web_state: web::Data<WebState>,
) -> HttpResponse {
    let bad = |error: &str, description: String| oauth_error(http::StatusCode::BAD_REQUEST, error, description);
    let Ok(Value::Object(meta)) = serde_json::from_slice::<Value>(&body) else {
        return bad("invalid_client_metadata", "The body must be a JSON object of client metadata (RFC 7591).".into());
    };
    let uris: Vec<String> = match meta.get("redirect_uris") {
        Some(Value::Array(list)) if !list.is_empty() && list.len() <= 10 => {
            match list.iter().map(|u| u.as_str().map(str::to_string)).collect::<Option<Vec<_>>>() {
                Some(uris) => uris,
                None => return bad("invalid_redirect_uri", "redirect_uris must be strings.".into()),
            }
        }
        _ => return bad("invalid_redirect_uri", "redirect_uris must list 1 to 10 redirect URIs.".into()),
    };
    for uri in &uris {
        if uri.len() > 2048 {
            return bad("invalid_redirect_uri", "A redirect URI is longer than 2048 characters.".into());
        }
        if let Some(problem) = redirect_uri_problem(uri) {
            return bad("invalid_redirect_uri", format!("The redirect URI {uri} {problem}."));
        }
    }
    let strings = |name: &str| -> Option<Vec<String>> {
        meta.get(name)?.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
    };
    if let Some(grants) = strings("grant_types")
        && (!grants.iter().any(|g| g == "authorization_code")
            || grants.iter().any(|g| g != "authorization_code" && g != "refresh_token"))
    {
        return bad(
            "invalid_client_metadata",
            "grant_types may be authorization_code and refresh_token, and must include authorization_code.".into(),
        );
    }
    if let Some(types) = strings("response_types")
        && types.iter().any(|t| t != "code")
    {
        return bad("invalid_client_metadata", "response_types may only be code.".into());
    }
    // RFC 7591's default is client_secret_basic.
    let method = meta.get("token_endpoint_auth_method").and_then(Value::as_str).unwrap_or("client_secret_basic");
    if !matches!(method, "none" | "client_secret_post" | "client_secret_basic") {
        return bad(
            "invalid_client_metadata",
            format!(
                "token_endpoint_auth_method {method} is not supported: use none, client_secret_post or client_secret_basic."
            ),
        );
    }
    let text = |name: &str, max: usize| -> Result<Option<String>, HttpResponse> {
        match meta.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().chars().count() <= max => {
                Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty()))
            }
            _ => Err(bad("invalid_client_metadata", format!("{name} must be a string of at most {max} characters."))),
        }
    };
    let (name, client_uri, software_id, software_version) = match (
        text("client_name", 100),
        text("client_uri", 2048),
        text("software_id", 200),
        text("software_version", 100),
    ) {
        (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return e,
    };
    if let Some(uri) = &client_uri
        && !url::Url::parse(uri).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
    {
        return bad("invalid_client_metadata", "client_uri must be an http(s) URL.".into());
    }
    let limits = state.abuse.settings.client_registrations_per_ip_per_hour;
    let input = json!({
        "name": name.unwrap_or_else(|| "Unnamed app".into()),
        "redirectUris": uris,
        "authMethod": method,
        "clientUri": client_uri,
        "softwareId": software_id,
        "softwareVersion": software_version,
        "clientIp": web_state.client_ip(&req).map(|ip| ip.to_string()),
        "limits": { "perIpPerHour": limits },
    });
    match entry(&state, &req, "register_oauth_client", input).await {
        Ok(client) => HttpResponse::Created()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(client),
        Err(e) => oauth_refusal(e),
    }
}

// ---------------------------------------------------------------------------------------
// Clients as the authorization endpoint sees them
// ---------------------------------------------------------------------------------------

/// A client the authorization endpoint may redirect to.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub client_uri: Option<String>,
}

/// How long a client's metadata document is trusted before it is read again.
const METADATA_TTL: chrono::Duration = chrono::Duration::hours(1);
/// The largest metadata document read.
const METADATA_MAX_BYTES: usize = 16 * 1024;

/// The client a `client_id` names: registered here, or (an https URL) described by its
/// metadata document, read again when older than an hour. None when there is no such client;
/// a 422 naming what is wrong when the document cannot be used.
pub async fn find_client(state: &AppState, req: &HttpRequest, client_id: &str) -> Result<Option<Client>, ApiError> {
    if client_id.is_empty() || client_id.len() > 2048 {
        return Ok(None);
    }
    let mut found = entry(state, req, "oauth_client", json!({ "clientId": client_id })).await?;
    if client_id.starts_with("https://") || client_id.starts_with("http://") {
        let fetched = found["fetched_at"].as_str().and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
        if fetched.is_none_or(|t| chrono::Utc::now() - t > METADATA_TTL) {
            let document = fetch_metadata_document(client_id, state.allow_private_webhooks).await?;
            found = entry(state, req, "remember_metadata_client", document).await?;
        }
    }
    if found.is_null() {
        return Ok(None);
    }
    Ok(Some(Client {
        client_id: client_id.to_string(),
        name: found["client_name"].as_str().unwrap_or("Unnamed app").to_string(),
        redirect_uris: found["redirect_uris"]
            .as_array()
            .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        client_uri: found["client_uri"].as_str().map(str::to_string),
    }))
}

/// Reads and checks a client ID metadata document: the URL is https with a path (http to a
/// private address only where the operator allows private addresses, for development), the
/// document names exactly this URL as its client_id, lists its redirect URIs, and claims no
/// secret. Returns what `auth.remember_metadata_client` takes.
async fn fetch_metadata_document(client_id: &str, allow_private: bool) -> Result<Value, ApiError> {
    let refuse = |detail: String| ApiError::invalid("client_id", "invalid_client_metadata", detail);
    let url = crate::effects::webhooks::check_url(client_id, allow_private).await.map_err(|_| {
        refuse(format!(
            "{client_id} cannot be a client ID metadata document: it must be an https URL on the public internet."
        ))
    })?;
    if url.path() == "/" || url.fragment().is_some() || url.path().split('/').any(|s| s == "." || s == "..") {
        return Err(refuse(format!("{client_id} must name a document by its path, without a fragment.")));
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(ApiError::internal)?;
    let mut res = http
        .get(url)
        .header(header::ACCEPT.as_str(), "application/json")
        .send()
        .await
        .map_err(|e| refuse(format!("The client's metadata document could not be read: {e}.")))?;
    if !res.status().is_success() {
        return Err(refuse(format!("The client's metadata document answered HTTP {}.", res.status().as_u16())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| refuse(format!("Reading the document failed: {e}.")))? {
        body.extend_from_slice(&chunk);
        if body.len() > METADATA_MAX_BYTES {
            return Err(refuse(format!("The client's metadata document is over {METADATA_MAX_BYTES} bytes.")));
        }
    }
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&body) else {
        return Err(refuse("The client's metadata document is not a JSON object.".into()));
    };
    if doc.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(refuse("The document's client_id is not the URL it was read from.".into()));
    }
    if doc.contains_key("client_secret")
        || doc.get("token_endpoint_auth_method").and_then(Value::as_str).is_some_and(|m| m != "none")
    {
        return Err(refuse(
            "A metadata document client is a public client: no secret, token_endpoint_auth_method none.".into(),
        ));
    }
    let uris: Vec<String> = doc
        .get("redirect_uris")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if uris.is_empty() || uris.len() > 10 {
        return Err(refuse("The document must list 1 to 10 redirect_uris.".into()));
    }
    if let Some((uri, problem)) = uris.iter().find_map(|u| redirect_uri_problem(u).map(|p| (u, p))) {
        return Err(refuse(format!("The redirect URI {uri} {problem}.")));
    }
    let name = doc
        .get("client_name")
        .and_then(Value::as_str)
        .map(|n| n.trim().chars().take(100).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            url::Url::parse(client_id).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default()
        });
    let client_uri = doc
        .get("client_uri")
        .and_then(Value::as_str)
        .filter(|u| u.len() <= 2048 && url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")));
    Ok(json!({ "clientId": client_id, "name": name, "redirectUris": uris, "clientUri": client_uri }))
}

impl Client {
    /// Exact matching, except that a loopback http URI may differ in its port (RFC 8252 §7.3);
    /// the database checks the same again when it issues the code.
    pub fn allows_redirect(&self, given: &str) -> bool {
        if self.redirect_uris.iter().any(|r| r == given) {
            return true;
        }
        let Ok(given_url) = url::Url::parse(given) else { return false };
        if given_url.scheme() != "http" || !is_loopback(&given_url) {
            return false;
        }
        self.redirect_uris.iter().filter_map(|r| url::Url::parse(r).ok()).any(|mut r| {
            if r.scheme() != "http" || !is_loopback(&r) || r.host() != given_url.host() {
                return false;
            }
            let mut g = given_url.clone();
            let _ = r.set_port(None);
            let _ = g.set_port(None);
            r == g
        })
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

// ---------------------------------------------------------------------------------------
// The token and revocation endpoints
// ---------------------------------------------------------------------------------------

/// A form body's fields; a repeated field is refused (RFC 6749 §3.1).
fn form_fields(body: &[u8]) -> Result<std::collections::HashMap<String, String>, String> {
    let mut fields = std::collections::HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if fields.insert(name.to_string(), value.to_string()).is_some() {
            return Err(format!("{name} is given more than once."));
        }
    }
    Ok(fields)
}

/// The client's credentials: HTTP Basic (client_secret_basic), or client_id (and
/// client_secret) in the body.
fn client_credentials(
    req: &HttpRequest,
    fields: &std::collections::HashMap<String, String>,
) -> Result<(String, Option<String>), HttpResponse> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(encoded) = value.strip_prefix("Basic ")
    {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(id, secret)| (id.to_string(), secret.to_string())));
        let Some((id, secret)) = decoded else {
            return Err(oauth_error(
                http::StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The Basic credentials are malformed.",
            ));
        };
        let decode =
            |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.to_string());
        return Ok((decode(&id).unwrap_or(id), decode(&secret)));
    }
    match fields.get("client_id") {
        Some(id) if !id.is_empty() => Ok((id.clone(), fields.get("client_secret").cloned())),
        _ => Err(oauth_error(
            http::StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Name the client: client_id in the body, or HTTP Basic credentials.",
        )),
    }
}

/// A token or revocation request: its fields and the client's credentials.
type ClientRequest = (std::collections::HashMap<String, String>, String, Option<String>);

fn client_request(req: &HttpRequest, body: &[u8]) -> Result<ClientRequest, HttpResponse> {
    let fields = form_fields(body).map_err(|e| oauth_error(http::StatusCode::BAD_REQUEST, "invalid_request", e))?;
    let (client_id, secret) = client_credentials(req, &fields)?;
    Ok((fields, client_id, secret))
}

fn token_answer(answer: Value) -> HttpResponse {
    if let Some(error) = answer["error"].as_str() {
        let status =
            if error == "invalid_client" { http::StatusCode::UNAUTHORIZED } else { http::StatusCode::BAD_REQUEST };
        return oauth_error(status, error, answer["error_description"].as_str().unwrap_or_default());
    }
    HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(answer)
}

async fn token(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let (fields, client_id, secret) = match client_request(&req, &body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let resource = match fields.get("resource") {
        None => None,
        Some(given) => match our_resource(&req, given) {
            Some(r) => Some(r),
            None => {
                return oauth_error(
                    http::StatusCode::BAD_REQUEST,
                    "invalid_target",
                    format!("{given} is not a resource of this server."),
                );
            }
        },
    };
    let field = |name: &str| fields.get(name).cloned();
    let (function, input) = match fields.get("grant_type").map(String::as_str) {
        Some("authorization_code") => (
            "exchange_oauth_code",
            json!({
                "code": field("code"), "clientId": client_id, "clientSecret": secret,
                "redirectUri": field("redirect_uri"), "codeVerifier": field("code_verifier"),
                "resource": resource, "requestId": request_id(&req),
            }),
        ),
        Some("refresh_token") => (
            "refresh_oauth_token",
            json!({
                "refreshToken": field("refresh_token"), "clientId": client_id, "clientSecret": secret,
                "scope": field("scope"), "resource": resource,
            }),
        ),
        Some(other) => {
            return oauth_error(
                http::StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other} is not supported: use authorization_code or refresh_token."),
            );
        }
        None => return oauth_error(http::StatusCode::BAD_REQUEST, "invalid_request", "grant_type is missing."),
    };
    match entry(&state, &req, function, input).await {
        Ok(answer) => token_answer(answer),
        Err(e) => oauth_refusal(e),
    }
}

/// RFC 7009: always 200 for a well-formed request, whether or not the token was known.
async fn revoke(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let (fields, client_id, secret) = match client_request(&req, &body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let Some(token) = fields.get("token") else {
        return oauth_error(http::StatusCode::BAD_REQUEST, "invalid_request", "token is missing.");
    };
    let input = json!({ "token": token, "clientId": client_id, "clientSecret": secret });
    match entry(&state, &req, "revoke_oauth_token", input).await {
        Ok(_) => HttpResponse::Ok()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({})),
        Err(e) => oauth_refusal(e),
    }
}

/// The hex SHA-256 of a secret, as the entry points take it.
pub fn digest_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

// ---------------------------------------------------------------------------------------
// The challenge
// ---------------------------------------------------------------------------------------

/// Names the protected resource metadata in every 401 of the API and `/mcp`, so that an
/// OAuth client knows where to start (RFC 9728 §5.1).
pub async fn challenge(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    // Only a 401 pays for it: every other answer passes as it is.
    if res.status().as_u16() != 401 {
        return Ok(res);
    }
    let path = res.request().path();
    let mcp = path == MCP_PATH || path.starts_with("/mcp/");
    if !mcp && !path.starts_with("/v1/") {
        return Ok(res);
    }
    let metadata = format!(
        "{}/.well-known/oauth-protected-resource{}",
        canonical_base(res.request()),
        if mcp { MCP_PATH } else { "" }
    );
    let existing = res
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(r#"Bearer realm="favcrm""#)
        .to_string();
    if existing.starts_with("Bearer")
        && !existing.contains("resource_metadata=")
        && let Ok(value) = HeaderValue::from_str(&format!(r#"{existing}, resource_metadata="{metadata}""#))
    {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    Ok(res)
}

/// actix-web's own `StatusCode` (an older `http`) for one of ours.
pub fn actix_status(status: http::StatusCode) -> actix_web::http::StatusCode {
    actix_web::http::StatusCode::from_u16(status.as_u16()).unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
}
