//! Test harness: one private PostgreSQL cluster per test run (under the system temp dir, so
//! the unprivileged cluster user can reach it), one migrated template database, and a fresh
//! database plus a server on a free port for every test.

use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};

use favcrm::db::{self, Database, Durability, EmbeddedCluster, embedded::SUPERUSER};
use favcrm::web::Application;
use mailin_embedded::response::OK;
use mailin_embedded::{Handler, Response, Server};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use uuid::Uuid;

const TEMPLATE: &str = "favcrm_template";

pub struct Cluster {
    pub embedded: EmbeddedCluster,
}

/// The cluster for this test process, created on first use.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("favcrm-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let embedded = EmbeddedCluster::start(&dir, Durability::Ephemeral).expect("start the test cluster");
        embedded.stop_when_process_exits(std::process::id(), &dir).expect("watchdog");
        let cluster = Cluster { embedded };
        // Migrate the template on a runtime of its own (tests each have theirs).
        std::thread::scope(|s| {
            s.spawn(|| {
                tokio::runtime::Runtime::new().unwrap().block_on(async {
                    let admin = db::connect(&cluster.embedded.config(SUPERUSER, "postgres")).await.unwrap();
                    admin.batch_execute(&format!("create database {TEMPLATE}")).await.unwrap();
                    let database = Database::from_configs(
                        cluster.embedded.config(SUPERUSER, TEMPLATE),
                        cluster.embedded.config(db::AUTHENTICATOR, TEMPLATE),
                        1,
                    )
                    .unwrap();
                    database.migrate(None, favcrm::db::Reapply::Always).await.expect("migrate the template database");
                });
            })
            .join()
            .unwrap();
        });
        cluster
    })
}

/// A fresh database cloned from the migrated template.
pub async fn fresh_database() -> String {
    let cluster = cluster();
    let name = format!("t_{}", Uuid::new_v4().simple());
    let admin = db::connect(&cluster.embedded.config(SUPERUSER, "postgres")).await.unwrap();
    admin.batch_execute(&format!("create database {name} template {TEMPLATE}")).await.unwrap();
    name
}

pub fn admin_config(dbname: &str) -> tokio_postgres::Config {
    cluster().embedded.config(SUPERUSER, dbname)
}

pub fn runtime_config(dbname: &str) -> tokio_postgres::Config {
    cluster().embedded.config(db::AUTHENTICATOR, dbname)
}

/// A running server on its own database.
pub struct TestApp {
    pub base: String,
    pub dbname: String,
    pub http: reqwest::Client,
    /// Where the server writes mail when no SMTP server is set (`<dir>/mail/*.eml`).
    pub mail_dir: std::path::PathBuf,
    /// The fake Stripe this server calls (see `fake_stripe`).
    pub stripe: std::sync::Arc<wiremock::MockServer>,
}

/// An organisation with its owner's key.
#[derive(Clone, Debug)]
pub struct Org {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub key: String,
}

/// A decoded response.
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Res {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    pub fn field(&self) -> &str {
        self.body["errors"][0]["field"].as_str().unwrap_or("")
    }
    pub fn field_code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// A server with the abuse limits off (tests that check them set their own).
    pub async fn spawn() -> Self {
        Self::spawn_with(relaxed()).await
    }

    pub async fn spawn_with(settings: favcrm::web::ServerSettings) -> Self {
        Self::spawn_on(fresh_database().await, settings).await
    }

    /// A server on an existing database (a second process, or a restart).
    pub async fn spawn_on(dbname: String, mut settings: favcrm::web::ServerSettings) -> Self {
        let database = Arc::new(Database::from_configs(admin_config(&dbname), runtime_config(&dbname), 8).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mail_dir = std::env::temp_dir().join(format!("favcrm-test-mail-{}", Uuid::new_v4().simple()));
        settings.mail.data_dir = mail_dir.clone();
        let stripe = std::sync::Arc::new(crate::fake_stripe::start().await);
        settings.payments.stripe_api_base = stripe.uri();
        let app = Application::from_listener(database, listener, settings).unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        Self { base, dbname, http: reqwest::Client::new(), mail_dir, stripe }
    }

    /// Waits until the outbox has nothing left to send now (no account mail or delivery pending
    /// and due, or being sent), so that what was sent can be read. Due by the clock, not by
    /// `now()`: a retry the worker recorded in a transaction that began after this query's
    /// would otherwise look not yet due (seen once under a full run's load).
    pub async fn outbox_idle(&self) {
        let admin = self.admin().await;
        for _ in 0..1000 {
            let busy: i64 = admin
                .query_one(
                    "select (select count(*) from app.account_mail
                              where status = 'sending' or (status = 'pending' and next_attempt_at <= clock_timestamp()))
                          + (select count(*) from app.deliveries
                              where status = 'sending' or (status = 'pending' and next_attempt_at <= clock_timestamp()))",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if busy == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the outbox did not finish within 20 seconds");
    }

    /// The messages in the mailbox folder sent to `to`, oldest first, parsed as a mail
    /// client would: (subject, plain-text body), once the outbox has sent what it had.
    pub async fn mails_to(&self, to: &str) -> Vec<(String, String)> {
        self.outbox_idle().await;
        let mut paths: Vec<_> = std::fs::read_dir(self.mail_dir.join("mail"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .into_iter()
            .filter_map(|p| parse_mail(&std::fs::read(p).ok()?))
            .filter(|(recipient, _, _)| recipient.eq_ignore_ascii_case(to))
            .map(|(_, subject, text)| (subject, text))
            .collect()
    }

    /// The 6-digit code in the latest mail to `to`.
    pub async fn latest_code(&self, to: &str) -> String {
        let mails = self.mails_to(to).await;
        let (_, text) = mails.last().unwrap_or_else(|| panic!("no mail to {to}"));
        code_in(text).unwrap_or_else(|| panic!("no code in the mail to {to}: {text}"))
    }

    /// Registers an organisation through the public flow (mailbox folder) and returns it.
    pub async fn signup(&self, email: &str, name: &str, country: Option<&str>) -> Org {
        let mut body = json!({"email": email, "organisationName": name});
        if let Some(country) = country {
            body["country"] = country.into();
        }
        let req = self.call(None, Method::POST, "/v1/signup/request", Some(body)).await;
        assert_eq!(req.status, StatusCode::ACCEPTED, "{}", req.body);
        let code = self.latest_code(email).await;
        let done = self
            .call(
                None,
                Method::POST,
                "/v1/signup/verify",
                Some(json!({"requestId": req.body["requestId"], "code": code})),
            )
            .await;
        assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
        Org {
            id: done.body["organisationId"].as_str().unwrap().parse().unwrap(),
            owner_id: done.body["userId"].as_str().unwrap().parse().unwrap(),
            key: done.body["apiKey"].as_str().unwrap().to_string(),
        }
    }

    pub async fn admin(&self) -> Client {
        db::connect(&admin_config(&self.dbname)).await.unwrap()
    }

    /// Creates an organisation through the same entry point as `favcrm admin create-org`.
    pub async fn create_org(&self, name: &str) -> Org {
        let admin = self.admin().await;
        admin.batch_execute("set role favcrm_owner").await.unwrap();
        let email = format!("owner-{}@example.com", Uuid::new_v4().simple());
        let row = admin
            .query_one(
                "select auth.bootstrap_organisation($1)",
                &[&json!({ "name": name, "ownerEmail": email, "timezone": "Europe/London" })],
            )
            .await
            .unwrap();
        let v: Value = row.get(0);
        Org {
            id: v["organisationId"].as_str().unwrap().parse().unwrap(),
            owner_id: v["userId"].as_str().unwrap().parse().unwrap(),
            key: v["apiKey"].as_str().unwrap().to_string(),
        }
    }

    /// Lets the organisation's agent keys send and refund without a person's approval (the
    /// confirmation step stays): for tests about billing or messaging, not about approvals.
    pub async fn without_approvals(&self, org: &Org) {
        let res = self.approval_settings(org, json!({"operations": []})).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }

    /// Changes the approval settings as a person would, with an app key of the owner (agent
    /// keys may not change what holds them back).
    pub async fn approval_settings(&self, org: &Org, settings: Value) -> Res {
        let desk = crate::approvals::app_key(self, org).await;
        self.patch(&desk, "/v1/approval-settings", settings).await
    }

    /// Adds a team member with `role` to the organisation and returns a key for them with
    /// `scopes` (default: everything the role allows). Written as an administrator would.
    pub async fn add_member(&self, org: &Org, role: &str, scopes: Option<&[&str]>) -> (Uuid, String) {
        let user = self.insert_member(org, role).await;
        let key = self.insert_key(org, user, scopes, None).await;
        (user, key)
    }

    pub async fn insert_member(&self, org: &Org, role: &str) -> Uuid {
        let mut admin = self.admin().await;
        let tx = admin.transaction().await.unwrap();
        set_claims(&tx, org.id).await;
        let email = format!("{role}-{}@example.com", Uuid::new_v4().simple());
        let user: Uuid =
            tx.query_one("insert into app.users (email) values ($1) returning id", &[&email]).await.unwrap().get(0);
        tx.execute(
            "insert into app.memberships (org_id, user_id, role, name, email) values ($1, $2, $3, $4, $5)",
            &[&org.id, &user, &role, &format!("A {role}"), &email],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        user
    }

    pub async fn insert_key(
        &self,
        org: &Org,
        user: Uuid,
        scopes: Option<&[&str]>,
        expires_in_seconds: Option<i64>,
    ) -> String {
        let mut admin = self.admin().await;
        let tx = admin.transaction().await.unwrap();
        set_claims(&tx, org.id).await;
        let key = format!("fav_mcp_test{}", Uuid::new_v4().simple());
        let digest = Sha256::digest(key.as_bytes()).to_vec();
        let scopes: Option<Vec<String>> = scopes.map(|s| s.iter().map(|x| x.to_string()).collect());
        tx.execute(
            "insert into app.api_keys (org_id, user_id, name, key_prefix, key_digest, scopes, expires_at)
             select $1, $2, 'test key', left($3, 12), $4,
                    coalesce($5, auth.role_scopes((select role from app.memberships where org_id = $1 and user_id = $2))),
                    now() + make_interval(secs => $6::float8)",
            &[&org.id, &user, &key, &digest, &scopes, &expires_in_seconds.map(|s| s as f64)],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        key
    }

    pub async fn call(&self, key: Option<&str>, method: Method, path: &str, body: Option<Value>) -> Res {
        self.call_with(key, method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        key: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Res {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "a 500 for {path}: {body}");
        Res { status, headers, body }
    }

    pub async fn get(&self, key: &str, path: &str) -> Res {
        self.call(Some(key), Method::GET, path, None).await
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> Res {
        self.call(Some(key), Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, key: &str, path: &str, body: Value) -> Res {
        self.call(Some(key), Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, key: &str, path: &str) -> Res {
        self.call(Some(key), Method::DELETE, path, None).await
    }

    /// Calls, and when an agent key is asked for confirmation, confirms with the token given.
    pub async fn confirmed(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> Res {
        let first = self.call(Some(key), method.clone(), path, body.clone()).await;
        if first.status != StatusCode::PRECONDITION_REQUIRED {
            return first;
        }
        let token = first.body["confirmationToken"].as_str().expect("a confirmation token").to_string();
        self.call_with(Some(key), method, path, body, &[("Confirmation-Token", &token)]).await
    }

    pub async fn delete_confirmed(&self, key: &str, path: &str) -> Res {
        self.confirmed(key, Method::DELETE, path, None).await
    }

    /// Creates a customer and returns its id.
    pub async fn customer(&self, org: &Org, body: Value) -> Uuid {
        let res = self.post(&org.key, "/v1/customers", body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.body["id"].as_str().unwrap().parse().unwrap()
    }

    /// Counts rows of a table (as the superuser, past RLS), optionally for one organisation.
    pub async fn count(&self, table: &str, org: Option<Uuid>) -> i64 {
        let admin = self.admin().await;
        match org {
            Some(org) => admin.query_one(&format!("select count(*) from {table} where org_id = $1"), &[&org]).await,
            None => admin.query_one(&format!("select count(*) from {table}"), &[]).await,
        }
        .unwrap()
        .get(0)
    }

    /// A fingerprint of everything an organisation has, to prove a call changed nothing.
    /// A key's last use and the claims cached with it are left out: `auth.touch_api_key`
    /// writes them off the request path, at any moment after a call.
    /// The outbox worker acts after a call too: what a call wrote to it is performed first.
    pub async fn fingerprint(&self, org: Uuid) -> String {
        self.outbox_idle().await;
        let admin = self.admin().await;
        let mut parts = Vec::new();
        // Every table of the organisation's: the organisations row by id, every other table of
        // app, audit and search that carries org_id.
        let tables: Vec<(String, &str)> = std::iter::once(("app.organisations".to_string(), "id"))
            .chain(
                admin
                    .query(
                        "select c.table_schema || '.' || c.table_name from information_schema.columns c
                           join information_schema.tables t using (table_schema, table_name)
                          where c.table_schema in ('app', 'audit', 'search') and c.column_name = 'org_id'
                            and t.table_type = 'BASE TABLE'
                          order by 1",
                        &[],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get::<_, String>(0), "org_id")),
            )
            .collect();
        for (table, key) in tables {
            let row = admin
                .query_one(
                    &format!("select coalesce(md5(string_agg((to_jsonb(t) - $2::text[])::text, '|' order by t::text)), '') from {table} t where {key} = $1"),
                    &[&org, &KEY_USE_COLUMNS.as_slice()],
                )
                .await
                .unwrap();
            parts.push(format!("{table}:{}", row.get::<_, String>(0)));
        }
        parts.join(" ")
    }
}

/// The columns `auth.touch_api_key` writes when a key is used (a record of use and a cache).
const KEY_USE_COLUMNS: [&str; 4] = ["last_used_at", "claims", "claims_role", "claims_generation"];

async fn set_claims(tx: &tokio_postgres::Transaction<'_>, org: Uuid) {
    tx.execute("select auth.set_claims($1::text::jsonb)", &[&json!({ "org_id": org }).to_string()]).await.unwrap();
}

/// Server settings with every abuse limit off.
pub fn relaxed() -> favcrm::web::ServerSettings {
    favcrm::web::ServerSettings {
        abuse: favcrm::limits::AbuseSettings {
            code_emails_per_ip_per_hour: 0,
            code_emails_per_ip_per_day: 0,
            signups_per_email_per_hour: 0,
            code_checks_per_ip_per_hour: 0,
            web_requests_per_ip_per_minute: 0,
            web_bookings_per_ip_per_hour: 0,
            client_registrations_per_ip_per_hour: 0,
        },
        // Webhook receivers in tests listen on loopback. A failed delivery comes back after an
        // hour, not during the test (tests of retries set their own).
        outbox: favcrm::effects::outbox::OutboxSettings {
            allow_private_webhooks: true,
            poll: std::time::Duration::from_millis(100),
            retry_base: std::time::Duration::from_secs(3600),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// (recipient address, subject, plain-text body) of a raw message.
pub fn parse_mail(raw: &[u8]) -> Option<(String, String, String)> {
    let message = mail_parser::MessageParser::default().parse(raw)?;
    let to = message.to()?.first()?.address()?.to_string();
    let subject = message.subject().unwrap_or_default().to_string();
    let text = message.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    Some((to, subject, text))
}

/// The first run of exactly six digits in a text.
pub fn code_in(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).map(str::to_string)
}

/// An SMTP server on loopback that keeps every message it receives.
#[derive(Clone, Default)]
struct Inbox {
    messages: Arc<Mutex<Vec<Vec<u8>>>>,
    current: Vec<u8>,
}

impl Handler for Inbox {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, _to: &[String]) -> Response {
        self.current.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.messages.lock().unwrap().push(std::mem::take(&mut self.current));
        OK
    }
}

pub fn start_smtp() -> (u16, Arc<Mutex<Vec<Vec<u8>>>>) {
    let inbox = Inbox::default();
    let messages = inbox.messages.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut server = Server::new(inbox);
    server.with_name("localhost").with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (port, messages)
}
