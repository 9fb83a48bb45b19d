//! The command line. Only this module knows clap; it turns flags and environment into the
//! settings the rest of the crate takes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::db::{Database, DbSettings};
use crate::policies;
use crate::startup::{Application, ServerSettings};
use crate::telemetry::{self, LogFormat};

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

    /// Where favcrm keeps its data: the embedded PostgreSQL cluster (pg/), its log, mail.
    #[arg(long, env = "FAVCRM_DATA_DIR", default_value = "./.favcrm", global = true)]
    pub data_dir: PathBuf,

    /// Address the HTTP server listens on.
    #[arg(long, env = "FAVCRM_BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: String,

    /// Database connections in the server's pool.
    #[arg(long, env = "FAVCRM_DB_POOL_SIZE", default_value_t = 16, global = true)]
    pub db_pool_size: usize,

    /// Host names (comma-separated) accepted in the Host header of MCP requests; loopback
    /// only when unset. Set it when the server is reached under its own name.
    #[arg(long, env = "FAVCRM_MCP_ALLOWED_HOSTS", value_delimiter = ',', global = true)]
    pub mcp_allowed_hosts: Option<Vec<String>>,

    /// Browser origins (comma-separated, with scheme) accepted on MCP requests.
    #[arg(long, env = "FAVCRM_MCP_ALLOWED_ORIGINS", value_delimiter = ',', global = true)]
    pub mcp_allowed_origins: Option<Vec<String>>,

    /// Log filter: a level (error, warn, info, debug, trace) or directives such as favcrm=debug.
    #[arg(long, env = "FAVCRM_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format.
    #[arg(long, env = "FAVCRM_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database and serve the REST API (the default).
    Serve,
    /// Create favcrm's roles if needed, run migrations and re-apply the RLS policies.
    Migrate,
    /// Administrative tasks that talk to the database directly.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Row-level security policies.
    #[command(subcommand)]
    Policies(PoliciesCommand),
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
    /// IANA time zone, e.g. Asia/Hong_Kong.
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
    /// beauty, fitness, tutoring, retail, hospitality, services or other.
    #[arg(long, default_value = "other")]
    pub industry: String,
    /// ISO 3166-1 alpha-2 country code.
    #[arg(long)]
    pub country: Option<String>,
    /// ISO 4217 default currency.
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// Print {"organisationId","userId","apiKey"} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PoliciesCommand {
    /// Print RLS status and policies of every table in app and audit, and any breach of the
    /// table rules; exits 1 on a breach.
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

fn db_settings(g: &GlobalOpts) -> DbSettings {
    DbSettings {
        database_url: g.database_url.clone(),
        data_dir: g.data_dir.clone(),
        authenticator_password: g.authenticator_password.clone(),
        pool_size: g.db_pool_size,
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = db_settings(&cli.global);
    let db = Arc::new(Database::open(&settings).await?);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&db, &cli.global).await,
        Command::Migrate => db.migrate(settings.authenticator_password.as_deref()).await.map(|()| {
            println!("database migrated to version {}", crate::db::latest_migration());
            ExitCode::SUCCESS
        }),
        Command::Admin(AdminCommand::CreateOrg(args)) => create_org(&db, &settings, args).await,
        Command::Policies(PoliciesCommand::Audit { json }) => audit(&db, json).await,
    };
    db.shutdown();
    result
}

async fn serve(db: &Arc<Database>, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    db.migrate(g.authenticator_password.as_deref()).await?;
    let settings = ServerSettings {
        mcp_allowed_hosts: g.mcp_allowed_hosts.clone(),
        mcp_allowed_origins: g.mcp_allowed_origins.clone(),
    };
    let app = Application::build(db.clone(), &g.bind, settings)?;
    tracing::info!(address = %g.bind, "favcrm listening");
    app.run_until_stopped().await.context("serving")?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn create_org(db: &Database, settings: &DbSettings, args: CreateOrgArgs) -> anyhow::Result<ExitCode> {
    db.migrate(settings.authenticator_password.as_deref()).await?;
    let client = db.admin_client().await?;
    client.batch_execute("set role favcrm_owner").await?;
    let input = json!({
        "name": args.name,
        "ownerEmail": args.owner_email,
        "ownerName": args.owner_name,
        "timezone": args.timezone,
        "industry": args.industry,
        "country": args.country.map(|c| c.to_uppercase()),
        "defaultCurrency": args.currency.to_uppercase(),
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
