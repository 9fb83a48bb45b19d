//! The command line. Only this module knows clap; it turns flags and environment into the
//! settings the rest of the crate takes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::client::{Client, Config, Target, mask};
use crate::db::{ClusterUse, Database, DbSettings};
use crate::db::{Reapply, policies};
use crate::telemetry::{self, LogFormat};
use crate::web::{Application, ServerSettings};

/// favcrm: an agentic headless backend for service businesses.
///
/// With no subcommand, runs `serve`. Every setting can come from the environment variable
/// shown, or from its flag.
#[derive(Debug, Parser)]
#[command(name = "favcrm", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// PostgreSQL server to use (administrative URL: migrations run as it, requests as
    /// favcrm_authenticator). Unset: a private cluster under the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Password favcrm_authenticator logs in with on a DATABASE_URL server (set on the role
    /// at migration when given).
    #[arg(long, env = "FAVCRM_AUTHENTICATOR_PASSWORD", global = true, hide_env_values = true)]
    pub authenticator_password: Option<String>,

    /// Where favcrm keeps its data: the embedded PostgreSQL cluster (pg/) and its log.
    #[arg(long, env = "FAVCRM_DATA_DIR", default_value = "./.favcrm", global = true)]
    pub data_dir: PathBuf,

    /// Address the HTTP server listens on.
    #[arg(long, env = "FAVCRM_BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: String,

    /// Database connections in the server's pool [default: twice the CPU cores, at least 4].
    #[arg(long, env = "FAVCRM_DB_POOL_SIZE", global = true)]
    pub db_pool_size: Option<usize>,

    /// Host names (comma-separated) accepted in the Host header of MCP requests; loopback
    /// only when unset. Set it when the server is reached under its own name.
    #[arg(long, env = "FAVCRM_MCP_ALLOWED_HOSTS", value_delimiter = ',', global = true)]
    pub mcp_allowed_hosts: Option<Vec<String>>,

    /// Browser origins (comma-separated, with scheme, e.g. https://app.example) allowed to call
    /// /mcp; a request with any other Origin (but the server's own) is refused with 403.
    #[arg(long, env = "FAVCRM_MCP_ALLOWED_ORIGINS", value_delimiter = ',', global = true)]
    pub mcp_allowed_origins: Option<Vec<String>>,

    /// Requests a minute each API key may make (REST and MCP together); 0 turns it off.
    #[arg(long, env = "FAVCRM_KEY_REQUESTS_PER_MINUTE", default_value_t = 1200, global = true)]
    pub key_requests_per_minute: u32,

    /// Sensitive operations (sending invitations, minting, rotating or revoking keys) each
    /// API key may make an hour, on top of the general budget; 0 turns it off.
    #[arg(long, env = "FAVCRM_SENSITIVE_REQUESTS_PER_HOUR", default_value_t = 120, global = true)]
    pub sensitive_requests_per_hour: u32,

    /// SMTP server for outgoing mail: smtp://user:pass@host:587 (STARTTLS) or
    /// smtps://user:pass@host:465. Unset: mail is written as .eml files to <data dir>/mail/.
    #[arg(long, env = "FAVCRM_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Where Stripe's API is (a local fake in tests).
    #[arg(long, env = "FAVCRM_STRIPE_API_BASE", default_value = "https://api.stripe.com", global = true)]
    pub stripe_api_base: String,

    /// The address people reach this server at (Stripe sends payers back to it). Default: the
    /// address it listens on.
    #[arg(long, env = "FAVCRM_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// The key provider secrets (Stripe keys) are encrypted under: base64 of 32 random bytes.
    /// Default: `<data dir>/secrets.key`, generated on first start (keep it with the database).
    #[arg(long, env = "FAVCRM_SECRETS_KEY", global = true, hide_env_values = true)]
    pub secrets_key: Option<String>,

    /// The sender of outgoing mail.
    #[arg(long, env = "FAVCRM_MAIL_FROM", default_value = "favcrm <no-reply@localhost>", global = true)]
    pub mail_from: String,

    /// Code emails (registration and invitation codes) per client address an hour; 0: no limit.
    #[arg(long, env = "FAVCRM_CODE_EMAILS_PER_IP_PER_HOUR", default_value_t = 3, global = true)]
    pub code_emails_per_ip_per_hour: u32,

    /// Code emails per client address a day (also kept in the database); 0: no limit.
    #[arg(long, env = "FAVCRM_CODE_EMAILS_PER_IP_PER_DAY", default_value_t = 20, global = true)]
    pub code_emails_per_ip_per_day: u32,

    /// Registration requests per email address an hour (also kept in the database); 0: no limit.
    #[arg(long, env = "FAVCRM_SIGNUPS_PER_EMAIL_PER_HOUR", default_value_t = 3, global = true)]
    pub signups_per_email_per_hour: u32,

    /// Code checks (registration and invitation) per client address an hour; 0: no limit.
    #[arg(long, env = "FAVCRM_CODE_CHECKS_PER_IP_PER_HOUR", default_value_t = 30, global = true)]
    pub code_checks_per_ip_per_hour: u32,

    /// Requests with a publishable key (web pages) per visitor address a minute; 0: no limit.
    #[arg(long, env = "FAVCRM_WEB_REQUESTS_PER_IP_PER_MINUTE", default_value_t = 120, global = true)]
    pub web_requests_per_ip_per_minute: u32,

    /// Bookings made with a publishable key per visitor address an hour; 0: no limit.
    #[arg(long, env = "FAVCRM_WEB_BOOKINGS_PER_IP_PER_HOUR", default_value_t = 10, global = true)]
    pub web_bookings_per_ip_per_hour: u32,

    /// OAuth client registrations per client address an hour (kept in the database); 0: no limit.
    #[arg(long, env = "FAVCRM_CLIENT_REGISTRATIONS_PER_IP_PER_HOUR", default_value_t = 20, global = true)]
    pub client_registrations_per_ip_per_hour: u32,

    /// Proxies (comma-separated IP addresses) whose X-Forwarded-For names the client. Unset:
    /// the client is the TCP peer.
    #[arg(long, env = "FAVCRM_TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Seconds between scheduler runs in `serve` and `worker` (renewals, payment checks, credit
    /// expiry); 0 turns it off in `serve`.
    #[arg(long, env = "FAVCRM_SCHEDULER_INTERVAL_SECONDS", default_value_t = 60, global = true)]
    pub scheduler_interval_seconds: u64,

    /// Run the outbox worker (email, webhooks) inside `serve`; false leaves it to `favcrm
    /// worker` processes.
    #[arg(long, env = "FAVCRM_OUTBOX_WORKER", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub outbox_worker: bool,

    /// Seconds before the first retry of a failed delivery; each later retry waits twice as
    /// long (with jitter), up to six hours.
    #[arg(long, env = "FAVCRM_OUTBOX_RETRY_BASE_SECONDS", default_value_t = 30.0, global = true)]
    pub outbox_retry_base_seconds: f64,

    /// Attempts before a delivery is dead (list_deliveries status=dead; retry_delivery sends
    /// it again).
    #[arg(long, env = "FAVCRM_OUTBOX_MAX_ATTEMPTS", default_value_t = 8, global = true)]
    pub outbox_max_attempts: u32,

    /// Seconds a worker holds a delivery it is performing; if it stops meanwhile, another
    /// worker takes the delivery over after that.
    #[arg(long, env = "FAVCRM_OUTBOX_LEASE_SECONDS", default_value_t = 120, global = true)]
    pub outbox_lease_seconds: u64,

    /// Milliseconds between looks for due deliveries when nothing woke the worker.
    #[arg(long, env = "FAVCRM_OUTBOX_POLL_MS", default_value_t = 1000, global = true)]
    pub outbox_poll_ms: u64,

    /// Where Twilio's API is (a local fake in tests).
    #[arg(long, env = "FAVCRM_TWILIO_API_BASE", default_value = "https://api.twilio.com", global = true)]
    pub twilio_api_base: String,

    /// Where the WhatsApp Business Cloud API is, with its version (a local fake in tests).
    #[arg(long, env = "FAVCRM_WHATSAPP_API_BASE", default_value = "https://graph.facebook.com/v21.0", global = true)]
    pub whatsapp_api_base: String,

    /// Allow webhook endpoints on private, loopback and link-local addresses, and plain http
    /// (development and tests only: otherwise an endpoint could reach inside your network).
    #[arg(long, env = "FAVCRM_ALLOW_PRIVATE_WEBHOOKS", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub allow_private_webhooks: bool,

    /// Log filter: a level (error, warn, info, debug, trace) or directives such as favcrm=debug.
    #[arg(long, env = "FAVCRM_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format.
    #[arg(long, env = "FAVCRM_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database and serve REST (/v1) and MCP (/mcp) (the default).
    Serve,
    /// Run the scheduler (subscription renewals, payment checks, credit expiry) and the outbox
    /// worker (email, webhooks) alone, beside servers on the same database; `serve` runs both too.
    Worker(WorkerArgs),
    /// Create favcrm's roles if needed, run migrations, then re-apply the operations' SQL
    /// (sql/operations/) and the RLS policies.
    Migrate,
    /// Administrative tasks that talk to the database directly.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Row-level security policies.
    #[command(subcommand)]
    Policies(PoliciesCommand),
    /// List, describe and call the server's tools over MCP (the same operations as REST).
    #[command(subcommand)]
    Tool(ToolCommand),
    /// Check a key against a server and save both to ~/.config/favcrm/config.toml.
    Login(LoginArgs),
    /// Create a new organisation with an email code: no key needed.
    #[command(subcommand)]
    Signup(SignupCommand),
    /// The team: members and invitations.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Show the organisation and key the CLI is using.
    Whoami(ClientOpts),
    /// Check that the server is reachable, the key is accepted, and tools are offered.
    Doctor(ClientOpts),
    /// Print the OpenAPI 3.1 document generated from the operation catalog.
    Openapi,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// One pass over what is due, then exit (printing what it did as JSON). The outbox's
    /// deliveries are performed as of the real time.
    #[arg(long)]
    pub once: bool,
    /// Act as if it were this time (RFC 3339), e.g. to see what a date will bring on a copy of
    /// the database. Only with --once.
    #[arg(long, requires = "once")]
    pub as_of: Option<String>,
}

/// Where the server is and which key to use. URL: --url > FAVCRM_MCP_URL > FAVCRM_API_BASE +
/// /mcp > config file > http://127.0.0.1:8080/mcp. Key: --api-key > FAVCRM_API_KEY >
/// FAVCRM_MCP_TOKEN > config file.
#[derive(Debug, Args, Clone)]
pub struct ClientOpts {
    /// The server's MCP URL.
    #[arg(long)]
    pub url: Option<String>,
    /// The API key (fav_mcp_… or fav_sk_…).
    #[arg(long)]
    pub api_key: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// The tools this key may use.
    List(ClientOpts),
    /// One tool's description, input and output schemas, and annotations.
    Describe {
        /// Tool name, e.g. create_customer.
        name: String,
        #[command(flatten)]
        client: ClientOpts,
    },
    /// Call a tool with JSON arguments, e.g. favcrm tool call create_customer '{"name":"Amy Chan"}'.
    Call {
        /// Tool name.
        name: String,
        /// Arguments as a JSON object; `-` reads them from standard input. Default: {}.
        arguments: Option<String>,
        /// The confirmationToken a destructive tool returned, once the change is approved.
        #[arg(long)]
        confirm: Option<String>,
        /// Make a retried call safe: the same key and arguments replay the first result.
        #[arg(long)]
        idempotency_key: Option<String>,
        #[command(flatten)]
        client: ClientOpts,
    },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The API key to use from now on.
    pub key: String,
    /// The server's MCP URL (default: the current one).
    #[arg(long)]
    pub url: Option<String>,
    /// Print the key in full instead of masked.
    #[arg(long)]
    pub show_key: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SignupCommand {
    /// Step 1: email a 6-digit code to the person who will own the organisation.
    Request {
        #[arg(long)]
        email: String,
        #[arg(long)]
        organisation_name: String,
        /// beauty, fitness, tutoring, retail, hospitality, services or other.
        #[arg(long)]
        industry: Option<String>,
        /// ISO 3166-1 alpha-2 country code (sets the currency and default time zone).
        #[arg(long)]
        country: Option<String>,
        /// IANA time zone (default: the country's).
        #[arg(long)]
        timezone: Option<String>,
        #[command(flatten)]
        client: ClientOpts,
    },
    /// Step 2: verify the code; creates the organisation and saves its first key.
    Verify {
        #[arg(long)]
        request_id: String,
        #[arg(long)]
        code: String,
        #[command(flatten)]
        key: NewKeyOpts,
        #[command(flatten)]
        client: ClientOpts,
    },
}

/// What to do with a key a command receives.
#[derive(Debug, Args, Clone)]
pub struct NewKeyOpts {
    /// Do not save the new key to ~/.config/favcrm/config.toml.
    #[arg(long)]
    pub no_save: bool,
    /// Accepted for older scripts: a new key is always printed in full, once.
    #[arg(long, hide = true)]
    pub show_key: bool,
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Invitations.
    #[command(subcommand)]
    Invite(InviteCommand),
    /// The organisation's members.
    List {
        /// Include removed members.
        #[arg(long)]
        include_removed: bool,
        #[command(flatten)]
        client: ClientOpts,
    },
}

#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Invite someone by email (needs a key of a manager or above).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, manager or staff: below your own role.
        #[arg(long)]
        role: String,
        /// 1 to 336 hours (default 72).
        #[arg(long)]
        expires_in_hours: Option<u32>,
        #[command(flatten)]
        client: ClientOpts,
    },
    /// Accept an invitation, step 1: email a code to the invited address. No key needed.
    AcceptRequest {
        #[arg(long)]
        token: String,
        #[command(flatten)]
        client: ClientOpts,
    },
    /// Accept an invitation, step 2: verify the code; saves your new key.
    AcceptVerify {
        #[arg(long)]
        token: String,
        #[arg(long)]
        code: String,
        /// Your name as the team will see it (default: the name on the invitation).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        key: NewKeyOpts,
        #[command(flatten)]
        client: ClientOpts,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an organisation, its owner and an owner API key (printed once).
    CreateOrg(CreateOrgArgs),
}

#[derive(Debug, Args)]
pub struct CreateOrgArgs {
    /// The organisation's name.
    #[arg(long)]
    pub name: String,
    /// The owner's email address.
    #[arg(long)]
    pub owner_email: String,
    /// The owner's name (default: the part of the email before @).
    #[arg(long)]
    pub owner_name: Option<String>,
    /// IANA time zone, e.g. Asia/Hong_Kong (default: the country's, else UTC).
    #[arg(long)]
    pub timezone: Option<String>,
    /// beauty, fitness, tutoring, retail, hospitality, services or other.
    #[arg(long, default_value = "other")]
    pub industry: String,
    /// ISO 3166-1 alpha-2 country code.
    #[arg(long)]
    pub country: Option<String>,
    /// ISO 4217 default currency (default: the country's, else USD).
    #[arg(long)]
    pub currency: Option<String>,
    /// Print {"organisationId","userId","apiKey"} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PoliciesCommand {
    /// Print RLS status and policies of every table in app and audit, and any breach of the
    /// table rules or of one home per function (rule 9); exits 1 on a breach.
    Audit {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(&cli.global.log, cli.global.log_format);
    let result = actix_web::rt::System::new().block_on(run(cli));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Twice the CPU cores, at least 4 (the usual rule for PostgreSQL, and what measured best here:
/// on 2 cores a pool of 4 served 4,300 pages/s and 640 bookings/s where 16 served 3,300 and
/// 510, because every further backend only adds context switches; see loadtest/README.md).
fn default_pool_size() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get() * 2).max(4)
}

fn db_settings(g: &GlobalOpts, cluster: ClusterUse) -> DbSettings {
    DbSettings {
        database_url: g.database_url.clone(),
        data_dir: g.data_dir.clone(),
        authenticator_password: g.authenticator_password.clone(),
        pool_size: g.db_pool_size.unwrap_or_else(default_pool_size),
        cluster,
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Serve);
    match command {
        Command::Tool(cmd) => return tool(cmd).await,
        Command::Login(args) => return login(args).await,
        Command::Signup(cmd) => return signup(cmd).await,
        Command::Team(cmd) => return team(cmd).await,
        Command::Whoami(opts) => return whoami(opts).await,
        Command::Doctor(opts) => return doctor(opts).await,
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&crate::openapi::document())?);
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    // Only the server creates and owns the embedded cluster; the other commands join it.
    let cluster = if matches!(command, Command::Serve) { ClusterUse::Serve } else { ClusterUse::Existing };
    let settings = db_settings(&cli.global, cluster);
    let db = Arc::new(Database::open(&settings).await?);
    let result = match command {
        Command::Serve => serve(&db, &cli.global).await,
        Command::Migrate => db.migrate(settings.authenticator_password.as_deref(), Reapply::Always).await.map(|()| {
            println!("database migrated to version {}", crate::db::latest_migration());
            ExitCode::SUCCESS
        }),
        Command::Admin(AdminCommand::CreateOrg(args)) => create_org(&db, &settings, args).await,
        Command::Policies(PoliciesCommand::Audit { json }) => audit(&db, json).await,
        Command::Worker(args) => worker(&db, &cli.global, args).await,
        Command::Tool(_)
        | Command::Login(_)
        | Command::Signup(_)
        | Command::Team(_)
        | Command::Whoami(_)
        | Command::Doctor(_)
        | Command::Openapi => {
            unreachable!("handled above")
        }
    };
    db.shutdown();
    result
}

async fn serve(db: &Arc<Database>, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    db.migrate(g.authenticator_password.as_deref(), Reapply::WhenChanged).await?;
    // Fail at start, not on the first request, when the runtime role cannot log in.
    let connection = db.pool.get().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot connect as favcrm_authenticator ({e}). With DATABASE_URL, set FAVCRM_AUTHENTICATOR_PASSWORD \
             (favcrm sets it on the role when it may) or allow that role to log in from this host."
        )
    })?;
    drop(connection);
    db.spawn_housekeeping();
    if g.scheduler_interval_seconds > 0 {
        let every = std::time::Duration::from_secs(g.scheduler_interval_seconds);
        crate::scheduler::spawn(db.pool.clone(), Some(Arc::new(scheduler_payments(g)?)), every);
    }
    let settings = ServerSettings {
        mcp_allowed_hosts: g.mcp_allowed_hosts.clone(),
        mcp_allowed_origins: g.mcp_allowed_origins.clone(),
        key_requests_per_minute: g.key_requests_per_minute,
        sensitive_requests_per_hour: g.sensitive_requests_per_hour,
        abuse: crate::limits::AbuseSettings {
            code_emails_per_ip_per_hour: g.code_emails_per_ip_per_hour,
            code_emails_per_ip_per_day: g.code_emails_per_ip_per_day,
            signups_per_email_per_hour: g.signups_per_email_per_hour,
            code_checks_per_ip_per_hour: g.code_checks_per_ip_per_hour,
            web_requests_per_ip_per_minute: g.web_requests_per_ip_per_minute,
            web_bookings_per_ip_per_hour: g.web_bookings_per_ip_per_hour,
            client_registrations_per_ip_per_hour: g.client_registrations_per_ip_per_hour,
        },
        mail: crate::effects::mail::MailSettings {
            smtp_url: g.smtp_url.clone(),
            from: g.mail_from.clone(),
            data_dir: g.data_dir.clone(),
        },
        trusted_proxies: g.trusted_proxies.clone(),
        payments: crate::effects::stripe::PaymentSettings {
            stripe_api_base: g.stripe_api_base.clone(),
            public_url: g.public_url.clone(),
            secrets_key: g.secrets_key.clone(),
        },
        outbox: outbox_settings(g, g.outbox_worker),
    };
    let app = Application::build(db.clone(), &g.bind, settings)?;
    tracing::info!(address = %g.bind, "favcrm listening");
    app.run_until_stopped().await.context("serving")?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Stripe and the secrets key, as the server has them, for the payment links of renewals.
fn scheduler_payments(g: &GlobalOpts) -> anyhow::Result<crate::call::Payments> {
    let public_url = g.public_url.clone().unwrap_or_else(|| format!("http://{}", g.bind));
    let settings = crate::effects::stripe::PaymentSettings {
        stripe_api_base: g.stripe_api_base.clone(),
        public_url: Some(public_url.clone()),
        secrets_key: g.secrets_key.clone(),
    };
    crate::call::Payments::new(&settings, &g.data_dir, &public_url)
}

/// How the outbox worker claims, retries and gives up, from the flags.
fn outbox_settings(g: &GlobalOpts, enabled: bool) -> crate::effects::outbox::OutboxSettings {
    use std::time::Duration;
    crate::effects::outbox::OutboxSettings {
        enabled,
        lease: Duration::from_secs(g.outbox_lease_seconds.max(1)),
        retry_base: Duration::from_secs_f64(g.outbox_retry_base_seconds.clamp(0.0, 86_400.0)),
        max_attempts: g.outbox_max_attempts.max(1),
        poll: Duration::from_millis(g.outbox_poll_ms.max(10)),
        allow_private_webhooks: g.allow_private_webhooks,
        twilio_api_base: g.twilio_api_base.clone(),
        whatsapp_api_base: g.whatsapp_api_base.clone(),
        public_url: Some(g.public_url.clone().unwrap_or_else(|| format!("http://{}", g.bind))),
        ..Default::default()
    }
}

async fn worker(db: &Database, g: &GlobalOpts, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    if let Some(t) = &args.as_of {
        chrono::DateTime::parse_from_rfc3339(t).with_context(|| format!("--as-of {t} is not an RFC 3339 time"))?;
    }
    let payments = scheduler_payments(g)?;
    let mailer = Arc::new(crate::effects::mail::Mailer::new(g.smtp_url.as_deref(), &g.mail_from, &g.data_dir)?);
    let outbox = Arc::new(crate::effects::outbox::Outbox::new(
        db.pool.clone(),
        mailer,
        payments.secrets.clone(),
        outbox_settings(g, true),
    ));
    if args.once {
        let report = crate::scheduler::run_once(&db.pool, Some(&payments), args.as_of.as_deref()).await?;
        let outbox = outbox.run_once().await?;
        let mut out = serde_json::to_value(&report)?;
        out["outbox"] = serde_json::to_value(&outbox)?;
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let every = std::time::Duration::from_secs(g.scheduler_interval_seconds.max(1));
    crate::scheduler::spawn(db.pool.clone(), Some(Arc::new(payments)), every);
    outbox.spawn();
    tracing::info!(every_seconds = every.as_secs(), "scheduler and outbox worker running");
    tokio::signal::ctrl_c().await.context("waiting for a stop signal")?;
    Ok(ExitCode::SUCCESS)
}

async fn create_org(db: &Database, settings: &DbSettings, args: CreateOrgArgs) -> anyhow::Result<ExitCode> {
    db.migrate(settings.authenticator_password.as_deref(), Reapply::WhenChanged).await?;
    let client = db.admin_client().await?;
    client.batch_execute("set role favcrm_owner").await?;
    let input = json!({
        "name": args.name,
        "ownerEmail": args.owner_email,
        "ownerName": args.owner_name,
        "timezone": args.timezone,
        "industry": args.industry,
        "country": args.country.map(|c| c.to_uppercase()),
        "defaultCurrency": args.currency.map(|c| c.to_uppercase()),
        "via": "cli",
    });
    let row = client
        .query_one("select auth.bootstrap_organisation($1)", &[&input])
        .await
        .map_err(|e| anyhow::anyhow!("{}", crate::error::from_db_error(&e)))?;
    let created: serde_json::Value = row.get(0);
    if args.json {
        let out = json!({
            "organisationId": created["organisationId"],
            "userId": created["userId"],
            "apiKey": created["apiKey"],
        });
        println!("{out}");
    } else {
        println!("Organisation  {}", created["organisationId"].as_str().unwrap_or_default());
        println!("Owner user    {}", created["userId"].as_str().unwrap_or_default());
        println!("API key       {}", created["apiKey"].as_str().unwrap_or_default());
        println!("\nThe key is shown only this once. Use it as: Authorization: Bearer <key>");
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the schema as it is: it never migrates or re-applies policies first, which would
/// hide what it is asked to find.
async fn audit(db: &Database, json: bool) -> anyhow::Result<ExitCode> {
    let client = db.admin_client().await?;
    let migrated: bool = client.query_one("select to_regnamespace('app') is not null", &[]).await?.get(0);
    if !migrated {
        anyhow::bail!("the database has no favcrm schema yet: run `favcrm migrate` first");
    }
    let report = policies::audit(&client).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", policies::render(&report));
    }
    Ok(if report.breaches.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn client(opts: &ClientOpts) -> anyhow::Result<Client> {
    Client::new(Target::resolve(opts.url.clone(), opts.api_key.clone()))
}

fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

async fn tool(cmd: ToolCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ToolCommand::List(opts) => {
            let tools = client(&opts)?.tools().await?;
            if opts.json {
                print_json(&json!({ "tools": tools }));
            } else {
                for t in &tools {
                    let a = &t["annotations"];
                    let flags = [
                        (a["readOnlyHint"] == true).then_some("read-only"),
                        (a["destructiveHint"] == true).then_some("destructive"),
                        (a["idempotentHint"] == true).then_some("idempotent"),
                    ];
                    let flags: Vec<&str> = flags.into_iter().flatten().collect();
                    println!(
                        "{:<24} {:<32} {}",
                        t["name"].as_str().unwrap_or(""),
                        t["title"].as_str().unwrap_or(""),
                        flags.join(", ")
                    );
                }
                eprintln!("{} tools", tools.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        ToolCommand::Describe { name, client: opts } => {
            let tools = client(&opts)?.tools().await?;
            let Some(tool) = tools.iter().find(|t| t["name"] == name.as_str()) else {
                anyhow::bail!("no tool named {name} is offered to this key (see `favcrm tool list`)");
            };
            if opts.json {
                print_json(tool);
            } else {
                println!("{}: {}\n", tool["name"].as_str().unwrap_or(""), tool["title"].as_str().unwrap_or(""));
                println!("{}\n", tool["description"].as_str().unwrap_or(""));
                println!("annotations: {}", tool["annotations"]);
                println!("\ninput schema:");
                print_json(&tool["inputSchema"]);
                println!("\noutput schema:");
                print_json(&tool["outputSchema"]);
            }
            Ok(ExitCode::SUCCESS)
        }
        ToolCommand::Call { name, arguments, confirm, idempotency_key, client: opts } => {
            let text = match arguments.as_deref() {
                Some("-") => std::io::read_to_string(std::io::stdin())?,
                Some(text) => text.to_string(),
                None => "{}".to_string(),
            };
            let mut args: serde_json::Value = serde_json::from_str(&text)
                .context("the arguments are not JSON (pass an object such as '{\"name\":\"Amy\"}')")?;
            let Some(map) = args.as_object_mut() else { anyhow::bail!("the arguments must be a JSON object") };
            if let Some(token) = confirm {
                map.insert("confirmationToken".into(), token.into());
            }
            if let Some(key) = idempotency_key {
                map.insert("idempotencyKey".into(), key.into());
            }
            let result = client(&opts)?.call(&name, args).await?;
            let is_error = result["isError"] == true;
            let content = result_content(&result);
            if opts.json {
                print_json(&result);
            } else if content["code"] == "confirmation_required" {
                eprintln!("{}", content["detail"].as_str().unwrap_or(""));
                println!("preview:");
                print_json(&content["preview"]);
                println!(
                    "\nTo go ahead, run the same command with --confirm {} (valid until {}).",
                    content["confirmationToken"].as_str().unwrap_or(""),
                    content["expiresAt"].as_str().unwrap_or("")
                );
            } else {
                print_json(&content);
            }
            Ok(if is_error { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}

async fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let target = Target::resolve(args.url.clone(), Some(args.key.clone()));
    let client = Client::new(target.clone())?;
    let tools = client.tools().await?;
    let org = client.call("get_organisation", json!({})).await.ok().and_then(|r| r.get("structuredContent").cloned());
    let mut config = Config::load();
    config.url = Some(target.url.clone());
    config.api_key = Some(args.key.clone());
    let path = config.save()?;
    let shown = if args.show_key { args.key.clone() } else { mask(&args.key) };
    if args.json {
        print_json(
            &json!({ "url": target.url, "apiKey": shown, "tools": tools.len(), "organisation": org, "config": path }),
        );
    } else {
        let name = org.as_ref().and_then(|o| o["name"].as_str()).unwrap_or("(organisation not readable with this key)");
        println!("Logged in to {} as {shown} — {name}, {} tools.", target.url, tools.len());
        println!("Saved to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

async fn whoami(opts: ClientOpts) -> anyhow::Result<ExitCode> {
    let client = client(&opts)?;
    let Some(key) = client.target().api_key.clone() else {
        anyhow::bail!("no API key: run `favcrm login <key>` or set FAVCRM_API_KEY");
    };
    let tools = client.tools().await?;
    let org = client.call("get_organisation", json!({})).await?;
    let org = org.get("structuredContent").cloned().unwrap_or_default();
    let info = json!({
        "url": client.target().url,
        "apiKey": mask(&key),
        "organisation": { "id": org["id"], "name": org["name"], "timezone": org["timezone"] },
        "tools": tools.iter().filter_map(|t| t["name"].as_str()).collect::<Vec<_>>(),
    });
    if opts.json {
        print_json(&info);
    } else {
        println!("server        {}", info["url"].as_str().unwrap_or(""));
        println!("key           {}", info["apiKey"].as_str().unwrap_or(""));
        println!("organisation  {} ({})", org["name"].as_str().unwrap_or("?"), org["id"].as_str().unwrap_or("?"));
        println!("time zone     {}", org["timezone"].as_str().unwrap_or("?"));
        println!("tools         {}", tools.len());
    }
    Ok(ExitCode::SUCCESS)
}

async fn doctor(opts: ClientOpts) -> anyhow::Result<ExitCode> {
    let client = client(&opts)?;
    let reachable = client.healthy().await;
    let has_key = client.target().api_key.is_some();
    let tools =
        if reachable && has_key { client.tools().await.map_err(|e| e.to_string()) } else { Err("skipped".into()) };
    let checks = json!([
        { "check": "server reachable", "ok": reachable, "detail": format!("{}/healthz", client.target().base()) },
        { "check": "API key configured", "ok": has_key, "detail": client.target().api_key.as_deref().map(mask) },
        { "check": "authenticated", "ok": tools.is_ok(), "detail": tools.as_ref().err() },
        { "check": "tools offered", "ok": tools.as_ref().is_ok_and(|t| !t.is_empty()), "detail": tools.as_ref().map(|t| t.len()).ok() },
    ]);
    let ok = checks.as_array().is_some_and(|c| c.iter().all(|c| c["ok"] == true));
    if opts.json {
        print_json(&json!({ "ok": ok, "url": client.target().url, "checks": checks }));
    } else {
        for c in checks.as_array().into_iter().flatten() {
            let mark = if c["ok"] == true { "ok  " } else { "FAIL" };
            let detail = match &c["detail"] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("{mark}  {:<20} {detail}", c["check"].as_str().unwrap_or(""));
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// What a tool result says: its `structuredContent`, or for an error (which carries none) the
/// problem object in its text.
fn result_content(result: &serde_json::Value) -> serde_json::Value {
    match result.get("structuredContent") {
        Some(content) if !content.is_null() => content.clone(),
        _ => {
            let text = result["content"][0]["text"].as_str().unwrap_or("");
            serde_json::from_str(text).unwrap_or_else(|_| text.into())
        }
    }
}

/// Calls a tool and returns its structured result; a tool error becomes a CLI error with the
/// server's code and detail.
async fn call_tool(client: &Client, name: &str, arguments: serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let result = client.call(name, arguments).await?;
    let content = result_content(&result);
    if result["isError"] == true {
        let retry = content["retryAfterSeconds"].as_u64().map(|s| format!(" (retry after {s} s)")).unwrap_or_default();
        // A validation failure names the field and its own code; show those.
        let field = &content["errors"][0];
        let code = field["code"].as_str().or(content["code"].as_str()).unwrap_or("error");
        let at = field["field"].as_str().map(|f| format!(" ({f})")).unwrap_or_default();
        anyhow::bail!("{code}{at}: {}{retry}", content["detail"].as_str().unwrap_or("the server refused the request"));
    }
    Ok(content)
}

/// Prints a result that holds a new key, in full: it is shown this once and never again (every
/// other command masks keys). Saves it unless asked not to.
fn new_key_result(client: &Client, mut result: serde_json::Value, key: &NewKeyOpts, json: bool) -> anyhow::Result<()> {
    let secret = result["apiKey"].as_str().unwrap_or_default().to_string();
    let saved = if key.no_save || secret.is_empty() {
        None
    } else {
        let mut config = Config::load();
        config.url = Some(client.target().url.clone());
        config.api_key = Some(secret.clone());
        Some(config.save()?)
    };
    if json {
        result["savedTo"] = json!(saved);
        print_json(&result);
        return Ok(());
    }
    println!(
        "organisation  {} ({})",
        result["organisationName"].as_str().unwrap_or("?"),
        result["organisationId"].as_str().unwrap_or("?")
    );
    println!("API key       {}", result["apiKey"].as_str().unwrap_or(""));
    match saved {
        Some(path) => {
            println!("\nThe key is shown only this once. It was saved to {}; `favcrm whoami` uses it.", path.display())
        }
        None => println!("\nThe key is shown only this once and was not saved: store it now."),
    }
    for step in result["nextSteps"].as_array().into_iter().flatten() {
        println!("- {}", step.as_str().unwrap_or(""));
    }
    Ok(())
}

async fn signup(cmd: SignupCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SignupCommand::Request { email, organisation_name, industry, country, timezone, client: opts } => {
            let mut args = json!({ "email": email, "organisationName": organisation_name });
            for (name, value) in [("industry", industry), ("country", country), ("timezone", timezone)] {
                if let Some(value) = value {
                    args[name] = value.into();
                }
            }
            // Registration acts for nobody yet: no key is sent.
            let client = Client::new(Target { api_key: None, ..Target::resolve(opts.url.clone(), None) })?;
            let result = call_tool(&client, "register_organisation_request", args).await?;
            if opts.json {
                print_json(&result);
            } else {
                println!("A code was emailed to {}.", result["maskedEmail"].as_str().unwrap_or("?"));
                println!("request id    {}", result["requestId"].as_str().unwrap_or("?"));
                println!("expires at    {}", result["expiresAt"].as_str().unwrap_or("?"));
                println!(
                    "\nThen: favcrm signup verify --request-id {} --code <the 6 digits>",
                    result["requestId"].as_str().unwrap_or("?")
                );
            }
        }
        SignupCommand::Verify { request_id, code, key, client: opts } => {
            let client = Client::new(Target { api_key: None, ..Target::resolve(opts.url.clone(), None) })?;
            let result =
                call_tool(&client, "register_organisation_verify", json!({ "requestId": request_id, "code": code }))
                    .await?;
            new_key_result(&client, result, &key, opts.json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn team(cmd: TeamCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TeamCommand::List { include_removed, client: opts } => {
            let client = client(&opts)?;
            let result =
                call_tool(&client, "list_team_members", json!({ "includeRemoved": include_removed, "limit": 100 }))
                    .await?;
            if opts.json {
                print_json(&result);
            } else {
                for m in result["items"].as_array().into_iter().flatten() {
                    println!(
                        "{:<8} {:<28} {:<36} {}",
                        m["role"].as_str().unwrap_or(""),
                        m["name"].as_str().unwrap_or(""),
                        m["email"].as_str().unwrap_or(""),
                        if m["status"] == "removed" { "removed" } else { "" }
                    );
                }
            }
        }
        TeamCommand::Invite(InviteCommand::Create { email, name, role, expires_in_hours, client: opts }) => {
            let client = client(&opts)?;
            let mut args = json!({ "email": email, "name": name, "role": role });
            if let Some(hours) = expires_in_hours {
                args["expiresInHours"] = hours.into();
            }
            let result = call_tool(&client, "create_team_member_invite", args).await?;
            if opts.json {
                print_json(&result);
            } else {
                println!(
                    "Invitation emailed to {} as {}.",
                    result["email"].as_str().unwrap_or("?"),
                    result["role"].as_str().unwrap_or("?")
                );
                println!("token         {}", result["token"].as_str().unwrap_or("?"));
                println!("expires at    {}", result["expiresAt"].as_str().unwrap_or("?"));
                println!("\nThey accept with: favcrm team invite accept-request --token <token>");
            }
        }
        TeamCommand::Invite(InviteCommand::AcceptRequest { token, client: opts }) => {
            let client = Client::new(Target { api_key: None, ..Target::resolve(opts.url.clone(), None) })?;
            let result = call_tool(&client, "accept_team_invite_request", json!({ "token": token })).await?;
            if opts.json {
                print_json(&result);
            } else {
                println!(
                    "A code to join {} was emailed to {}.",
                    result["organisationName"].as_str().unwrap_or("?"),
                    result["maskedEmail"].as_str().unwrap_or("?")
                );
                println!(
                    "\nThen: favcrm team invite accept-verify --token <token> --code <the 6 digits> --name \"Your Name\""
                );
            }
        }
        TeamCommand::Invite(InviteCommand::AcceptVerify { token, code, name, key, client: opts }) => {
            let client = Client::new(Target { api_key: None, ..Target::resolve(opts.url.clone(), None) })?;
            let mut args = json!({ "token": token, "code": code });
            if let Some(name) = name {
                args["name"] = name.into();
            }
            let result = call_tool(&client, "accept_team_invite_verify", args).await?;
            new_key_result(&client, result, &key, opts.json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
