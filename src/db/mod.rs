//! The database: connection set-up (embedded cluster or `DATABASE_URL`), role bootstrap,
//! migrations, the operations' SQL ([`operations`]) and the RLS policies ([`policies`]) applied
//! after them, and the per-request transaction ([`tx`]). Nothing here knows HTTP.

pub mod embedded;
pub mod operations;
pub mod policies;
pub mod tx;

use std::path::PathBuf;

use anyhow::{Context, bail};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{Client, NoTls};

pub use embedded::{Durability, EmbeddedCluster};
pub use policies::Reapply;

mod migrations {
    refinery::embed_migrations!("sql");
}

/// The role the server's pool logs in as. See DESIGN.md "Roles".
pub const AUTHENTICATOR: &str = "favcrm_authenticator";
const MIGRATION_LOCK: i64 = 0x6661_7663_726d; // "favcrm"

/// Where the database is and how to reach it.
#[derive(Debug, Clone)]
pub struct DbSettings {
    /// An existing server (administrative connection). None: the embedded cluster.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    /// Password for favcrm_authenticator on an existing server (set on the role when given).
    pub authenticator_password: Option<String>,
    pub pool_size: usize,
    /// What the command may do with the embedded cluster (when there is no URL).
    pub cluster: ClusterUse,
}

/// How a command uses the embedded cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterUse {
    /// `favcrm serve`: creates it if needed and owns it (see [`EmbeddedCluster::serve`]).
    Serve,
    /// A command beside a server: it must exist (see [`EmbeddedCluster::existing`]).
    Existing,
}

/// How favcrm reaches PostgreSQL: an administrative config (migrations, `favcrm admin`) and
/// the runtime config (favcrm_authenticator) for the pool.
pub struct Database {
    pub pool: Pool,
    runtime: tokio_postgres::Config,
    admin: tokio_postgres::Config,
    embedded: Option<EmbeddedCluster>,
}

impl Database {
    /// Connects (starting the embedded cluster if no URL is set) without migrating.
    pub async fn open(settings: &DbSettings) -> anyhow::Result<Self> {
        let (admin, embedded, runtime) = match &settings.database_url {
            Some(url) => {
                let admin: tokio_postgres::Config =
                    url.parse().context("DATABASE_URL is not a valid PostgreSQL URL")?;
                let mut runtime = admin.clone();
                runtime.user(AUTHENTICATOR);
                // Never reuse the administrative password for the runtime role.
                runtime.password(settings.authenticator_password.as_deref().unwrap_or("").as_bytes());
                (admin, None, runtime)
            }
            None => {
                let dir = settings.data_dir.clone();
                let cluster = match settings.cluster {
                    ClusterUse::Serve => tokio::task::spawn_blocking(move || EmbeddedCluster::serve(&dir)).await??,
                    ClusterUse::Existing => {
                        tokio::task::spawn_blocking(move || EmbeddedCluster::existing(&dir)).await??
                    }
                };
                let admin = cluster.config(embedded::SUPERUSER, "postgres");
                let runtime = cluster.config(AUTHENTICATOR, "postgres");
                (admin, Some(cluster), runtime)
            }
        };
        Ok(Self { pool: build_pool(runtime.clone(), settings.pool_size)?, runtime, admin, embedded })
    }

    /// Builds a database handle from explicit configs (used by the test harness).
    pub fn from_configs(
        admin: tokio_postgres::Config,
        runtime: tokio_postgres::Config,
        pool_size: usize,
    ) -> anyhow::Result<Self> {
        Ok(Self { pool: build_pool(runtime.clone(), pool_size)?, runtime, admin, embedded: None })
    }

    /// A further pool of at most `size` runtime connections. An HTTP worker thread keeps its own:
    /// a connection is driven by a task on the thread that opened it, so a request served on
    /// one worker with a connection another worker opened crosses threads twice (the query
    /// out, the rows back), and those wake-ups cost more than the request's own work.
    pub fn worker_pool(&self, size: usize) -> anyhow::Result<Pool> {
        build_pool(self.runtime.clone(), size)
    }

    /// A fresh administrative connection. PostgreSQL's NOTICEs ("role … is already a member",
    /// "… already exists, skipping") are not sent: re-running idempotent setup is expected.
    pub async fn admin_client(&self) -> anyhow::Result<Client> {
        let mut config = self.admin.clone();
        config.options("-c client_min_messages=warning");
        connect(&config).await.context("connecting with the administrative role")
    }

    /// Creates the roles if needed, runs the migrations under an advisory lock, then applies
    /// the operations files and the policy files in one transaction (the policies as `reapply`
    /// says; always after a migration ran).
    pub async fn migrate(&self, authenticator_password: Option<&str>, reapply: Reapply) -> anyhow::Result<()> {
        let mut client = self.admin_client().await?;
        bootstrap_roles(&client, authenticator_password).await?;
        client.execute("select pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
        let result = async {
            // V2 grants EXECUTE on two pgcrypto functions that PUBLIC may already execute; as
            // favcrm_owner (no grant option) each fresh install warns "no privileges were
            // granted". An applied migration cannot change, so the migrations run quietly.
            client.batch_execute("set role favcrm_owner; set client_min_messages = error").await?;
            accept_rewritten_migrations(&client).await?;
            let report = migrations::migrations::runner()
                .set_abort_divergent(true)
                .run_async(&mut client)
                .await
                .context("running migrations")?;
            for m in report.applied_migrations() {
                tracing::info!(migration = %m, "applied");
            }
            client.batch_execute("set client_min_messages = warning").await?;
            let reapply = if report.applied_migrations().is_empty() { reapply } else { Reapply::Always };
            apply_declarative(&mut client, reapply).await?;
            client.batch_execute("reset role").await?;
            anyhow::Ok(())
        }
        .await;
        client.execute("select pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await.ok();
        result
    }

    /// Forgets expired idempotency records and confirmation tokens now and then every hour,
    /// for as long as the server runs.
    pub fn spawn_housekeeping(&self) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every_hour.tick().await;
                let result = async {
                    let client = pool.get().await?;
                    let row = client.query_one("select auth.purge_expired()", &[]).await?;
                    anyhow::Ok(row.get::<_, serde_json::Value>(0))
                }
                .await;
                match result {
                    Ok(purged) => tracing::info!(%purged, "housekeeping"),
                    Err(e) => tracing::warn!(error = %e, "housekeeping"),
                }
            }
        });
    }

    /// Stops the embedded cluster if this process owns it.
    pub fn shutdown(&self) {
        if let Some(cluster) = &self.embedded
            && let Err(e) = cluster.stop()
        {
            tracing::error!(error = %e, "stopping the embedded PostgreSQL");
        }
    }
}

/// The operations files and the policies, in one transaction. Servers already serving this
/// database keep running their requests meanwhile; dropping a policy waits for the table, so
/// a request and this can deadlock (PostgreSQL cancels one) or wait too long: then the
/// transaction is tried again, a few times, after a pause.
async fn apply_declarative(client: &mut Client, reapply: Reapply) -> anyhow::Result<()> {
    const ATTEMPTS: u32 = 6;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = async {
            let tx = client.transaction().await?;
            // Requests queue behind a waiting lock: never make them wait long.
            tx.batch_execute("set local lock_timeout = '2s'").await?;
            operations::apply(&tx).await?;
            if policies::apply(&tx, reapply).await? {
                tracing::info!("applied the policies");
            }
            tx.commit().await?;
            anyhow::Ok(())
        }
        .await;
        match result {
            Err(e) if attempt < ATTEMPTS && lock_conflict(&e) => {
                tracing::info!(attempt, error = %e, "applying operations and policies met requests; trying again");
                let pause = 200 * u64::from(attempt) + u64::from(rand::random::<u8>());
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            other => return other,
        }
    }
}

/// A deadlock or a lock that could not be had in time.
fn lock_conflict(error: &anyhow::Error) -> bool {
    error.chain().filter_map(|e| e.downcast_ref::<tokio_postgres::Error>()).any(|e| {
        e.code().is_some_and(|c| {
            *c == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                || *c == tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE
        })
    })
}

/// V1 to V7 as they were before their functions moved to `sql/operations/` (V8 hands those
/// over): refinery's checksum of each. A database that ran them has these in its history.
const REWRITTEN_MIGRATIONS: &[(i32, &str)] = &[
    (1, "10035303110791845114"),
    (2, "11678377362843018099"),
    (3, "7901312055247657838"),
    (4, "13208452324591502148"),
    (5, "17460418090040492923"),
    (6, "542832360046010653"),
    (7, "11983229520657462712"),
];

/// Records this build's checksum for each migration a database ran in the form it had before
/// it was rewritten (and for no other: any other difference still stops the migration).
async fn accept_rewritten_migrations(client: &Client) -> anyhow::Result<()> {
    let has_history: bool =
        client.query_one("select to_regclass('public.refinery_schema_history') is not null", &[]).await?.get(0);
    if !has_history {
        return Ok(());
    }
    for migration in migrations::migrations::runner().get_migrations() {
        let Some((_, old)) = REWRITTEN_MIGRATIONS.iter().find(|(v, _)| *v == migration.version()) else { continue };
        let new = migration.checksum().to_string();
        let changed = client
            .execute(
                "update public.refinery_schema_history set checksum = $1 where version = $2 and checksum = $3",
                &[&new, &migration.version(), old],
            )
            .await?;
        if changed > 0 {
            tracing::info!(migration = %migration, "accepted the rewritten form of an applied migration");
        }
    }
    Ok(())
}

/// This build's migrations, name (`V3__create_customers`) and SQL, in version order.
pub fn embedded_migrations() -> Vec<(String, String)> {
    let mut all = migrations::migrations::runner().get_migrations().to_vec();
    all.sort_by_key(|m| m.version());
    all.iter().map(|m| (m.to_string(), m.sql().unwrap_or_default().to_string())).collect()
}

/// The highest migration version this build knows.
pub fn latest_migration() -> i32 {
    migrations::migrations::runner().get_migrations().iter().map(|m| m.version()).max().unwrap_or(0)
}

fn build_pool(mut runtime: tokio_postgres::Config, size: usize) -> anyhow::Result<Pool> {
    runtime.application_name("favcrm").options("-c TimeZone=UTC");
    let manager = Manager::from_config(runtime, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    // A request that cannot get a connection within 5 s answers 503 instead of hanging.
    Ok(Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .build()?)
}

/// Connects once, driving the connection on a task.
pub async fn connect(config: &tokio_postgres::Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "connection closed");
        }
    });
    Ok(client)
}

/// Creates favcrm's roles when the administrative role may, and says which are missing when
/// it may not.
async fn bootstrap_roles(client: &Client, authenticator_password: Option<&str>) -> anyhow::Result<()> {
    let missing: Vec<String> = client
        .query(
            "select r from unnest(array['favcrm_owner','favcrm_authenticator','favcrm_anon','favcrm_member']) r
              where not exists (select from pg_roles where rolname = r)",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let may_create: bool = client
        .query_one("select rolsuper or rolcreaterole from pg_roles where rolname = current_user", &[])
        .await?
        .get(0);
    if !missing.is_empty() && !may_create {
        bail!(
            "the database user may not create roles, and these are missing: {}. Create them as a superuser \
             (see src/db/bootstrap.sql), or use a user with CREATEROLE.",
            missing.join(", ")
        );
    }
    if may_create {
        client.batch_execute(include_str!("bootstrap.sql")).await.context("creating favcrm roles")?;
        let db: String = client.query_one("select current_database()", &[]).await?.get(0);
        let grants = format!(
            "grant favcrm_owner to current_user;
             grant create on database {db} to favcrm_owner;
             grant usage, create on schema public to favcrm_owner;",
            db = quote_ident(&db)
        );
        client.batch_execute(&grants).await.context("granting favcrm_owner its rights")?;
        if let Some(password) = authenticator_password {
            let sql: String = client
                .query_one("select format('alter role favcrm_authenticator password %L', $1::text)", &[&password])
                .await?
                .get(0);
            client.batch_execute(&sql).await?;
        }
    }
    Ok(())
}

/// Runs one statement in its own transaction as the member role, for the server's own workers
/// (the scheduler, the outbox), whose statements set the organisation's claims themselves.
pub async fn in_org(
    pool: &deadpool_postgres::Pool,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> anyhow::Result<tokio_postgres::Row> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.batch_execute("set local role favcrm_member; set local statement_timeout = '60s'").await?;
    let row = tx.query_one(sql, params).await?;
    tx.commit().await?;
    Ok(row)
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
