//! Outgoing email through `lettre`: SMTP when `FAVCRM_SMTP_URL` is set (`smtp://`, upgraded
//! with STARTTLS when the server offers it and `?tls=required` to insist, or `smtps://`;
//! credentials in the URL), otherwise `.eml` files
//! in `$FAVCRM_DATA_DIR/mail/` that a developer can open. Every message has a plain-text and an
//! HTML part. Subjects and bodies (they may hold one-time codes) are never logged.
//!
//! Mail is sent by the outbox worker (`effects::outbox`), never by a request. Each message has
//! a Message-ID made from its delivery's id, so an attempt repeated after a crash is the same
//! message to whoever deduplicates by it; the mailbox folder names each file after it and does
//! not write a second one. SMTP itself cannot tell a repeat: a crash between the server's
//! acceptance and the outbox's record may send a message twice.

use std::path::{Path, PathBuf};

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// Where mail goes: SMTP when a URL is set, else `.eml` files in `<data_dir>/mail/`.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp_url: Option<String>,
    pub from: String,
    pub data_dir: PathBuf,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self { smtp_url: None, from: "favcrm <no-reply@localhost>".into(), data_dir: "./.favcrm".into() }
    }
}

/// An email to send.
#[derive(Debug, Clone, Default)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The sender, when not the server's own (an organisation's email channel).
    pub from: Option<String>,
    pub reply_to: Option<String>,
}

impl Email {
    /// A message whose HTML part is its text, escaped, a paragraph per blank-line block.
    pub fn from_text(to: &str, subject: &str, text: &str) -> Self {
        let html = text
            .split("\n\n")
            .map(|p| format!("<p>{}</p>", messages::escape(p).replace('\n', "<br>")))
            .collect::<String>();
        Email {
            to: to.to_string(),
            subject: subject.to_string(),
            text: text.to_string(),
            html: format!("<!doctype html><html><body style=\"font-family:sans-serif\">{html}</body></html>"),
            ..Default::default()
        }
    }
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The server will never take it (a bad address, a permanent SMTP refusal).
    #[error("{0}")]
    Refused(String),
    /// Not now (the server is unreachable, busy, or answered with a temporary error).
    #[error("{0}")]
    Failed(String),
}

/// Where a message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Smtp,
    File(PathBuf),
}

pub enum Mailer {
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox },
    Folder { dir: PathBuf, from: Mailbox },
}

impl Mailer {
    /// SMTP when a URL is given, else the mailbox folder under the data directory.
    pub fn new(smtp_url: Option<&str>, from: &str, data_dir: &Path) -> anyhow::Result<Self> {
        let from: Mailbox = from.parse().with_context(|| format!("FAVCRM_MAIL_FROM is not an address: {from}"))?;
        Ok(match smtp_url {
            Some(url) => Mailer::Smtp {
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(&with_starttls(url))
                    .context("FAVCRM_SMTP_URL is not a valid smtp:// or smtps:// URL")?
                    .build(),
                from,
            },
            None => Mailer::Folder { dir: data_dir.join("mail"), from },
        })
    }

    /// Sends `email` as the message `id` (a delivery's id: its Message-ID, and its file name
    /// in the mailbox folder, where a second send of the same id writes nothing).
    pub async fn send(&self, id: uuid::Uuid, email: &Email) -> Result<Delivery, MailError> {
        let (from, kind) = match self {
            Mailer::Smtp { from, .. } => (from, "smtp"),
            Mailer::Folder { from, .. } => (from, "folder"),
        };
        let to: Mailbox = email.to.parse().map_err(|_| MailError::Refused(format!("not an address: {}", email.to)))?;
        let from = match &email.from {
            Some(own) => own.parse().map_err(|_| MailError::Refused(format!("not a sender address: {own}")))?,
            None => from.clone(),
        };
        let mut builder = lettre::Message::builder().from(from).to(to);
        if let Some(reply_to) = &email.reply_to {
            builder = builder.reply_to(
                reply_to.parse().map_err(|_| MailError::Refused(format!("not a reply-to address: {reply_to}")))?,
            );
        }
        let message = builder
            .message_id(Some(format!("<{id}@favcrm>")))
            .subject(&email.subject)
            .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
            .map_err(|e| MailError::Refused(format!("building the message: {e}")))?;
        match self {
            Mailer::Smtp { transport, .. } => match transport.send(message).await {
                Ok(_) => {
                    tracing::info!(kind, %id, "mail sent");
                    Ok(Delivery::Smtp)
                }
                Err(e) if e.is_permanent() => Err(MailError::Refused(format!("the SMTP server refused it: {e}"))),
                Err(e) => Err(MailError::Failed(format!("sending through SMTP: {e}"))),
            },
            Mailer::Folder { dir, .. } => {
                let write = || -> anyhow::Result<PathBuf> {
                    create_private_dir(dir)?;
                    let path = dir.join(format!("{id}.eml"));
                    match write_private(&path, &message.formatted()) {
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        other => other?,
                    }
                    Ok(path)
                };
                let path = write().map_err(|e| MailError::Failed(format!("{e:#}")))?;
                tracing::info!(kind, path = %path.display(), "mail written to the mailbox folder");
                Ok(Delivery::File(path))
            }
        }
    }
}

/// The mailbox folder may hold one-time codes: only its owner may read it.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    Ok(())
}

/// `smtp://` without a `tls=` parameter upgrades with STARTTLS whenever the server offers it
/// (lettre alone would send in the clear); `?tls=required` insists, `smtps://` is TLS from the start.
fn with_starttls(url: &str) -> String {
    if !url.starts_with("smtp://") || url.contains("tls=") {
        return url.to_string();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}tls=opportunistic")
}

/// The emails, in plain text and HTML.
pub mod messages {
    use serde_json::Value;

    use super::Email;

    pub(super) fn escape(s: &str) -> String {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
    }

    fn email(to: &str, subject: String, paragraphs: &[String], code: Option<&str>) -> Email {
        let mut text = String::new();
        let mut html = String::from("<!doctype html><html><body style=\"font-family:sans-serif\">");
        for (i, p) in paragraphs.iter().enumerate() {
            text.push_str(p);
            text.push_str("\n\n");
            html.push_str(&format!("<p>{}</p>", escape(p)));
            if i == 0
                && let Some(code) = code
            {
                text.push_str(&format!("    {code}\n\n"));
                html.push_str(&format!(
                    "<p style=\"font-size:28px;letter-spacing:6px;font-weight:bold\">{}</p>",
                    escape(code)
                ));
            }
        }
        text.push_str("— favcrm\n");
        html.push_str("<p>— favcrm</p></body></html>");
        Email { to: to.to_string(), subject, text, html, ..Default::default() }
    }

    pub fn signup_code(to: &str, organisation: &str, code: &str) -> Email {
        email(
            to,
            format!("{code} is your favcrm code"),
            &[
                format!("Your code to create the favcrm workspace \"{organisation}\" is:"),
                "It expires in 10 minutes. Give it only to the assistant or app you are signing up with.".into(),
                "If you did not ask for this, ignore this email; nothing is created without the code.".into(),
            ],
            Some(code),
        )
    }

    pub fn signup_notice(to: &str, organisation: &str) -> Email {
        email(
            to,
            "Someone tried to register with your email on favcrm".into(),
            &[
                format!(
                    "Someone asked to create the favcrm workspace \"{organisation}\" with this address, which already \
                     owns a favcrm organisation, so no code was sent and nothing was created."
                ),
                "To work in your existing organisation, use one of its API keys (an owner can mint one with \
                 create_api_key). If this was not you, no action is needed."
                    .into(),
            ],
            None,
        )
    }

    pub fn sign_in_code(to: &str, code: &str) -> Email {
        email(
            to,
            format!("{code} is your favcrm sign-in code"),
            &[
                "Your code to sign in to favcrm is:".into(),
                "It expires in 10 minutes. Enter it only on the favcrm sign-in page you opened; nobody from favcrm \
                 will ask you for it."
                    .into(),
                "If you did not try to sign in, ignore this email; nobody can sign in without the code.".into(),
            ],
            Some(code),
        )
    }

    pub fn sign_in_notice(to: &str) -> Email {
        email(
            to,
            "Someone tried to sign in to favcrm with your email".into(),
            &[
                "Someone asked to sign in to favcrm with this address, which no favcrm organisation has among its \
                 team, so no code was sent."
                    .into(),
                "If it was you, ask an owner of your organisation to invite this address, or register a new \
                 organisation. If it was not you, no action is needed."
                    .into(),
            ],
            None,
        )
    }

    pub fn invite_code(to: &str, organisation: &str, code: &str) -> Email {
        email(
            to,
            format!("{code} is your code to join {organisation} on favcrm"),
            &[
                format!("Your code to join \"{organisation}\" on favcrm is:"),
                "It expires in 10 minutes. If you did not ask for it, ignore this email.".into(),
            ],
            Some(code),
        )
    }

    /// The weekly digest to an owner: the week's figures beside the week before's.
    pub fn weekly_digest(fields: &Value) -> Email {
        use crate::render::chart::money;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let s = &fields["summary"];
        let revenue = &s["revenue"];
        let currency = text(&revenue["currency"]);
        let amount = |v: &Value| money(v["amount"].as_i64().unwrap_or(0), &currency);
        let count = |v: &Value| v.as_i64().unwrap_or(0);
        let percent = |v: &Value| v.as_f64().map_or_else(|| "n/a".to_string(), |r| format!("{:.1}%", r * 100.0));
        let bookings = &s["bookings"];
        let overdue: Vec<String> = s["overdue"]["currencies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{} invoice(s), {}",
                    count(&c["count"]),
                    money(c["amountDue"]["amount"].as_i64().unwrap_or(0), c["currency"].as_str().unwrap_or_default())
                )
            })
            .collect();
        let vips: Vec<String> = s["inactiveVips"]["customers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| match c["daysSinceVisit"].as_i64() {
                Some(days) => format!("{} ({days} days)", text(&c["name"])),
                None => format!("{} (never came)", text(&c["name"])),
            })
            .collect();
        let paragraphs = vec![
            format!(
                "How the week of {} to {} went at {}.",
                text(&fields["weekStart"]),
                text(&fields["weekEnd"]),
                text(&fields["organisationName"])
            ),
            format!(
                "Revenue: {} collected, {} net, {} invoiced (the week before: {} net).",
                amount(&revenue["totals"]["collected"]),
                amount(&revenue["totals"]["net"]),
                amount(&revenue["totals"]["invoiced"]),
                amount(&revenue["previous"]["net"])
            ),
            format!(
                "Bookings: {} (the week before: {}); {} completed, {} cancelled.",
                count(&bookings["totals"]["bookings"]),
                count(&bookings["previous"]["bookings"]),
                count(&bookings["totals"]["byStatus"]["completed"]),
                count(&bookings["totals"]["byStatus"]["cancelled"])
            ),
            format!("No-shows: {} (a rate of {}).", count(&s["noShows"]), percent(&bookings["totals"]["noShowRate"])),
            if overdue.is_empty() {
                "Overdue invoices: none.".to_string()
            } else {
                format!("Overdue invoices: {}.", overdue.join("; "))
            },
            if vips.is_empty() {
                "Inactive VIPs: none.".to_string()
            } else {
                format!("Inactive VIPs ({}): {}.", count(&s["inactiveVips"]["count"]), vips.join(", "))
            },
            format!(
                "The whole digest: get_report_digest with digestId {}, or GET /v1/reports/digests.",
                text(&fields["digestId"])
            ),
        ];
        email(
            &text(&fields["to"]),
            format!(
                "Your week at {}: {} to {}",
                text(&fields["organisationName"]),
                text(&fields["weekStart"]),
                text(&fields["weekEnd"])
            ),
            &paragraphs,
            None,
        )
    }

    pub fn team_invite(request: &Value) -> Email {
        let field = |name: &str| request[name].as_str().unwrap_or_default().to_string();
        let token = field("token");
        email(
            &field("to"),
            format!("{} invited you to {} on favcrm", field("inviterName"), field("organisationName")),
            &[
                format!(
                    "Hello {}, {} invited you to join \"{}\" on favcrm as {}.",
                    field("name"),
                    field("inviterName"),
                    field("organisationName"),
                    field("role")
                ),
                format!("Your invitation token (valid until {}):", field("expiresAt")),
                token.clone(),
                format!(
                    "To accept from a terminal: favcrm team invite accept-request --token {token} — then enter the \
                     6-digit code we email you with favcrm team invite accept-verify. An AI assistant connected to \
                     favcrm can do the same with the tools accept_team_invite_request and accept_team_invite_verify."
                ),
            ],
            None,
        )
    }

    /// The email a delivery describes as a template and its fields (`to`, and for the code
    /// templates `organisationName`); `code` is the one-time code the server unsealed.
    pub fn from_template(fields: &Value, code: Option<&str>) -> Option<Email> {
        let text = |name: &str| fields[name].as_str().unwrap_or_default();
        match fields["template"].as_str()? {
            "team_invite" => Some(team_invite(fields)),
            "signup_code" => Some(signup_code(text("to"), text("organisationName"), code?)),
            "signup_notice" => Some(signup_notice(text("to"), text("organisationName"))),
            "invite_code" => Some(invite_code(text("to"), text("organisationName"), code?)),
            "sign_in_code" => Some(sign_in_code(text("to"), code?)),
            "sign_in_notice" => Some(sign_in_notice(text("to"))),
            "weekly_digest" => Some(weekly_digest(fields)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_smtp_urls_upgrade_with_starttls_when_offered() {
        assert_eq!(super::with_starttls("smtp://u:p@mail:587"), "smtp://u:p@mail:587?tls=opportunistic");
        assert_eq!(super::with_starttls("smtp://mail?tls=required"), "smtp://mail?tls=required");
        assert_eq!(super::with_starttls("smtps://mail"), "smtps://mail");
    }
}
