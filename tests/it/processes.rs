//! Several servers, one database: two `favcrm serve` processes on one DATABASE_URL, each with
//! its own pool and its own in-memory limits. The races the database decides hold across them.

use std::process::{Child, Command};

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::bookings::{at, every_day, in_days};
use crate::common::{TestApp, cluster};

const BIN: &str = env!("CARGO_BIN_EXE_favcrm");

/// A `favcrm serve` process on the test database, writing mail where `mail_dir` says.
pub struct Server {
    pub child: Child,
    pub app: TestApp,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

pub async fn serve(dbname: &str, mail_dir: &std::path::Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let socket = cluster().embedded.socket_dir().display().to_string();
    let stripe = std::sync::Arc::new(crate::fake_stripe::start().await);
    let child = Command::new(BIN)
        .arg("serve")
        .env("DATABASE_URL", format!("host={socket} port=5432 user=postgres dbname={dbname}"))
        .env("FAVCRM_BIND", format!("127.0.0.1:{port}"))
        .env("FAVCRM_DATA_DIR", mail_dir)
        .env("FAVCRM_LOG", "warn")
        .env("FAVCRM_KEY_REQUESTS_PER_MINUTE", "0")
        .env("FAVCRM_SENSITIVE_REQUESTS_PER_HOUR", "0")
        .env("FAVCRM_CODE_EMAILS_PER_IP_PER_HOUR", "0")
        .env("FAVCRM_CODE_EMAILS_PER_IP_PER_DAY", "0")
        .env("FAVCRM_SIGNUPS_PER_EMAIL_PER_HOUR", "0")
        .env("FAVCRM_CODE_CHECKS_PER_IP_PER_HOUR", "0")
        .env("FAVCRM_STRIPE_API_BASE", stripe.uri())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let app = TestApp { base, dbname: dbname.to_string(), http, mail_dir: mail_dir.to_path_buf(), stripe };
    Server { child, app }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_races_the_database_decides_hold_across_two_server_processes() {
    let setup = TestApp::spawn().await;
    let one = serve(&setup.dbname, &setup.mail_dir).await;
    let two = serve(&setup.dbname, &setup.mail_dir).await;
    let servers = [&one.app, &two.app];

    // One slot, twenty tries, half through each process: one booking.
    let s = setup.studio("Europe/London", every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let start = at(s.tz, in_days(3), 10, 0);
    let tries = (0..20).map(|i| {
        let customer = json!({"customer": {"name": format!("C{i}"), "email": format!("c{i}@example.com")}});
        servers[i % 2].book(&s.org.key, &s.service, start, customer)
    });
    let results = join_all(tries).await;
    let won = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let lost = results.iter().filter(|r| r.code() == "slot_taken").count();
    assert_eq!((won, lost), (1, 19), "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());

    // A class of three: three seats of ten tries.
    let class = setup.studio("Europe/London", every_day(&[("06:00", "22:00")]), json!({"capacity": 3}), 1).await;
    let start = at(class.tz, in_days(3), 18, 0);
    let scheduled = setup
        .post(
            &class.org.key,
            "/v1/class-sessions",
            json!({"serviceId": class.service, "staffId": class.staff[0], "start": start.to_rfc3339()}),
        )
        .await;
    assert_eq!(scheduled.status, StatusCode::CREATED, "{}", scheduled.body);
    let tries = (0..10).map(|i| {
        let customer = json!({"customer": {"name": format!("C{i}"), "email": format!("c{i}@example.com")}});
        servers[i % 2].book(&class.org.key, &class.service, start, customer)
    });
    let results = join_all(tries).await;
    let seated = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let full = results.iter().filter(|r| r.code() == "class_full").count();
    assert_eq!((seated, full), (3, 7));

    // One idempotency key retried through both processes at once: one customer.
    let org = setup.create_org("Glow").await;
    let retries = (0..8).map(|i| {
        servers[i % 2].call_with(
            Some(&org.key),
            Method::POST,
            "/v1/customers",
            Some(json!({"name": "Amy"})),
            &[("Idempotency-Key", "across")],
        )
    });
    let results = join_all(retries).await;
    let ids: std::collections::HashSet<String> =
        results.iter().map(|r| r.body["id"].as_str().unwrap_or_else(|| panic!("{}", r.body)).to_string()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(setup.count("app.customers", Some(org.id)).await, 1);

    // A registration code allows five guesses in all, whichever process takes them.
    let asked = one
        .app
        .call(
            None,
            Method::POST,
            "/v1/signup/request",
            Some(json!({"email": "cy@example.com", "organisationName": "Cy Cafe"})),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let request_id = asked.body["requestId"].as_str().unwrap().to_string();
    let code: u32 = setup.latest_code("cy@example.com").await.parse().unwrap();
    let guesses = (0..12).map(|i| {
        let guess = format!("{:06}", (code + 1 + i as u32) % 1_000_000);
        servers[i % 2].call(
            None,
            Method::POST,
            "/v1/signup/verify",
            Some(json!({"requestId": request_id, "code": guess})),
        )
    });
    let results = join_all(guesses).await;
    let wrong = results.iter().filter(|r| r.status == StatusCode::UNPROCESSABLE_ENTITY).count();
    let closed = results.iter().filter(|r| r.code() == "too_many_attempts").count();
    assert_eq!((wrong, closed), (5, 7));
}
