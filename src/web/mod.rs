//! The web layer: everything HTTP. The server builder ([`Application`]), REST routes generated
//! from the catalog ([`rest`]), the MCP endpoint ([`mcp`]), CORS for web pages ([`cors`]), the
//! per-key rate limit ([`ratelimit`]), reading callers, addresses and bodies from requests
//! ([`request`]) and errors as problem answers ([`problem`]). It reads requests into calls and
//! hands them to the call path (`crate::call`); nothing below it imports actix-web.

pub mod cors;
pub mod mcp;
pub mod oauth;
pub mod pages;
pub mod person;
pub mod problem;
pub mod ratelimit;
pub mod request;
pub mod rest;
pub mod sessions;
pub mod webhooks;

use std::net::{IpAddr, TcpListener};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use serde_json::json;

use crate::call::AppState;
use crate::db::{self, Database};
use crate::effects::mail::MailSettings;
use crate::limits::{AbuseSettings, KeyBudget};
pub use request::RequestId;

/// What only the web layer needs, beside the call path's [`AppState`].
pub struct WebState {
    /// The per-key request budget; None when disabled.
    pub key_budget: Option<Arc<KeyBudget>>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Browser origins allowed to call `/mcp` besides the server's own.
    pub mcp_allowed_origins: Vec<String>,
    /// Hosts rmcp accepts in the `Host` header of `/mcp` requests (its loopback default when
    /// none are configured): a tool call is answered without rmcp's transport only for these.
    pub mcp_allowed_hosts: Vec<String>,
    /// The base URL clients reach the server at, when the operator set one (FAVCRM_PUBLIC_URL):
    /// the OAuth issuer and resources. None: `http://` and the request's `Host`.
    pub public_url: Option<String>,
}

impl WebState {
    /// The client address the abuse limits count against.
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        request::client_ip(req.peer_addr().map(|p| p.ip()), req.headers(), &self.trusted_proxies)
    }
}

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Hosts accepted in the `Host` header of MCP requests. None: loopback only.
    pub mcp_allowed_hosts: Option<Vec<String>>,
    /// Browser origins accepted on MCP requests besides the server's own. None: only its own.
    pub mcp_allowed_origins: Option<Vec<String>>,
    /// Requests a minute each API key may make; 0 turns the budget off.
    pub key_requests_per_minute: u32,
    /// Sensitive operations (emails, key minting) an hour each API key may make; 0: off.
    pub sensitive_requests_per_hour: u32,
    pub abuse: AbuseSettings,
    pub mail: MailSettings,
    pub trusted_proxies: Vec<IpAddr>,
    pub payments: crate::effects::stripe::PaymentSettings,
    /// The outbox worker this server runs (and how it retries).
    pub outbox: crate::effects::outbox::OutboxSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            mcp_allowed_hosts: None,
            mcp_allowed_origins: None,
            key_requests_per_minute: 1200,
            sensitive_requests_per_hour: 120,
            abuse: Default::default(),
            mail: Default::default(),
            trusted_proxies: Vec::new(),
            payments: Default::default(),
            outbox: Default::default(),
        }
    }
}

/// A bound, not yet running, server (tests bind port 0 and read [`Application::port`]).
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub fn build(db: Arc<Database>, bind: &str, settings: ServerSettings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(bind).with_context(|| format!("binding {bind}"))?;
        Self::from_listener(db, listener, settings)
    }

    pub fn from_listener(db: Arc<Database>, listener: TcpListener, settings: ServerSettings) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        // The pool's size is split among the workers, each with its own pool (see
        // Database::worker_pool), so FAVCRM_DB_POOL_SIZE still bounds the server's connections
        // (the shared pool opens none unless a worker is restarted); the limits and their
        // counts stay shared.
        let per_worker = (db.pool.status().max_size / workers).max(1);
        let pools = (0..workers).map(|_| db.worker_pool(per_worker)).collect::<anyhow::Result<Vec<_>>>()?;
        let pools = Arc::new(std::sync::Mutex::new(pools));
        let public_url = settings.payments.public_url.clone().unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
        let mut outbox = settings.outbox.clone();
        outbox.public_url.get_or_insert_with(|| public_url.clone());
        let shared = AppState::new(db, &settings.mail, settings.abuse, settings.sensitive_requests_per_hour)?
            .with_payments(&settings.payments, &settings.mail.data_dir, &public_url)?
            .with_outbox(&outbox)?;
        let web_state = web::Data::new(WebState {
            key_budget: KeyBudget::per_minute(settings.key_requests_per_minute).map(Arc::new),
            trusted_proxies: settings.trusted_proxies,
            mcp_allowed_origins: settings.mcp_allowed_origins.clone().unwrap_or_default(),
            mcp_allowed_hosts: settings.mcp_allowed_hosts.clone().unwrap_or_else(|| {
                rmcp::transport::streamable_http_server::StreamableHttpServerConfig::default().allowed_hosts
            }),
            public_url: settings.payments.public_url.as_ref().map(|u| u.trim_end_matches('/').to_string()),
        });
        let mcp_allowed_hosts = settings.mcp_allowed_hosts;
        let sessions = web::Data::new(sessions::Sessions::new());
        let server = HttpServer::new(move || {
            // A worker actix starts again after a panic finds none left and shares the main pool.
            let pool = pools.lock().ok().and_then(|mut p| p.pop()).unwrap_or_else(|| shared.pool.clone());
            let state = web::Data::new(shared.with_pool(pool));
            let mcp = mcp::service(state.clone(), mcp_allowed_hosts.clone(), None);
            let mcp_public = mcp::service(state.clone(), mcp_allowed_hosts.clone(), None);
            let mcp_sessions = mcp::service(state.clone(), mcp_allowed_hosts.clone(), Some(sessions.manager.clone()));
            let in_session = actix_web::guard::fn_guard(|ctx| ctx.req_data().contains::<sessions::InSession>());
            App::new()
                .app_data(state.clone())
                .app_data(web_state.clone())
                .app_data(sessions.clone())
                .wrap(from_fn(sessions::route))
                .wrap(from_fn(limit_uri))
                .wrap(from_fn(ratelimit::enforce))
                .wrap(from_fn(oauth::challenge))
                .wrap(from_fn(request_context))
                .service(mcp_sessions.scope_with_path("/mcp").guard(in_session).wrap(from_fn(mcp::gate)))
                .service(mcp_public.scope_with_path(mcp::PUBLIC_PATH).wrap(from_fn(mcp::gate)))
                .service(mcp.scope_with_path("/mcp").wrap(from_fn(mcp::gate)))
                .configure(oauth::configure)
                .configure(pages::configure)
                .route("/.well-known/mcp/server-card.json", web::get().to(server_card))
                .route("/openapi.json", web::get().to(openapi))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .route("/v1/webhooks/stripe/{orgId}", web::post().to(webhooks::stripe))
                .route("/v1/webhooks/twilio/{orgId}", web::post().to(webhooks::twilio))
                .route("/v1/webhooks/whatsapp/{orgId}", web::get().to(webhooks::whatsapp_subscribe))
                .route("/v1/webhooks/whatsapp/{orgId}", web::post().to(webhooks::whatsapp))
                .route("/pay/done", web::get().to(webhooks::paid_page))
                .configure(rest::configure)
                .default_service(web::to(rest::not_found))
        })
        .workers(workers)
        // Idle connections stay open longer than clients keep theirs (undici 4 s, httpx 5 s):
        // with actix's 5 s, a client sending on a connection the server was just closing got
        // "other side closed" (seen with the TypeScript MCP SDK on a busy machine). nginx's 75 s.
        .keep_alive(std::time::Duration::from_secs(75))
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Gives every request an id (echoed as `X-Request-Id`) and logs it once answered.
async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let incoming = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).filter(|v| {
        !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    });
    let id = incoming.map(str::to_string).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.path().to_string();
    let started = Instant::now();
    let mut res = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
    }
    let status = res.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(request_id = %id, %method, %path, status, ms, "request");
    } else {
        tracing::info!(request_id = %id, %method, %path, status, ms, "request");
    }
    Ok(res)
}

/// Longest request target (path and query) answered; longer ones get a 414 problem. (A request
/// head over 128 KiB never reaches the application: actix-http answers it with a bare 431.)
pub const MAX_URI_BYTES: usize = 16 * 1024;

async fn limit_uri(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let length = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if length > MAX_URI_BYTES {
        let error = crate::error::ApiError::new(
            http::StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("The request target is {length} bytes; the limit is {MAX_URI_BYTES}. Ask for less at a time."),
        );
        return Ok(req.into_response(actix_web::ResponseError::error_response(&error)));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

async fn server_card() -> HttpResponse {
    HttpResponse::Ok().json(mcp::server_card())
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::document())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Ready when the database answers and is migrated to this build's latest version.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let expected = db::latest_migration();
    let result = async {
        let client = state.pool.get().await?;
        let row = client.query_one("select auth.schema_version()", &[]).await?;
        anyhow::Ok(row.get::<_, i32>(0))
    }
    .await;
    match result {
        Ok(version) if version >= expected => {
            HttpResponse::Ok().json(json!({ "status": "ready", "schemaVersion": version }))
        }
        Ok(version) => HttpResponse::ServiceUnavailable().json(json!({
            "status": "not_ready", "reason": "database not migrated", "schemaVersion": version, "expected": expected
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "not_ready", "reason": "database unreachable" }))
        }
    }
}
