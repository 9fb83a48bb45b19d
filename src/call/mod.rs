//! The call path every surface shares (REST, MCP, and through them the CLI): a checked call goes
//! to the no-key flows ([`onboarding`]) or to the transaction executor (`crate::db::tx`), and
//! the mail an operation asked for is sent once it committed. Nothing here knows HTTP: the web
//! layer reads requests into a [`Call`] and turns an [`Outcome`] or [`ApiError`] into answers.

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
}

pub struct Payments {
    pub stripe: crate::effects::stripe::StripeClient,
    pub secrets: crate::effects::secrets::Secrets,
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
            secrets: crate::effects::secrets::Secrets::load(settings.secrets_key.as_deref(), data_dir)?,
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

    /// The same state (limits and their counts shared) with calls on `pool`.
    pub fn with_pool(&self, pool: Pool) -> Self {
        Self { pool, ..self.clone() }
    }
}

/// The member of an `api.*` result that asks the server for an email (never shown to clients).
const MAIL_REQUEST: &str = "_mail";

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
    let sealed;
    let call = if call.op.seals_provider_secrets() {
        sealed = payments::seal_stripe_secrets(state, &call).await?;
        // Sealing is different each time, so a retry's input would never match the first: the
        // operation is idempotent by itself instead (the same secrets again change nothing).
        Call { input: &sealed, idempotency_key: None, ..call }
    } else {
        call
    };
    let (caller, via, op, request_id) = (call.caller, call.via, call.op, call.request_id);
    let mut outcome = tx::execute(&state.pool, call).await?;
    let stripe = outcome.body.as_value_mut().and_then(Value::as_object_mut).and_then(|b| b.remove(STRIPE_REQUEST));
    if let (Some(request), Some(body)) = (stripe, outcome.body.as_value_mut()) {
        let answered = payments::perform(state, caller, via, op, request_id, &request, body).await?;
        *body = answered;
    }
    let body = outcome.body.as_value_mut().and_then(Value::as_object_mut);
    if let Some(request) = body.and_then(|body| body.remove(MAIL_REQUEST)) {
        // A replay answers again; it does not mail again.
        if !outcome.replayed {
            let sent = onboarding::send_requested(state, &request).await;
            if let Some(body) = outcome.body.as_value_mut() {
                body["emailSent"] = Value::Bool(sent);
            }
        }
    }
    Ok(outcome)
}
