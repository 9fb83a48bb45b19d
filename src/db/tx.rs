//! The one road to PostgreSQL for requests: a transaction that sets role and claims, calls
//! one `api.*` function, and commits — sent as one Query message (one round trip, one flush):
//!
//! ```text
//! set transaction isolation level read committed[, read only];
//! select set_config('role', …), set_config('request.claims', …), set_config('statement_timeout', …);
//! select auth.authenticate(<key digest>, <context>);  -- keys only; sets the claims
//! select api.<operation>(<input>)
//! ```
//!
//! The statements form one implicit transaction: committed after the last, rolled back whole
//! (and the rest skipped) when one fails. The values travel as literals quoted by
//! [`literal`]: the key digest as hex, the context and the input as JSON text written by serde.
//!
//! A POST with an Idempotency-Key takes a second round trip: the first claims the key (or
//! finds the response to replay), the second runs the operation and stores its response.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Object, Pool};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::catalog::{Operation, Preview};
use crate::error::{ApiError, from_db_error};

const STATEMENT_TIMEOUT: &str = "15s";
/// The time limit of the statements of a customer import (a preview's decisions, a commit's
/// inserts): up to 100,000 rows at once.
pub const IMPORT_STATEMENT_TIMEOUT: &str = "180s";

/// How long one statement of `op` may run.
fn statement_timeout(op: &Operation) -> &'static str {
    if op.name == "commit_customer_import" { IMPORT_STATEMENT_TIMEOUT } else { STATEMENT_TIMEOUT }
}
const SET_CONTEXT: &str = "select set_config('role', $1, true), set_config('request.claims', $2, true), \
                           set_config('statement_timeout', $3, true)";
const AUTHENTICATE: &str = "select auth.authenticate($1, $2)";
const AUTHENTICATE_SESSION: &str = "select auth.authenticate_session($1, $2)";
const CLAIM_IDEMPOTENCY: &str = "select auth.claim_idempotency_key($1, $2, $3)";

/// Who is calling, as far as the proxy knows before the database has looked: the digest of
/// a presented key, or nobody.
#[derive(Clone)]
pub enum Caller {
    /// An API key, or an OAuth access token (`fav_oat_…`) with the resource (RFC 8707) the
    /// request is for: the database accepts a token only for the resource it was granted for.
    Key {
        digest: [u8; 32],
        resource: Option<Arc<str>>,
    },
    /// A person signed in to the server's pages (the digest of their session cookie), acting in
    /// the organisation they chose.
    Session {
        digest: [u8; 32],
    },
    Anonymous,
}

impl Caller {
    /// The caller presenting `key` (the web layer reads it from `Authorization`).
    pub fn from_key(key: &str) -> Self {
        Caller::Key { digest: Sha256::digest(key.as_bytes()).into(), resource: None }
    }

    /// The caller presenting a bearer token on a surface whose resource is `resource()`
    /// (asked only for an OAuth access token).
    pub fn from_bearer(token: &str, resource: impl FnOnce() -> String) -> Self {
        let resource = token.starts_with(ACCESS_TOKEN_PREFIX).then(|| Arc::from(resource()));
        Caller::Key { digest: Sha256::digest(token.as_bytes()).into(), resource }
    }

    /// Adds what the database needs to know about the caller to a request context: the
    /// resource an access token is presented for.
    fn stamp(&self, mut context: Value) -> Value {
        if let Caller::Key { resource: Some(resource), .. } = self {
            context["resource"] = Value::String(resource.to_string());
        }
        context
    }
}

/// How an OAuth access token begins (sql/operations/oauth.sql).
pub const ACCESS_TOKEN_PREFIX: &str = "fav_oat_";

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Caller::Key { .. } => f.write_str("Caller::Key(…)"),
            Caller::Session { .. } => f.write_str("Caller::Session(…)"),
            Caller::Anonymous => f.write_str("Caller::Anonymous"),
        }
    }
}

/// The surface a call came through; recorded in claims and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Rest,
    Mcp,
    Cli,
    /// The server's own pages (approval inbox, connected apps).
    Web,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Rest => "rest",
            Via::Mcp => "mcp",
            Via::Cli => "cli",
            Via::Web => "web",
        }
    }
}

/// What the database established about an authenticated caller.
#[derive(Debug, Clone, Deserialize)]
pub struct Principal {
    pub org_id: Uuid,
    pub user_id: Uuid,
    /// None for a person signed in to the pages.
    pub key_id: Option<Uuid>,
    pub key_kind: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub struct Call<'a> {
    pub op: &'a Operation,
    pub caller: &'a Caller,
    pub input: &'a Value,
    pub via: Via,
    pub request_id: &'a str,
    pub idempotency_key: Option<&'a str>,
    /// A token from an earlier `confirmation_required` answer.
    pub confirmation_token: Option<&'a str>,
    /// A secret the MCP layer holds for the person at a client that can ask them (elicitation),
    /// never shown to the model: sent as its digest, which an approval asked for by this call
    /// keeps, and which lets an approve carrying it be that person's (sql/operations/approvals.sql).
    pub person_secret: Option<&'a str>,
}

#[derive(Debug)]
pub struct Outcome {
    pub status: u16,
    pub body: Body,
    pub principal: Option<Principal>,
    pub replayed: bool,
}

/// What an operation answered: JSON the server may still change (a mutation's answer can ask
/// for mail), or — for a read — the JSON text exactly as PostgreSQL built it, passed through
/// without being parsed and written out again.
#[derive(Debug)]
pub enum Body {
    Value(Value),
    Text(String),
}

impl Body {
    /// The answer as JSON text.
    pub fn into_text(self) -> String {
        match self {
            Body::Value(value) => value.to_string(),
            Body::Text(text) => text,
        }
    }

    /// The value, when the answer is one (mutations' answers always are).
    pub fn as_value_mut(&mut self) -> Option<&mut Value> {
        match self {
            Body::Value(value) => Some(value),
            Body::Text(_) => None,
        }
    }
}

/// A pooled connection inside a transaction. If the request future is dropped half-way (the
/// client went away), the guard rolls back on a task before the connection is reused.
struct TxGuard {
    client: Option<Object>,
}

impl TxGuard {
    fn client(&self) -> &Object {
        self.client.as_ref().expect("guard in use")
    }

    /// The transaction ended (COMMIT or ROLLBACK was processed): the connection is clean.
    fn finish(mut self) {
        self.client.take();
    }
}

impl Drop for TxGuard {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            tokio::spawn(async move {
                if client.batch_execute("rollback").await.is_err() {
                    // Never return a connection in an unknown state to the pool.
                    let _ = Object::take(client);
                }
            });
        }
    }
}

/// The code of SQLSTATE 40001 and 40P01 (see `crate::error`).
const CONCURRENT_UPDATE: &str = "concurrent_update";

/// Runs one catalog operation for a caller.
#[tracing::instrument(skip_all, fields(op = call.op.name, via = call.via.as_str()))]
pub async fn execute(pool: &Pool, call: Call<'_>) -> Result<Outcome, ApiError> {
    // A deadlock or serialization failure rolled the whole transaction back, so it is run again
    // (twice at most) rather than handed to the client as a 409 it did nothing to cause.
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        let client = pool.get().await.map_err(ApiError::unavailable)?;
        let guard = TxGuard { client: Some(client) };
        let outcome = match (call.idempotency_key, call.caller) {
            (Some(key), Caller::Key { digest, .. }) if !call.op.read_only() => {
                idempotent(&guard, &call, digest, key).await
            }
            _ => single_round_trip(&guard, &call).await,
        };
        guard.finish();
        match outcome {
            Err(e) if e.code == CONCURRENT_UPDATE && attempts < 3 => {
                tracing::info!(op = call.op.name, attempts, "transaction rolled back by a concurrent one; retrying");
            }
            other => break other,
        }
    };
    if let Ok(Outcome { principal: Some(p), .. }) = &outcome {
        touch_key_if_stale(pool, p);
    }
    match outcome {
        Err(e) if e.code == "confirmation_required" && call.op.confirm => {
            Err(ask_for_confirmation(pool, &call, e).await)
        }
        other => other,
    }
}

/// Answers a `confirmation_required` refusal with a preview and a single-use token bound to
/// this key, operation and arguments (issued by the database).
async fn ask_for_confirmation(pool: &Pool, call: &Call<'_>, refusal: ApiError) -> ApiError {
    let Caller::Key { digest, .. } = call.caller else { return refusal };
    let result = async {
        let client = pool.get().await.map_err(ApiError::unavailable)?;
        let guard = TxGuard { client: Some(client) };
        let c = guard.client();
        let preview_sql = call.op.preview.map_or_else(|| "select $1::jsonb".to_string(), Preview::sql);
        let (s_context, s_auth, s_preview, s_issue) = futures_util::try_join!(
            c.prepare_cached(SET_CONTEXT),
            c.prepare_cached(AUTHENTICATE),
            c.prepare_cached(&preview_sql),
            c.prepare_cached("select auth.issue_confirmation($1)"),
        )
        .map_err(|e| from_db_error(&e))?;
        let ctx = context(call);
        let claims = ctx.to_string();
        let role = role_for(call.caller);
        let digest: &[u8] = digest;
        let context_params: [&(dyn ToSql + Sync); 3] = [&role, &claims, &STATEMENT_TIMEOUT];
        let auth_params: [&(dyn ToSql + Sync); 2] = [&digest, &claims];
        let preview_params: [&(dyn ToSql + Sync); 1] = [call.input];
        let issue_params: [&(dyn ToSql + Sync); 1] = [&call.op.name];
        let (r_begin, r_context, r_auth, r_preview, r_issue, r_commit) = tokio::join!(
            c.batch_execute("begin"),
            c.query_one(&s_context, &context_params),
            c.query_one(&s_auth, &auth_params),
            c.query_one(&s_preview, &preview_params),
            c.query_one(&s_issue, &issue_params),
            c.batch_execute("commit"),
        );
        guard.finish();
        r_begin.map_err(|e| from_db_error(&e))?;
        r_context.map_err(|e| from_db_error(&e))?;
        r_auth.map_err(|e| from_db_error(&e))?;
        let previewed = json_column(&r_preview.map_err(|e| from_db_error(&e))?)?;
        let issued = json_column(&r_issue.map_err(|e| from_db_error(&e))?)?;
        r_commit.map_err(|e| from_db_error(&e))?;
        Ok::<_, ApiError>((previewed, issued))
    }
    .await;
    match result {
        Ok((previewed, issued)) => {
            let mut error = refusal;
            // How to confirm depends on how the call came: a header on REST, an argument on MCP.
            error.detail = match call.via {
                Via::Rest | Via::Web => format!(
                    "{} needs confirmation: show the preview to the person you act for, then send the same \
                     request again with the header Confirmation-Token: {}.",
                    call.op.name,
                    issued["confirmationToken"].as_str().unwrap_or("")
                ),
                Via::Mcp | Via::Cli => format!(
                    "{} needs confirmation: show the preview to the person you act for, then call it again with the \
                     same arguments and confirmationToken set to the token below.",
                    call.op.name
                ),
            };
            error.extra.insert("confirmationToken".into(), issued["confirmationToken"].clone());
            error.extra.insert("expiresAt".into(), issued["expiresAt"].clone());
            let mut preview = json!({ "operation": call.op.name, "arguments": call.input });
            match call.op.preview {
                Some(Preview::Effect(_)) => {
                    preview["target"] = previewed["target"].clone();
                    preview["effect"] = previewed["effect"].clone();
                }
                _ => preview["target"] = previewed,
            }
            error.extra.insert("preview".into(), preview);
            error
        }
        Err(e) => e,
    }
}

fn context(call: &Call<'_>) -> Value {
    call.caller.stamp(json!({
        "via": call.via.as_str(),
        "op": call.op.name,
        "request_id": call.request_id,
        "args_digest": hex::encode(request_digest(call)),
        "confirmation_digest": call.confirmation_token.map(|t| hex::encode(Sha256::digest(t.as_bytes()))),
        "person_digest": call.person_secret.map(|t| hex::encode(Sha256::digest(t.as_bytes()))),
    }))
}

fn role_for(caller: &Caller) -> &'static str {
    match caller {
        Caller::Key { .. } | Caller::Session { .. } => "favcrm_member",
        Caller::Anonymous => "favcrm_anon",
    }
}

fn begin_sql(op: &Operation) -> &'static str {
    if op.read_only() {
        "begin isolation level read committed read only"
    } else {
        "begin isolation level read committed"
    }
}

async fn single_round_trip(guard: &TxGuard, call: &Call<'_>) -> Result<Outcome, ApiError> {
    let claims = context(call).to_string();
    let claims = literal(&claims)?;
    let isolation = if call.op.read_only() {
        "set transaction isolation level read committed, read only"
    } else {
        "set transaction isolation level read committed"
    };
    // The role, the claims and the time limit in one statement; with a key, auth.authenticate
    // sets the claims (the context and what the key establishes) and answers them first.
    let timeout = statement_timeout(call.op);
    let context = match call.caller {
        Caller::Key { digest, .. } => format!(
            "select auth.authenticate(pg_catalog.decode('{}', 'hex'), {claims}), \
             set_config('role', '{}', true), set_config('statement_timeout', '{timeout}', true)",
            hex::encode(digest),
            role_for(call.caller)
        ),
        Caller::Session { digest } => format!(
            "select auth.authenticate_session(pg_catalog.decode('{}', 'hex'), {claims}), \
             set_config('role', '{}', true), set_config('statement_timeout', '{timeout}', true)",
            hex::encode(digest),
            role_for(call.caller)
        ),
        Caller::Anonymous => format!(
            "select null, set_config('role', '{}', true), set_config('request.claims', {claims}, true), \
             set_config('statement_timeout', '{timeout}', true)",
            role_for(call.caller)
        ),
    };
    let api = format!("select {}", call.op.sql_expr(&literal(&call.input.to_string())?));
    let results = one_message(guard.client(), &[isolation, &context, &api]).await.map_err(|e| from_db_error(&e))?;
    let [_, auth, answer]: [Option<String>; 3] =
        results.try_into().map_err(|_| ApiError::internal("a statement of the transaction returned no result"))?;
    let principal = match auth {
        Some(text) => Some(serde_json::from_str::<Principal>(&text).map_err(ApiError::internal)?),
        None => None,
    };
    let text = answer.unwrap_or_else(|| "null".to_string());
    let body = if call.op.read_only() {
        Body::Text(text)
    } else {
        Body::Value(serde_json::from_str(&text).map_err(ApiError::internal)?)
    };
    Ok(Outcome { status: call.op.success_status, body, principal, replayed: false })
}

/// Sends `statements` as one simple-protocol Query message: PostgreSQL runs them as one
/// implicit transaction (committed after the last; rolled back whole if one fails, with the
/// rest skipped) and flushes its answers once, so the request costs one write and usually
/// one read on each side. Prepared statements pipelined with a Sync each made the server
/// flush, and this process wake up, once per statement. Returns the first column of each
/// statement's first row.
async fn one_message(client: &Object, statements: &[&str]) -> Result<Vec<Option<String>>, tokio_postgres::Error> {
    let mut results = vec![None; statements.len()];
    let mut index = 0;
    for message in client.simple_query(&statements.join(";\n")).await? {
        match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => {
                if let Some(slot) = results.get_mut(index).filter(|slot| slot.is_none()) {
                    *slot = row.get(0).map(str::to_string);
                }
            }
            tokio_postgres::SimpleQueryMessage::CommandComplete(_) => index += 1,
            _ => {}
        }
    }
    Ok(results)
}

/// A string as an SQL literal (PostgreSQL's own quoting rules, as libpq's
/// `PQescapeLiteral`). Text with a NUL cannot travel in a Query message and is refused;
/// JSON written by serde never holds one (it escapes control characters).
fn literal(text: &str) -> Result<String, ApiError> {
    if text.contains('\0') {
        return Err(ApiError::internal("a NUL character in a statement's text"));
    }
    Ok(postgres_protocol::escape::escape_literal(text))
}

async fn idempotent(guard: &TxGuard, call: &Call<'_>, digest: &[u8; 32], key: &str) -> Result<Outcome, ApiError> {
    let client = guard.client();
    let run_sql = format!("select auth.store_idempotent_response($2, $3, {})", call.op.sql_expr("$1"));
    let (s_context, s_auth, s_claim, s_run) = futures_util::try_join!(
        client.prepare_cached(SET_CONTEXT),
        client.prepare_cached(AUTHENTICATE),
        client.prepare_cached(CLAIM_IDEMPOTENCY),
        client.prepare_cached(&run_sql),
    )
    .map_err(|e| from_db_error(&e))?;
    let ctx = context(call);
    let claims = ctx.to_string();
    let request_digest = request_digest(call);
    let digest: &[u8] = digest;
    let role = role_for(call.caller);
    let request_digest = request_digest.as_slice();
    let timeout = statement_timeout(call.op);
    let context_params: [&(dyn ToSql + Sync); 3] = [&role, &claims, &timeout];
    let auth_params: [&(dyn ToSql + Sync); 2] = [&digest, &claims];
    let claim_params: [&(dyn ToSql + Sync); 3] = [&key, &call.op.name, &request_digest];
    let (r_begin, r_context, r_auth, r_claim) = tokio::join!(
        client.batch_execute(begin_sql(call.op)),
        client.query_one(&s_context, &context_params),
        client.query_one(&s_auth, &auth_params),
        client.query_one(&s_claim, &claim_params),
    );
    let first = async {
        r_begin.map_err(|e| from_db_error(&e))?;
        r_context.map_err(|e| from_db_error(&e))?;
        let principal = principal_from(Some(r_auth.map_err(|e| from_db_error(&e))?))?;
        let replay: Option<Value> = r_claim.map_err(|e| from_db_error(&e))?.try_get(0).map_err(ApiError::internal)?;
        Ok::<_, ApiError>((principal, replay))
    }
    .await;
    let (principal, replay) = match first {
        Ok(v) => v,
        Err(e) => {
            client.batch_execute("rollback").await.map_err(|e| from_db_error(&e))?;
            return Err(e);
        }
    };
    if let Some(stored) = replay {
        client.batch_execute("rollback").await.map_err(|e| from_db_error(&e))?;
        let status = stored["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(call.op.success_status);
        return Ok(Outcome { status, body: Body::Value(stored["body"].clone()), principal, replayed: true });
    }
    let status = i32::from(call.op.success_status);
    let run_params: [&(dyn ToSql + Sync); 3] = [call.input, &key, &status];
    let (r_run, r_commit) = tokio::join!(client.query_one(&s_run, &run_params), client.batch_execute("commit"));
    let body = Body::Value(json_column(&r_run.map_err(|e| from_db_error(&e))?)?);
    r_commit.map_err(|e| from_db_error(&e))?;
    Ok(Outcome { status: call.op.success_status, body, principal, replayed: false })
}

/// A transaction as a key's caller for an operation of several statements, such as a customer
/// import's preview (its rows staged as they are read, then decided): the role, claims and
/// time limit set and the key authenticated as for any call; rolled back unless committed.
pub struct Session {
    guard: TxGuard,
}

impl Session {
    pub async fn begin(pool: &Pool, call: &Call<'_>, statement_timeout: &str) -> Result<Session, ApiError> {
        let Caller::Key { digest, .. } = call.caller else {
            return Err(ApiError::unauthorized(
                "missing_api_key",
                "Send an API key as Authorization: Bearer fav_mcp_…",
            ));
        };
        let client = pool.get().await.map_err(ApiError::unavailable)?;
        let guard = TxGuard { client: Some(client) };
        let c = guard.client();
        let (s_context, s_auth) =
            futures_util::try_join!(c.prepare_cached(SET_CONTEXT), c.prepare_cached(AUTHENTICATE))
                .map_err(|e| from_db_error(&e))?;
        let claims = context(call).to_string();
        let role = role_for(call.caller);
        let digest: &[u8] = digest;
        let context_params: [&(dyn ToSql + Sync); 3] = [&role, &claims, &statement_timeout];
        let auth_params: [&(dyn ToSql + Sync); 2] = [&digest, &claims];
        let (r_begin, r_context, r_auth) = tokio::join!(
            c.batch_execute("begin isolation level read committed"),
            c.query_one(&s_context, &context_params),
            c.query_one(&s_auth, &auth_params),
        );
        r_begin.map_err(|e| from_db_error(&e))?;
        r_context.map_err(|e| from_db_error(&e))?;
        r_auth.map_err(|e| from_db_error(&e))?;
        Ok(Session { guard })
    }

    /// One statement's first column (jsonb).
    pub async fn json(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Value, ApiError> {
        let c = self.guard.client();
        let statement = c.prepare_cached(sql).await.map_err(|e| from_db_error(&e))?;
        json_column(&c.query_one(&statement, params).await.map_err(|e| from_db_error(&e))?)
    }

    pub async fn commit(self) -> Result<(), ApiError> {
        self.guard.client().batch_execute("commit").await.map_err(|e| from_db_error(&e))?;
        self.guard.finish();
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), ApiError> {
        self.guard.client().batch_execute("rollback").await.map_err(|e| from_db_error(&e))?;
        self.guard.finish();
        Ok(())
    }
}

/// What must match for a replay: the operation and its exact input (serde_json keeps object
/// keys sorted, so equal inputs serialise equally).
fn request_digest(call: &Call<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(call.op.name.as_bytes());
    hasher.update([0]);
    hasher.update(call.input.to_string().as_bytes());
    hasher.finalize().into()
}

/// The single jsonb column an `api.*` call returns.
fn json_column(row: &tokio_postgres::Row) -> Result<Value, ApiError> {
    row.try_get::<_, Option<Value>>(0).map(Option::unwrap_or_default).map_err(ApiError::internal)
}

/// The claims `auth.authenticate` returned (text: the request context, then the key's facts).
fn principal_from(row: Option<tokio_postgres::Row>) -> Result<Option<Principal>, ApiError> {
    let Some(row) = row else { return Ok(None) };
    let text: String = row.try_get(0).map_err(ApiError::internal)?;
    serde_json::from_str(&text).map(Some).map_err(ApiError::internal)
}

/// Records last use at most once a minute per key, off the request path.
fn touch_key_if_stale(pool: &Pool, principal: &Principal) {
    let stale = principal.last_used_at.is_none_or(|t| Utc::now() - t > chrono::Duration::seconds(60));
    if !stale {
        return;
    }
    let Some(key_id) = principal.key_id else { return };
    let pool = pool.clone();
    tokio::spawn(async move {
        let result = async {
            let client = pool.get().await?;
            client.execute("select auth.touch_api_key($1)", &[&key_id]).await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "recording key use");
        }
    });
}

/// Resolves a caller to its principal in a read-only transaction (for surfaces that must
/// know the caller before choosing an operation, such as MCP's `tools/list`).
pub async fn authenticate(pool: &Pool, caller: &Caller, via: Via, request_id: &str) -> Result<Principal, ApiError> {
    let Caller::Key { digest, .. } = caller else {
        return Err(ApiError::unauthorized("missing_api_key", "Send an API key as Authorization: Bearer fav_mcp_…"));
    };
    let client = pool.get().await.map_err(ApiError::unavailable)?;
    let guard = TxGuard { client: Some(client) };
    let c = guard.client();
    let (s_context, s_auth) = futures_util::try_join!(c.prepare_cached(SET_CONTEXT), c.prepare_cached(AUTHENTICATE))
        .map_err(|e| from_db_error(&e))?;
    let ctx = caller.stamp(json!({ "via": via.as_str(), "op": "authenticate", "request_id": request_id }));
    let claims = ctx.to_string();
    let role = "favcrm_member";
    let digest: &[u8] = digest;
    let context_params: [&(dyn ToSql + Sync); 3] = [&role, &claims, &STATEMENT_TIMEOUT];
    let auth_params: [&(dyn ToSql + Sync); 2] = [&digest, &claims];
    let (r_begin, r_context, r_auth, r_commit) = tokio::join!(
        c.batch_execute("begin read only"),
        c.query_one(&s_context, &context_params),
        c.query_one(&s_auth, &auth_params),
        c.batch_execute("commit"),
    );
    r_begin.map_err(|e| from_db_error(&e))?;
    r_context.map_err(|e| from_db_error(&e))?;
    let principal = principal_from(Some(r_auth.map_err(|e| from_db_error(&e))?))?;
    r_commit.map_err(|e| from_db_error(&e))?;
    guard.finish();
    let principal = principal.ok_or_else(|| ApiError::internal("authenticate returned nothing"))?;
    touch_key_if_stale(pool, &principal);
    Ok(principal)
}

/// Calls one of the no-key entry points (`auth.<function>(jsonb)`: registration, invitation
/// acceptance) as `favcrm_anon` in its own transaction — one round trip, committed before it
/// returns, so a used-up attempt stays used up whatever happens next.
pub async fn call_entry_point(
    pool: &Pool,
    function: &'static str,
    input: &Value,
    via: Via,
    op: &str,
    request_id: &str,
) -> Result<Value, ApiError> {
    let sql = format!("select auth.{function}($1::jsonb)");
    let ctx = json!({ "via": via.as_str(), "op": op, "request_id": request_id });
    anonymous_call(pool, "begin isolation level read committed", &ctx, &sql, &[input]).await
}

/// Runs an operation for a publishable key (`fav_pk_…`, a web page) through
/// `auth.publishable_call`, which checks the key, the page's origin and that the operation is
/// one a web page may use. One round trip, as `favcrm_anon`.
pub async fn call_publishable(
    pool: &Pool,
    digest: &[u8; 32],
    origin: Option<&str>,
    op: &Operation,
    input: &Value,
    request_id: &str,
) -> Result<Value, ApiError> {
    let ctx = json!({ "via": Via::Rest.as_str(), "op": op.name, "request_id": request_id });
    let digest: &[u8] = digest;
    let sql = "select auth.publishable_call($1, $2, $3, $4::jsonb, $5::jsonb)";
    anonymous_call(pool, begin_sql(op), &ctx, sql, &[&digest, &origin, &op.name, input, &ctx]).await
}

/// One statement returning jsonb, as `favcrm_anon` with `ctx` as the claims, in its own
/// transaction pipelined into one round trip.
async fn anonymous_call(
    pool: &Pool,
    begin: &str,
    ctx: &Value,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Value, ApiError> {
    let client = pool.get().await.map_err(ApiError::unavailable)?;
    let guard = TxGuard { client: Some(client) };
    let c = guard.client();
    let (s_context, s_call) =
        futures_util::try_join!(c.prepare_cached(SET_CONTEXT), c.prepare_cached(sql)).map_err(|e| from_db_error(&e))?;
    let claims = ctx.to_string();
    let role = role_for(&Caller::Anonymous);
    let context_params: [&(dyn ToSql + Sync); 3] = [&role, &claims, &STATEMENT_TIMEOUT];
    let (r_begin, r_context, r_call, r_commit) = tokio::join!(
        c.batch_execute(begin),
        c.query_one(&s_context, &context_params),
        c.query_one(&s_call, params),
        c.batch_execute("commit"),
    );
    guard.finish();
    r_begin.map_err(|e| from_db_error(&e))?;
    r_context.map_err(|e| from_db_error(&e))?;
    let value = json_column(&r_call.map_err(|e| from_db_error(&e))?)?;
    r_commit.map_err(|e| from_db_error(&e))?;
    Ok(value)
}

/// Runs one statement returning jsonb for an authenticated key, in its own transaction (one
/// round trip): what an operation does after calling a provider, such as recording what Stripe
/// answered, under the caller's own policies.
pub async fn run_as(
    pool: &Pool,
    caller: &Caller,
    via: Via,
    op: &str,
    request_id: &str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Value, ApiError> {
    let (digest, authenticate) = match caller {
        Caller::Key { digest, .. } => (digest, AUTHENTICATE),
        Caller::Session { digest } => (digest, AUTHENTICATE_SESSION),
        Caller::Anonymous => {
            return Err(ApiError::unauthorized(
                "missing_api_key",
                "Send an API key as Authorization: Bearer fav_mcp_…",
            ));
        }
    };
    let client = pool.get().await.map_err(ApiError::unavailable)?;
    let guard = TxGuard { client: Some(client) };
    let c = guard.client();
    // Prepared before the role is set: the statement must name what the authenticator may see
    // (an `auth` function; it runs as the member).
    let (s_context, s_auth, s_call) =
        futures_util::try_join!(c.prepare_cached(SET_CONTEXT), c.prepare_cached(authenticate), c.prepare_cached(sql))
            .map_err(|e| from_db_error(&e))?;
    let ctx = caller.stamp(json!({ "via": via.as_str(), "op": op, "request_id": request_id }));
    let claims = ctx.to_string();
    let role = "favcrm_member";
    let digest: &[u8] = digest;
    let context_params: [&(dyn ToSql + Sync); 3] = [&role, &claims, &STATEMENT_TIMEOUT];
    let auth_params: [&(dyn ToSql + Sync); 2] = [&digest, &claims];
    let (r_begin, r_context, r_auth, r_call, r_commit) = tokio::join!(
        c.batch_execute("begin isolation level read committed"),
        c.query_one(&s_context, &context_params),
        c.query_one(&s_auth, &auth_params),
        c.query_one(&s_call, params),
        c.batch_execute("commit"),
    );
    guard.finish();
    r_begin.map_err(|e| from_db_error(&e))?;
    r_context.map_err(|e| from_db_error(&e))?;
    r_auth.map_err(|e| from_db_error(&e))?;
    let value = json_column(&r_call.map_err(|e| from_db_error(&e))?)?;
    r_commit.map_err(|e| from_db_error(&e))?;
    Ok(value)
}

/// One statement returning jsonb as `favcrm_anon`, in its own transaction: the entry points
/// that act for no key (a provider's signed event).
pub async fn run_anonymous(
    pool: &Pool,
    op: &str,
    request_id: &str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Value, ApiError> {
    let ctx = json!({ "via": Via::Rest.as_str(), "op": op, "request_id": request_id });
    anonymous_call(pool, "begin isolation level read committed", &ctx, sql, params).await
}
