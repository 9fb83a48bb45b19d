//! The `favcrm` binary: serve on the embedded default, admin and policy commands beside a
//! running server, DATABASE_URL, and a clean stop on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{TestApp, cluster};

const BIN: &str = env!("CARGO_BIN_EXE_favcrm");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn serve_runs_on_its_embedded_cluster_hands_out_keys_and_stops_the_cluster_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("favcrm-serve-{}", uuid::Uuid::new_v4().simple()));
    let port = free_port();
    let mut server = Command::new(BIN)
        .env("FAVCRM_DATA_DIR", &dir)
        .env("FAVCRM_BIND", format!("127.0.0.1:{port}"))
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::blocking::Client::new();
    let started = Instant::now();
    while http.get(format!("{base}/readyz")).send().ok().map(|r| r.status().as_u16()) != Some(200) {
        assert!(started.elapsed() < Duration::from_secs(60), "server not ready in 60 s");
        assert!(server.try_wait().unwrap().is_none(), "server exited early");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The admin command shares the data directory with the running server.
    let out = Command::new(BIN)
        .args(["admin", "create-org", "--name", "Glow", "--owner-email", "amy@example.com", "--json"])
        .env("FAVCRM_DATA_DIR", &dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = created["apiKey"].as_str().unwrap();
    assert!(created["organisationId"].is_string() && created["userId"].is_string());

    let res =
        http.post(format!("{base}/v1/customers")).bearer_auth(key).json(&json!({"name": "Amy Chan"})).send().unwrap();
    assert_eq!(res.status().as_u16(), 201);

    let audit = Command::new(BIN)
        .args(["policies", "audit"])
        .env("FAVCRM_DATA_DIR", &dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(audit.status.success(), "{}", String::from_utf8_lossy(&audit.stdout));
    assert!(String::from_utf8_lossy(&audit.stdout).contains("No breach"));

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!dir.join("pg/postmaster.pid").exists(), "the cluster is still running after SIGTERM");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn admin_and_policy_commands_work_against_a_database_url() {
    let app = TestApp::spawn().await;
    let socket = cluster().embedded.socket_dir().display().to_string();
    let url = format!("host={socket} port=5432 user=postgres dbname={}", app.dbname);
    let out = Command::new(BIN)
        .args([
            "admin",
            "create-org",
            "--name",
            "Via URL",
            "--owner-email",
            "u@example.com",
            "--timezone",
            "Asia/Hong_Kong",
            "--json",
        ])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let res = app.get(created["apiKey"].as_str().unwrap(), "/v1/organisation").await;
    assert_eq!(res.body["name"], "Via URL");
    assert_eq!(res.body["timezone"], "Asia/Hong_Kong");

    let bad = Command::new(BIN)
        .args(["admin", "create-org", "--name", "Bad", "--owner-email", "u2@example.com", "--timezone", "Mars/Base"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("time zone"), "{}", String::from_utf8_lossy(&bad.stderr));

    let audit = Command::new(BIN).args(["policies", "audit", "--json"]).env("DATABASE_URL", &url).output().unwrap();
    assert!(audit.status.success());
    let report: Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(report["breaches"], json!([]));

    app.admin().await.batch_execute("alter table app.customers no force row level security").await.unwrap();
    let audit = Command::new(BIN).args(["policies", "audit"]).env("DATABASE_URL", &url).output().unwrap();
    assert_eq!(audit.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&audit.stdout).contains("not forced"));
}

#[test]
fn help_documents_every_setting_with_its_environment_variable() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in
        ["DATABASE_URL", "FAVCRM_BIND", "FAVCRM_DATA_DIR", "FAVCRM_LOG", "FAVCRM_LOG_FORMAT", "FAVCRM_DB_POOL_SIZE"]
    {
        assert!(help.contains(var), "--help does not mention {var}");
    }
}
