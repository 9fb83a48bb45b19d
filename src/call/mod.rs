//! The call path every surface shares (REST, MCP, and through them the CLI): a checked call goes
//! to the no-key flows ([`onboarding`]) or to the transaction executor (`crate::db::tx`); once it
//! committed, the outbox worker is woken for the deliveries it may have written. Nothing here
//! knows HTTP: the web layer reads requests into a [`Call`] and turns an [`Outcome`] or
//! [`ApiError`] into answers.

pub mod channels;
pub mod imports;
pub mod onboarding;
pub mod payments;

use std::net::IpAddr;
use std::sync::Arc;

use deadpool_postgres::Pool;
use serde_json::Value;

use crate::db::Database;
use crate::db::tx::{self, Call, Caller, Outcome};
use crate::effects::mail::{MailSettings, Mailer};
use crate::error::ApiError;
use crate::limits::{AbuseLimits, AbuseSettings, SensitiveBudget};

/// What the call path needs, shared by every request: the database, the mailer and the limits
/// it applies.
#[derive(Clone)]
pub struct AppState {
    pub db: Arc<Database>,
    /// The connections this state's calls use: the database's shared pool, or an HTTP worker's
    /// own (see [`AppState::with_pool`]).
    pub pool: Pool,
    /// The tighter per-key budget of sensitive operations; None when disabled.
    pub sensitive_budget: Option<Arc<SensitiveBudget>>,
    /// Limits on the flows anyone can start without a key.
    pub abuse: Arc<AbuseLimits>,
    pub mailer: Arc<Mailer>,
    /// Stripe, the key its secrets are sealed under, and where payers come back to.
    pub payments: Option<Arc<Payments>>,
    /// Wakes the outbox worker of this process, when it runs one.
    pub outbox: Option<Arc<tokio::sync::Notify>>,
    /// Webhook endpoints on private and loopback addresses are allowed (development, tests).
    pub allow_private_webhooks: bool,
}

pub struct Payments {
    pub stripe: crate::effects::stripe::StripeClient,
    pub secrets: Arc<crate::effects::secrets::Secrets>,
    pub public_url: String,
}

impl Payments {
    /// Stripe's client and the secrets key (`FAVCRM_SECRETS_KEY`, or the data folder's
    /// `secrets.key`, made on first use), for a server or a scheduler.
    pub fn new(
        settings: &crate::effects::stripe::PaymentSettings,
        data_dir: &std::path::Path,
        public_url: &str,
    ) -> anyhow::Result<Self> {
        Ok(Payments {
            stripe: crate::effects::stripe::StripeClient::new(&settings.stripe_api_base),
            secrets: Arc::new(crate::effects::secrets::Secrets::load(settings.secrets_key.as_deref(), data_dir)?),
            public_url: public_url.trim_end_matches('/').to_string(),
        })
    }
}

impl AppState {
    pub fn new(
        db: Arc<Database>,
        mail: &MailSettings,
        abuse: AbuseSettings,
        sensitive_requests_per_hour: u32,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            pool: db.pool.clone(),
            db,
            sensitive_budget: SensitiveBudget::per_hour(sensitive_requests_per_hour).map(Arc::new),
            abuse: Arc::new(AbuseLimits::new(abuse)),
            mailer: Arc::new(Mailer::new(mail.smtp_url.as_deref(), &mail.from, &mail.data_dir)?),
            payments: None,
            outbox: None,
            allow_private_webhooks: false,
        })
    }

    /// The same state, able to reach Stripe and open sealed secrets.
    pub fn with_payments(
        mut self,
        settings: &crate::effects::stripe::PaymentSettings,
        data_dir: &std::path::Path,
        public_url: &str,
    ) -> anyhow::Result<Self> {
        self.payments = Some(Arc::new(Payments::new(settings, data_dir, public_url)?));
        Ok(self)
    }

    /// The same state, running an outbox worker (which uses the payments' secrets key, so
    /// after [`AppState::with_payments`]) unless the settings turn it off.
    pub fn with_outbox(mut self, settings: &crate::effects::outbox::OutboxSettings) -> anyhow::Result<Self> {
        self.allow_private_webhooks = settings.allow_private_webhooks;
        if settings.enabled {
            let secrets = self.secrets()?.clone();
            let outbox =
                crate::effects::outbox::Outbox::new(self.pool.clone(), self.mailer.clone(), secrets, settings.clone());
            self.outbox = Some(outbox.waker());
            Arc::new(outbox).spawn();
        }
        Ok(self)
    }

    /// The key secrets are sealed under and derived from.
    pub fn secrets(&self) -> anyhow::Result<&Arc<crate::effects::secrets::Secrets>> {
        self.payments.as_ref().map(|p| &p.secrets).ok_or_else(|| anyhow::anyhow!("no secrets key is loaded"))
    }

    /// Tells this process's outbox worker that a change may have written deliveries.
    pub fn wake_outbox(&self) {
        if let Some(wake) = &self.outbox {
            wake.notify_one();
        }
    }

    /// The same state (limits and their counts shared) with calls on `pool`.
    pub fn with_pool(&self, pool: Pool) -> Self {
        Self { pool, ..self.clone() }
    }
}

/// The member of an `api.*` result that asks the server to show a webhook endpoint's signing
/// secret: `{orgId, endpointId, generation}`, answered as `secret` (the secret is derived,
/// never stored, so a replayed answer shows it again the same).
const WEBHOOK_SECRET_REQUEST: &str = "_webhookSecret";

/// The member of an `api.*` result that says the call was turned into an approval: the
/// approval, answered as 202 `approval_required` (an `isError` result over MCP: nothing was done
/// yet).
const APPROVAL_REQUIRED: &str = "_approvalRequired";

/// The member of an `api.*` result that asks the server to call Stripe (never shown to clients).
const STRIPE_REQUEST: &str = "_stripe";

/// Runs one checked call for whoever made it; `client_ip` is what the no-key flows' limits
/// count against.
pub async fn dispatch(state: &AppState, call: Call<'_>, client_ip: Option<IpAddr>) -> Result<Outcome, ApiError> {
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
    if let (Caller::Key { digest, .. }, Some(budget)) = (call.caller, &state.sensitive_budget)
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
    if call.op.name == "preview_customer_import" {
        return imports::preview(&state.pool, call, imports::Source::Input).await;
    }
    if call.op.name == "create_webhook_endpoint" {
        let url = call.input["url"].as_str().unwrap_or_default();
        crate::effects::webhooks::check_url(url, state.allow_private_webhooks)
            .await
            .map_err(|problem| ApiError::invalid("url", problem.code(), problem.message()))?;
    }
    let sealed;
    let call = if call.op.seals_provider_secrets() {
        sealed = if call.op.name == "connect_channel" {
            channels::seal_channel_secrets(state, &call).await?
        } else {
            payments::seal_stripe_secrets(state, &call).await?
        };
        // Sealing is different each time, so a retry's input would never match the first: the
        // operation is idempotent by itself instead (the same secrets again change nothing).
        Call { input: &sealed, idempotency_key: None, ..call }
    } else {
        call
    };
    let (caller, via, op, request_id) = (call.caller, call.via, call.op, call.request_id);
    let mut outcome = tx::execute(&state.pool, call).await?;
    if !op.read_only() {
        state.wake_outbox();
    }
    if let Some(approval) =
        outcome.body.as_value_mut().and_then(Value::as_object_mut).and_then(|b| b.remove(APPROVAL_REQUIRED))
    {
        return Err(approval_required(op, approval));
    }
    let stripe = outcome.body.as_value_mut().and_then(Value::as_object_mut).and_then(|b| b.remove(STRIPE_REQUEST));
    if let (Some(request), Some(body)) = (stripe, outcome.body.as_value_mut()) {
        let answered = payments::perform(state, caller, via, op, request_id, &request, body).await?;
        *body = answered;
    }
    let body = outcome.body.as_value_mut().and_then(Value::as_object_mut);
    if let Some(request) = body.and_then(|body| body.remove(WEBHOOK_SECRET_REQUEST)) {
        let secrets = state.secrets().map_err(ApiError::internal)?;
        let id = |name: &str| request[name].as_str().and_then(|s| s.parse::<uuid::Uuid>().ok());
        let (Some(org), Some(endpoint)) = (id("orgId"), id("endpointId")) else {
            return Err(ApiError::internal("a webhook secret request without its endpoint"));
        };
        let generation = request["generation"].as_i64().unwrap_or(1);
        if let Some(body) = outcome.body.as_value_mut() {
            body["secret"] =
                Value::String(crate::effects::webhooks::signing_secret(secrets, org, endpoint, generation));
        }
    }
    Ok(outcome)
}

/// The answer to an agent's call that now waits for a person's approval.
fn approval_required(op: &crate::catalog::Operation, approval: Value) -> ApiError {
    let id = approval["id"].as_str().unwrap_or_default().to_string();
    let mut error = ApiError::new(
        http::StatusCode::ACCEPTED,
        "approval_required",
        format!(
            "Nothing was done yet: the organisation wants a person to approve {} when an agent asks. Approval {id} \
             holds exactly what will happen (approval.snapshot); tell the person it waits in their approval inbox \
             (the /inbox page of this server, or list_approvals). Check it with get_approval: once approved it is carried out exactly as shown, \
             once; rejected or expired, nothing happens. Do not ask again meanwhile.",
            op.name
        ),
    );
    error.extra.insert("approvalId".into(), Value::String(id));
    error.extra.insert("approval".into(), approval);
    error
}
