//! The outbox worker: performs the deliveries operations wrote in their transactions (see the
//! rules at the top of `sql/operations/outbox.sql`) and records what came of each.
//!
//! It runs inside `favcrm serve`, woken after each change that may have written a delivery and
//! every poll interval besides (for deliveries written by other servers, and retries coming
//! due), and alone as `favcrm worker`, so several may run beside several servers. Each pass
//! claims due account mail (registration and invitation codes, sealed), then due deliveries,
//! one organisation at a time, performs them a few at a time, and records each outcome.
//!
//! A worker that stops mid-delivery (killed, crashed) leaves it leased: once the lease runs
//! out another worker takes it again, with the same idempotency key, so a provider that
//! deduplicates does not perform it twice; nothing is lost either way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Notify;
use uuid::Uuid;

use super::SendError;
use super::mail::{MailError, Mailer, messages};
use super::secrets::Secrets;
use super::webhooks::{WebhookClient, signing_secret};

/// What an account mail's one-time code is sealed for (bound to the mail's id).
pub const ACCOUNT_MAIL_CODE: &str = "account_mail_code";

/// How the worker claims, retries and gives up.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// Run the worker inside the server.
    pub enabled: bool,
    /// How long a claimed delivery is held before another worker may take it over.
    pub lease: Duration,
    /// The first retry's wait; each later one doubles it (with jitter), up to `retry_cap`.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Attempts (since the last retry by hand) before a delivery is dead.
    pub max_attempts: u32,
    /// Deliveries performed at once.
    pub concurrency: usize,
    /// How often the worker looks for due deliveries when nothing woke it.
    pub poll: Duration,
    /// How long a webhook endpoint has to answer.
    pub webhook_timeout: Duration,
    /// Webhook endpoints on private and loopback addresses are allowed (development, tests).
    pub allow_private_webhooks: bool,
    /// Where Twilio's API is (a local fake in tests).
    pub twilio_api_base: String,
    /// Where the WhatsApp Cloud API is, with its version (a local fake in tests).
    pub whatsapp_api_base: String,
    /// The address providers call back (Twilio's status callbacks); None: no callbacks asked for.
    pub public_url: Option<String>,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            lease: Duration::from_secs(120),
            retry_base: Duration::from_secs(30),
            retry_cap: Duration::from_secs(6 * 3600),
            max_attempts: 8,
            concurrency: 8,
            poll: Duration::from_secs(1),
            webhook_timeout: Duration::from_secs(15),
            allow_private_webhooks: false,
            twilio_api_base: "https://api.twilio.com".into(),
            whatsapp_api_base: "https://graph.facebook.com/v21.0".into(),
            public_url: None,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub sent: usize,
    /// Failed this time, to be tried again.
    pub retrying: usize,
    /// Refused, or out of attempts.
    pub dead: usize,
    /// Outcomes of attempts another worker had taken over meanwhile.
    pub superseded: usize,
}

impl Report {
    fn count(&mut self, status: &str) {
        match status {
            "sent" => self.sent += 1,
            "pending" => self.retrying += 1,
            "dead" => self.dead += 1,
            _ => self.superseded += 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sent + self.retrying + self.dead + self.superseded == 0
    }
}

pub struct Outbox {
    pool: Pool,
    mailer: Arc<Mailer>,
    secrets: Arc<Secrets>,
    webhooks: WebhookClient,
    twilio: super::sms::TwilioClient,
    whatsapp: super::whatsapp::WhatsAppClient,
    settings: OutboxSettings,
    wake: Arc<Notify>,
}

/// How an attempt ended, as `auth.record_delivery` takes it.
struct Outcome {
    result: &'static str,
    response_status: Option<u16>,
    error: Option<String>,
    provider_ref: Option<String>,
    retry_after: Option<Duration>,
}

impl From<SendError> for Outcome {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Refused(e) => Outcome::refused(e),
            SendError::Failed { status, error, retry_after } => Outcome::failed(status, error, retry_after),
        }
    }
}

impl Outcome {
    fn sent(response_status: Option<u16>, provider_ref: Option<String>) -> Self {
        Self { result: "sent", response_status, error: None, provider_ref, retry_after: None }
    }

    fn failed(response_status: Option<u16>, error: String, retry_after: Option<Duration>) -> Self {
        Self { result: "failed", response_status, error: Some(error), provider_ref: None, retry_after }
    }

    fn refused(error: String) -> Self {
        Self { result: "refused", response_status: None, error: Some(error), provider_ref: None, retry_after: None }
    }
}

/// Deliveries asked for at once.
const BATCH: i64 = 64;

impl Outbox {
    pub fn new(pool: Pool, mailer: Arc<Mailer>, secrets: Arc<Secrets>, settings: OutboxSettings) -> Self {
        Self {
            webhooks: WebhookClient::new(settings.allow_private_webhooks, settings.webhook_timeout),
            twilio: super::sms::TwilioClient::new(&settings.twilio_api_base),
            whatsapp: super::whatsapp::WhatsAppClient::new(&settings.whatsapp_api_base),
            pool,
            mailer,
            secrets,
            settings,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Wakes the worker (a change may have written a delivery).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Performs everything due now, until nothing is; what it did.
    pub async fn run_once(&self) -> anyhow::Result<Report> {
        let mut report = Report::default();
        loop {
            let before = (report.sent, report.retrying, report.dead, report.superseded);
            self.account_mail(&mut report).await?;
            self.deliveries(&mut report).await?;
            if (report.sent, report.retrying, report.dead, report.superseded) == before {
                return Ok(report);
            }
        }
    }

    /// Runs for as long as the process does.
    pub fn spawn(self: Arc<Self>) {
        tokio::spawn(async move {
            loop {
                match self.run_once().await {
                    Ok(r) if !r.is_empty() => tracing::info!(?r, "outbox"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "outbox"),
                }
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.settings.poll) => {}
                }
            }
        });
    }

    fn lease_seconds(&self) -> i32 {
        i32::try_from(self.settings.lease.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    async fn account_mail(&self, report: &mut Report) -> anyhow::Result<()> {
        let claimed: Value = self
            .pool
            .get()
            .await?
            .query_one("select auth.claim_account_mail($1, $2)", &[&(BATCH as i32), &self.lease_seconds()])
            .await?
            .get(0);
        let items = claimed.as_array().cloned().unwrap_or_default();
        let outcomes = futures_util::stream::iter(items)
            .map(|item| async move {
                let id: Uuid = item["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default();
                let started = chrono::Utc::now();
                let outcome = self.send_account_mail(id, &item).await;
                (id, item["attempt"].as_i64().unwrap_or(0), started, outcome)
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        for (id, attempt, started, outcome) in outcomes {
            let status: String = self
                .pool
                .get()
                .await?
                .query_one(
                    "select auth.record_account_mail($1, $2, $3)",
                    &[&id, &(attempt as i32), &self.outcome_json(&outcome, started, attempt)],
                )
                .await?
                .get(0);
            report.count(&status);
        }
        Ok(())
    }

    async fn send_account_mail(&self, id: Uuid, item: &Value) -> Outcome {
        let code = match item["sealedCode"].as_str() {
            None => None,
            Some(sealed) => {
                let bytes = match super::secrets::decode_base64(sealed) {
                    Ok(bytes) => bytes,
                    Err(e) => return Outcome::refused(format!("the sealed code is not base64: {e}")),
                };
                match self.secrets.open(id, ACCOUNT_MAIL_CODE, &bytes) {
                    Ok(code) => Some(code),
                    Err(e) => return Outcome::refused(e.to_string()),
                }
            }
        };
        let mut fields = item["fields"].clone();
        fields["template"] = item["template"].clone();
        fields["to"] = item["to"].clone();
        let Some(email) = messages::from_template(&fields, code.as_deref()) else {
            return Outcome::refused(format!("no mail template {}", item["template"]));
        };
        self.send_email(id, &email).await
    }

    async fn send_email(&self, id: Uuid, email: &super::mail::Email) -> Outcome {
        match self.mailer.send(id, email).await {
            Ok(_) => Outcome::sent(None, Some(format!("<{id}@favcrm>"))),
            Err(MailError::Refused(e)) => Outcome::refused(e),
            Err(MailError::Failed(e)) => Outcome::failed(None, e, None),
        }
    }

    async fn deliveries(&self, report: &mut Report) -> anyhow::Result<()> {
        let due =
            self.pool.get().await?.query("select org_id, id from auth.due_deliveries($1)", &[&(BATCH as i32)]).await?;
        let mut by_org: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for row in due {
            by_org.entry(row.get(0)).or_default().push(row.get(1));
        }
        for (org, ids) in by_org {
            let claimed: Value = crate::db::in_org(
                &self.pool,
                "select auth.claim_deliveries($1, $2, $3)",
                &[&org, &ids, &self.lease_seconds()],
            )
            .await?
            .get(0);
            let items = claimed.as_array().cloned().unwrap_or_default();
            let outcomes = futures_util::stream::iter(items)
                .map(|item| async move {
                    let started = chrono::Utc::now();
                    let outcome = self.perform(org, &item).await;
                    (item, started, outcome)
                })
                .buffer_unordered(self.settings.concurrency.max(1))
                .collect::<Vec<_>>()
                .await;
            // Every outcome of the batch in one statement (one round trip, one transaction).
            let outcomes: Vec<Value> = outcomes
                .iter()
                .map(|(item, started, outcome)| {
                    let attempt = item["attempt"].as_i64().unwrap_or(0);
                    json!({ "id": item["id"], "attempt": attempt, "outcome": self.outcome_json(outcome, *started, attempt) })
                })
                .collect();
            let recorded = crate::db::in_org(
                &self.pool,
                "select auth.record_deliveries($1, $2)",
                &[&org, &Value::Array(outcomes)],
            )
            .await;
            match recorded {
                Ok(row) => {
                    for status in row.get::<_, Value>(0).as_array().into_iter().flatten() {
                        report.count(status.as_str().unwrap_or_default());
                    }
                }
                // Left leased: taken again once their leases run out.
                Err(e) => tracing::warn!(%org, error = %format!("{e:#}"), "recording deliveries"),
            }
        }
        Ok(())
    }

    async fn perform(&self, org: Uuid, item: &Value) -> Outcome {
        let id: Uuid = item["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default();
        match item["kind"].as_str().unwrap_or_default() {
            "email" => self.send_message_email(org, id, item).await,
            "sms" => self.send_text(org, item).await,
            "whatsapp" => self.send_whatsapp(org, id, item).await,
            "webhook" => self.send_webhook(org, item).await,
            other => Outcome::refused(format!("no provider performs {other} deliveries")),
        }
    }

    /// A secret of a message's channel, opened for the organisation.
    fn channel_secret(&self, org: Uuid, channel: &Value, purpose: &str) -> Result<String, Outcome> {
        let sealed = channel["sealedSecret"]
            .as_str()
            .ok_or_else(|| Outcome::refused("the channel has no credentials".into()))?;
        let bytes =
            super::secrets::decode_base64(sealed).map_err(|e| Outcome::refused(format!("sealed secret: {e}")))?;
        self.secrets.open(org, purpose, &bytes).map_err(|e| {
            tracing::error!(%org, error = %e, "a channel's credentials do not open");
            Outcome::refused(
                "the channel's credentials cannot be read with this server's secrets key: connect it again".into(),
            )
        })
    }

    async fn send_message_email(&self, org: Uuid, id: Uuid, item: &Value) -> Outcome {
        let payload = &item["payload"];
        if payload.get("template").is_some_and(|t| !t.is_null()) {
            return match messages::from_template(payload, None) {
                Some(email) => self.send_email(id, &email).await,
                None => Outcome::refused(format!("no mail template {}", payload["template"])),
            };
        }
        let text = |k: &str| payload[k].as_str().unwrap_or_default().to_string();
        let mut email = super::mail::Email::from_text(
            item["recipient"].as_str().unwrap_or_default(),
            &text("subject"),
            &text("text"),
        );
        let channel = &item["channel"];
        if channel.is_null() {
            return self.send_email(id, &email).await;
        }
        let settings = &channel["settings"];
        if let Some(address) = settings["fromAddress"].as_str() {
            email.from = Some(match settings["fromName"].as_str() {
                Some(name) => format!("\"{}\" <{address}>", name.replace('"', "'")),
                None => address.to_string(),
            });
        }
        email.reply_to = settings["replyTo"].as_str().map(str::to_string);
        if channel["sealedSecret"].is_null() {
            return self.send_email(id, &email).await;
        }
        let url = match self.channel_secret(org, channel, super::purpose::SMTP_URL) {
            Ok(url) => url,
            Err(outcome) => return outcome,
        };
        let from = email.from.clone().unwrap_or_else(|| "favcrm <no-reply@localhost>".into());
        match Mailer::new(Some(&url), &from, std::path::Path::new(".")) {
            Ok(own) => match own.send(id, &email).await {
                Ok(_) => Outcome::sent(None, Some(format!("<{id}@favcrm>"))),
                Err(MailError::Refused(e)) => Outcome::refused(e),
                Err(MailError::Failed(e)) => Outcome::failed(None, e, None),
            },
            Err(e) => Outcome::refused(format!("the channel's SMTP server: {e:#}")),
        }
    }

    async fn send_text(&self, org: Uuid, item: &Value) -> Outcome {
        let channel = &item["channel"];
        if channel.is_null() {
            return Outcome::failed(None, "no sms channel is connected".into(), None);
        }
        let token = match self.channel_secret(org, channel, super::purpose::TWILIO_AUTH_TOKEN) {
            Ok(token) => token,
            Err(outcome) => return outcome,
        };
        let settings = &channel["settings"];
        let callback = self.settings.public_url.as_ref().map(|base| format!("{base}/v1/webhooks/twilio/{org}"));
        let text = super::sms::Text {
            account_sid: settings["accountSid"].as_str().unwrap_or_default(),
            auth_token: &token,
            from: settings["fromNumber"].as_str(),
            messaging_service_sid: settings["messagingServiceSid"].as_str(),
            to: item["recipient"].as_str().unwrap_or_default(),
            body: item["payload"]["text"].as_str().unwrap_or_default(),
            status_callback: callback.as_deref(),
        };
        match self.twilio.send(&text).await {
            Ok(sid) => Outcome::sent(None, Some(sid)),
            Err(e) => Outcome::from(e),
        }
    }

    async fn send_whatsapp(&self, org: Uuid, id: Uuid, item: &Value) -> Outcome {
        let channel = &item["channel"];
        if channel.is_null() {
            return Outcome::failed(None, "no whatsapp channel is connected".into(), None);
        }
        let token = match self.channel_secret(org, channel, super::purpose::WHATSAPP_ACCESS_TOKEN) {
            Ok(token) => token,
            Err(outcome) => return outcome,
        };
        let payload = &item["payload"];
        let template = &payload["whatsappTemplate"];
        let content = if template.is_object() {
            super::whatsapp::Content::Template {
                name: template["name"].as_str().unwrap_or_default(),
                language: template["language"].as_str().unwrap_or("en"),
                parameters: template["parameters"]
                    .as_array()
                    .map(|p| p.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect())
                    .unwrap_or_default(),
            }
        } else {
            super::whatsapp::Content::Text(payload["text"].as_str().unwrap_or_default())
        };
        let phone_number_id = channel["settings"]["phoneNumberId"].as_str().unwrap_or_default();
        let to = item["recipient"].as_str().unwrap_or_default();
        match self.whatsapp.send(phone_number_id, &token, to, &content, &id.to_string()).await {
            Ok(message_id) => Outcome::sent(None, Some(message_id)),
            Err(e) => Outcome::from(e),
        }
    }

    async fn send_webhook(&self, org: Uuid, item: &Value) -> Outcome {
        let hook = &item["webhook"];
        let endpoint: Uuid = item["endpointId"]
            .as_str()
            .or_else(|| hook["endpointId"].as_str())
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        let mut secrets =
            vec![signing_secret(&self.secrets, org, endpoint, hook["secretGeneration"].as_i64().unwrap_or(1))];
        if let Some(previous) = hook["previousSecretGeneration"].as_i64() {
            secrets.push(signing_secret(&self.secrets, org, endpoint, previous));
        }
        let body = json!({ "type": hook["type"], "timestamp": hook["timestamp"], "data": hook["data"] }).to_string();
        let id = hook["eventId"].as_str().unwrap_or_default();
        let url = hook["url"].as_str().unwrap_or_default();
        match self.webhooks.send(url, id, chrono::Utc::now().timestamp(), &body, &secrets).await {
            Ok(status) => Outcome::sent(Some(status), None),
            Err(e) => Outcome::from(e),
        }
    }

    /// The outcome as `auth.record_delivery` takes it, with when to try again: the provider's
    /// wait if it asked for one, else the base doubled per attempt, capped, with jitter (so
    /// deliveries that failed together do not all come back at once).
    fn outcome_json(&self, outcome: &Outcome, started: chrono::DateTime<chrono::Utc>, attempt: i64) -> Value {
        let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let backoff =
            self.settings.retry_base.saturating_mul(2u32.saturating_pow(exponent)).min(self.settings.retry_cap);
        let jittered = backoff.mul_f64(0.5 + rand::random::<f64>() * 0.5);
        let wait = outcome.retry_after.map_or(jittered, |asked| asked.min(self.settings.retry_cap).max(jittered));
        json!({
            "result": outcome.result,
            "startedAt": started.to_rfc3339(),
            "responseStatus": outcome.response_status,
            "error": outcome.error,
            "providerRef": outcome.provider_ref,
            "retryInSeconds": wait.as_secs_f64(),
            "maxAttempts": self.settings.max_attempts,
        })
    }
}
