//! The `favcrm` binary: serve on the embedded default, admin and policy commands beside a
//! running server, DATABASE_URL, and a clean stop on SIGTERM.

use std::process::Command;
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
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = serve_on(&dir, port, "server.log");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::blocking::Client::new();

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
    // An administrator's command says what matters: no PostgreSQL chatter, no colour codes in
    // output that is not a terminal.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("NOTICE") && !stderr.contains('\u{1b}'), "{stderr}");

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

    // With no SMTP server configured, a registration code lands in <data dir>/mail/ and the log
    // says where, but never shows the code.
    let res = http
        .post(format!("{base}/v1/signup/request"))
        .json(&json!({"email": "zoe@example.com", "organisationName": "Zoe Nails"}))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 202);
    // The server's outbox worker sends it just after the answer.
    let mut mails = Vec::new();
    for _ in 0..200 {
        mails = std::fs::read_dir(dir.join("mail")).map(|d| d.filter_map(|e| e.ok()).collect()).unwrap_or_default();
        if !mails.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(mails.len(), 1);
    let (_, _, text) = crate::common::parse_mail(&std::fs::read(mails[0].path()).unwrap()).unwrap();
    let code = crate::common::code_in(&text).unwrap();

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = server.wait().unwrap();
    let logged = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(logged.contains("mail written to the mailbox folder") && logged.contains("/mail/"), "{logged}");
    assert!(!logged.contains('\u{1b}'), "colour codes in a log file: {logged}");
    assert!(!logged.contains("no privileges were granted") && !logged.contains("NOTICE"), "{logged}");
    assert!(!logged.contains(&code), "the log shows the code: {logged}");
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
    for var in [
        "DATABASE_URL",
        "FAVCRM_BIND",
        "FAVCRM_DATA_DIR",
        "FAVCRM_LOG",
        "FAVCRM_LOG_FORMAT",
        "FAVCRM_DB_POOL_SIZE",
        "FAVCRM_SMTP_URL",
        "FAVCRM_MAIL_FROM",
        "FAVCRM_CODE_EMAILS_PER_IP_PER_HOUR",
        "FAVCRM_SIGNUPS_PER_EMAIL_PER_HOUR",
        "FAVCRM_TRUSTED_PROXIES",
    ] {
        assert!(help.contains(var), "--help does not mention {var}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_logs_in_lists_describes_and_calls_tools_against_a_running_server() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let home = std::env::temp_dir().join(format!("favcrm-home-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&home).unwrap();
    let url = format!("{}/mcp", app.base);
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("FAVCRM_API_KEY")
            .env_remove("FAVCRM_MCP_TOKEN")
            .env_remove("FAVCRM_MCP_URL")
            .env_remove("FAVCRM_API_BASE")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = tokio::task::block_in_place(|| run(&["login", &org.key, "--url", &url]));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!out.contains(&org.key), "login printed the key unmasked: {out}");
    let config = std::fs::read_to_string(home.join(".config/favcrm/config.toml")).unwrap();
    assert!(config.contains(&org.key) && config.contains(&url));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.join(".config/favcrm/config.toml")).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the config file must be private");

    let (code, out, _) =
        tokio::task::block_in_place(|| run(&["tool", "call", "create_customer", r#"{"name":"Amy Chan"}"#]));
    assert_eq!(code, Some(0), "{out}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["name"], "Amy Chan");
    let id = created["id"].as_str().unwrap().to_string();

    let (code, out, _) = tokio::task::block_in_place(|| run(&["tool", "list", "--json"]));
    assert_eq!(code, Some(0));
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        listed["tools"].as_array().unwrap().len(),
        favcrm::catalog::all().iter().filter(|op| !op.is_public()).count()
    );

    let (code, out, _) = tokio::task::block_in_place(|| run(&["tool", "describe", "delete_customer", "--json"]));
    assert_eq!(code, Some(0));
    let described: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(described["annotations"]["destructiveHint"], true);

    // A destructive call prints the preview and how to confirm, and changes nothing.
    let args = format!(r#"{{"customerId":"{id}"}}"#);
    let (code, out, _) = tokio::task::block_in_place(|| run(&["tool", "call", "delete_customer", &args]));
    assert_eq!(code, Some(1));
    let token = out.split("--confirm ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert!(app.get(&org.key, &format!("/v1/customers/{id}")).await.body["deletedAt"].is_null());
    let (code, out, _) =
        tokio::task::block_in_place(|| run(&["tool", "call", "delete_customer", &args, "--confirm", &token]));
    assert_eq!(code, Some(0), "{out}");
    assert!(app.get(&org.key, &format!("/v1/customers/{id}")).await.body["deletedAt"].is_string());

    let (code, out, _) =
        tokio::task::block_in_place(|| run(&["tool", "call", "create_customer", r#"{"name":"X","email":"nope"}"#]));
    assert_eq!(code, Some(1));
    assert!(out.contains("invalid_email"), "{out}");

    let (code, out, _) = tokio::task::block_in_place(|| run(&["whoami", "--json"]));
    assert_eq!(code, Some(0));
    let me: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(me["organisation"]["name"], "Glow");
    assert!(!out.contains(&org.key));

    let (code, out, _) = tokio::task::block_in_place(|| run(&["doctor"]));
    assert_eq!(code, Some(0), "{out}");
    let (code, _, _) = tokio::task::block_in_place(|| run(&["doctor", "--api-key", "fav_mcp_not-a-real-key"]));
    assert_eq!(code, Some(1));
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_signs_up_invites_a_colleague_who_joins_all_from_the_cli() {
    let app = TestApp::spawn().await;
    let url = format!("{}/mcp", app.base);
    let home = std::env::temp_dir().join(format!("favcrm-home-{}", uuid::Uuid::new_v4().simple()));
    let colleague_home = std::env::temp_dir().join(format!("favcrm-home-{}", uuid::Uuid::new_v4().simple()));
    for dir in [&home, &colleague_home] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let run = |home: &std::path::Path, args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .args(["--url", &url])
            .env("HOME", home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("FAVCRM_API_KEY")
            .env_remove("FAVCRM_MCP_TOKEN")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    let (code, out) = tokio::task::block_in_place(|| {
        run(
            &home,
            &[
                "signup",
                "request",
                "--email",
                "rae@example.com",
                "--organisation-name",
                "Rae Tutors",
                "--industry",
                "tutoring",
                "--country",
                "AU",
                "--json",
            ],
        )
    });
    assert_eq!(code, Some(0), "{out}");
    let requested: Value = serde_json::from_str(&out).unwrap();
    let request_id = requested["requestId"].as_str().unwrap().to_string();
    let code_text = app.latest_code("rae@example.com").await;
    let (code, out) = tokio::task::block_in_place(|| {
        run(&home, &["signup", "verify", "--request-id", &request_id, "--code", "000000"])
    });
    if code_text != "000000" {
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("invalid_code"), "{out}");
    }
    let (code, out) = tokio::task::block_in_place(|| {
        run(&home, &["signup", "verify", "--request-id", &request_id, "--code", &code_text])
    });
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Rae Tutors"), "{out}");
    let config = std::fs::read_to_string(home.join(".config/favcrm/config.toml")).unwrap();
    let saved = config.split('"').find(|s| s.starts_with("fav_mcp_")).expect("the key was saved");
    assert!(out.contains(saved), "the new key is shown in full, once: {out}");
    assert!(out.contains("shown only this once"), "{out}");
    let (code, out) = tokio::task::block_in_place(|| run(&home, &["whoami", "--json"]));
    assert_eq!(code, Some(0), "{out}");
    let me: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(me["organisation"]["timezone"], "Australia/Sydney");

    let (code, out) = tokio::task::block_in_place(|| {
        run(
            &home,
            &["team", "invite", "create", "--email", "ted@example.com", "--name", "Ted", "--role", "staff", "--json"],
        )
    });
    assert_eq!(code, Some(0), "{out}");
    let invite: Value = serde_json::from_str(&out).unwrap();
    let token = invite["token"].as_str().unwrap().to_string();
    assert!(invite["emailDeliveryId"].is_string(), "{invite}");

    let (code, out) =
        tokio::task::block_in_place(|| run(&colleague_home, &["team", "invite", "accept-request", "--token", &token]));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("te*@example.com"), "{out}");
    let ted_code = app.latest_code("ted@example.com").await;
    let (code, out) = tokio::task::block_in_place(|| {
        run(
            &colleague_home,
            &["team", "invite", "accept-verify", "--token", &token, "--code", &ted_code, "--name", "Ted Ng", "--json"],
        )
    });
    assert_eq!(code, Some(0), "{out}");
    let joined: Value = serde_json::from_str(&out).unwrap();
    let ted_key = joined["apiKey"].as_str().unwrap().to_string();
    assert!(!ted_key.contains('…'), "the new key is printed in full, with --json too: {out}");
    assert_eq!(app.get(&ted_key, "/v1/organisation").await.body["name"], "Rae Tutors");

    let (code, out) = tokio::task::block_in_place(|| run(&colleague_home, &["team", "list"]));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Ted Ng") && out.contains("owner"), "{out}");
    for dir in [&home, &colleague_home] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_studio_is_booked_from_the_cli() {
    let app = TestApp::spawn().await;
    let hours: Value = (1..=7).map(|d| json!({"weekday": d, "start": "09:00", "end": "17:00"})).collect();
    let s = app.studio("Europe/London", hours, json!({}), 1).await;
    let url = format!("{}/mcp", app.base);
    let call = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(["tool", "call"])
            .args(args)
            .args(["--url", &url, "--api-key", &s.org.key, "--json"])
            .env_remove("FAVCRM_API_KEY")
            .output()
            .unwrap();
        let result: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let content =
            if result["isError"] == true { crate::mcp::problem(&result) } else { result["structuredContent"].clone() };
        (out.status.code(), content)
    };
    let from = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let to = (chrono::Utc::now() + chrono::Duration::days(4)).to_rfc3339();
    let args = json!({"serviceId": s.service, "from": from, "to": to}).to_string();
    let (code, slots) = tokio::task::block_in_place(|| call(&["get_available_slots", &args]));
    assert_eq!(code, Some(0), "{slots}");
    let start = slots["slots"][0]["start"].as_str().expect("a slot").to_string();
    let args = json!({"serviceId": s.service, "start": start, "customer": {"name": "Cli Customer", "phone": "+44 7700 900123"}})
        .to_string();
    let (code, booked) = tokio::task::block_in_place(|| call(&["create_booking", &args]));
    assert_eq!(code, Some(0), "{booked}");
    assert_eq!(booked["status"], "confirmed");
    let (code, clash) = tokio::task::block_in_place(|| call(&["create_booking", &args]));
    assert_eq!(code, Some(1));
    assert_eq!(clash["code"], "slot_taken");
    assert!(clash["nearbySlots"].is_array());
}

/// Issue 13's "done when", from the CLI: a membership, a pack and a booking paid with a credit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_and_a_pack_are_sold_and_spent_from_the_cli() {
    let app = TestApp::spawn().await;
    let hours: Value = (1..=7).map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect();
    let s = app.studio("Europe/London", hours, json!({}), 1).await;
    let url = format!("{}/mcp", app.base);
    let call = |tool: &str, args: Value| {
        let out = Command::new(BIN)
            .args(["tool", "call", tool, &args.to_string()])
            .args(["--url", &url, "--api-key", &s.org.key, "--json"])
            .env_remove("FAVCRM_API_KEY")
            .output()
            .unwrap();
        let result: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let content =
            if result["isError"] == true { crate::mcp::problem(&result) } else { result["structuredContent"].clone() };
        (out.status.code(), content)
    };
    let customer = app.customer(&s.org, json!({"name": "Cli Member"})).await.to_string();
    let (code, plan) = tokio::task::block_in_place(|| {
        call(
            "create_plan",
            json!({"name": "Monthly", "price": {"amount": 6000}, "interval": "month", "creditsPerPeriod": 2}),
        )
    });
    assert_eq!(code, Some(0), "{plan}");
    let (code, sub) = tokio::task::block_in_place(|| {
        call("create_subscription", json!({"customerId": customer, "planId": plan["id"]}))
    });
    assert_eq!((code, sub["status"].as_str()), (Some(0), Some("active")), "{sub}");
    let (code, sale) = tokio::task::block_in_place(|| {
        call(
            "sell_package",
            json!({"customerId": customer, "name": "5 classes", "sessions": 5, "price": {"amount": 9000}}),
        )
    });
    assert_eq!(code, Some(0), "{sale}");
    let start = crate::bookings::at(s.tz, crate::bookings::in_days(3), 10, 0).to_rfc3339();
    let (code, booked) = tokio::task::block_in_place(|| {
        call(
            "create_booking",
            json!({"serviceId": s.service, "start": start, "customerId": customer, "payWith": "credits"}),
        )
    });
    assert_eq!((code, booked["paidWith"].as_str()), (Some(0), Some("credits")), "{booked}");
    let (code, balance) = tokio::task::block_in_place(|| call("get_credit_balance", json!({"customerId": customer})));
    assert_eq!((code, balance["available"].as_i64()), (Some(0), Some(6)), "{balance}");
}

/// Starts `favcrm serve` on a data directory and waits until it is ready.
fn serve_on(dir: &std::path::Path, port: u16, log_name: &str) -> std::process::Child {
    let log = std::fs::File::create(dir.join(log_name)).unwrap();
    let mut server = Command::new(BIN)
        .env("FAVCRM_DATA_DIR", dir)
        .env("FAVCRM_BIND", format!("127.0.0.1:{port}"))
        .env_remove("DATABASE_URL")
        .env_remove("FAVCRM_SMTP_URL")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let http = reqwest::blocking::Client::new();
    let started = Instant::now();
    while http.get(format!("http://127.0.0.1:{port}/readyz")).send().ok().map(|r| r.status().as_u16()) != Some(200) {
        assert!(started.elapsed() < Duration::from_secs(60), "server not ready in 60 s");
        assert!(server.try_wait().unwrap().is_none(), "server exited early");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

#[test]
fn serve_owns_its_cluster_even_one_left_by_a_killed_server_and_commands_elsewhere_find_none() {
    let dir = std::env::temp_dir().join(format!("favcrm-crash-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let pid_file = dir.join("pg/postmaster.pid");
    let mut first = serve_on(&dir, free_port(), "first.log");

    // One server per data directory.
    let second = Command::new(BIN)
        .env("FAVCRM_DATA_DIR", &dir)
        .env("FAVCRM_BIND", format!("127.0.0.1:{}", free_port()))
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another favcrm server is running"));

    // Killed outright, the server leaves its PostgreSQL running.
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(pid_file.exists());

    // An administrator's command from another folder finds no database there and says so,
    // instead of making an empty one and printing a key the server would reject.
    let elsewhere = std::env::temp_dir().join(format!("favcrm-elsewhere-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = Command::new(BIN)
        .args(["admin", "create-org", "--name", "Lost", "--owner-email", "lost@example.com"])
        .current_dir(&elsewhere)
        .env_remove("FAVCRM_DATA_DIR")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no favcrm database in") && stderr.contains("FAVCRM_DATA_DIR"), "{stderr}");
    assert!(out.stdout.is_empty(), "no key is printed");
    assert!(!elsewhere.join(".favcrm/pg").exists(), "no new cluster");

    // The next server adopts the orphan and, stopped cleanly, stops it.
    let next = serve_on(&dir, free_port(), "next.log");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(next.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = next.wait_with_output().unwrap().status;
    assert!(status.success(), "{status}");
    let logged = std::fs::read_to_string(dir.join("next.log")).unwrap();
    assert!(logged.contains("adopting the embedded PostgreSQL"), "{logged}");
    assert!(!pid_file.exists(), "the adopted cluster still runs after the server stopped: {logged}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&elsewhere);
}
