//! Outgoing email through `lettre`: SMTP when `FAVCRM_SMTP_URL` is set (`smtp://`, upgraded
//! with STARTTLS when the server offers it and `?tls=required` to insist, or `smtps://`;
//! credentials in the URL), otherwise `.eml` files
//! in `$FAVCRM_DATA_DIR/mail/` that a developer can open. Every message has a plain-text and an
//! HTML part. Subjects and bodies (they may hold one-time codes) are never logged.

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
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
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

    pub async fn send(&self, email: &Email) -> anyhow::Result<Delivery> {
        let (from, kind) = match self {
            Mailer::Smtp { from, .. } => (from, "smtp"),
            Mailer::Folder { from, .. } => (from, "folder"),
        };
        let to: Mailbox = email.to.parse().with_context(|| format!("not an address: {}", email.to))?;
        let message = lettre::Message::builder()
            .from(from.clone())
            .to(to)
            .subject(&email.subject)
            .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
            .context("building the message")?;
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(message).await.context("sending through SMTP")?;
                tracing::info!(kind, "mail sent");
                Ok(Delivery::Smtp)
            }
            Mailer::Folder { dir, .. } => {
                create_private_dir(dir)?;
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
                    uuid::Uuid::now_v7().simple()
                );
                let path = dir.join(name);
                write_private(&path, &message.formatted())?;
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

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    #[test]
    fn plain_smtp_urls_upgrade_with_starttls_when_offered() {
        assert_eq!(super::with_starttls("smtp://u:p@mail:587"), "smtp://u:p@mail:587?tls=opportunistic");
        assert_eq!(super::with_starttls("smtp://mail?tls=required"), "smtp://mail?tls=required");
        assert_eq!(super::with_starttls("smtps://mail"), "smtps://mail");
    }
}
