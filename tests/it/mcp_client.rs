//! Third-party checkers (pinned in tests/mcp_client/requirements.txt): the official MCP Python
//! SDK as a real client against a live server, and an OpenAPI 3.1 validator.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::TestApp;

/// A virtualenv with the pinned packages, made once per run (other tests wait for it) under
/// Cargo's test scratch folder, and kept while the requirements do not change.
pub(crate) fn python_with_sdk() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(make_venv).clone()
}

fn make_venv() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let requirements = root.join("tests/mcp_client/requirements.txt");
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mcp-client-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.installed");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 is needed for the MCP client test");
    assert!(status.success(), "python3 -m venv failed (Debian: apt-get install python3-venv)");
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements)
        .output()
        .unwrap();
    assert!(out.status.success(), "pip install of the MCP SDK failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&stamp, wanted).unwrap();
    python
}

/// Runs an outside client (`program` with `args`, in `dir` if given) to the end and returns what
/// it printed; fails the test with its output unless it succeeded.
async fn run_client<I, A>(what: &str, program: impl AsRef<std::ffi::OsStr>, args: I, dir: Option<&Path>) -> Vec<u8>
where
    I: IntoIterator<Item = A>,
    A: AsRef<std::ffi::OsStr>,
{
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let out = command.output().await.unwrap();
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test]
async fn the_official_python_mcp_sdk_lists_calls_and_is_refused_as_it_should_be() {
    let python = tokio::task::spawn_blocking(python_with_sdk).await.unwrap();
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client/check_server.py");
    let url = format!("{}/mcp", app.base);
    let mailbox = app.mail_dir.join("mail");
    let mailbox = mailbox.to_string_lossy();
    run_client("the Python SDK client", &python, [script, &url, &org.key, &mailbox], None).await;
}

#[test]
fn the_openapi_document_passes_a_third_party_validator() {
    let python = python_with_sdk();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client/validate_openapi.py");
    let document = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi.json");
    let out = Command::new(&python).arg(script).arg(document).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// `node_modules` with the pinned TypeScript SDK, openapi-typescript and tsc
/// (tests/mcp_client/ts/package-lock.json), made
/// once per run under Cargo's test scratch folder and kept while the lock file does not change.
pub fn node_with_sdk() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_client/ts");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mcp-client-ts");
        let lock = std::fs::read_to_string(source.join("package-lock.json")).unwrap();
        let stamp = dir.join("lock.installed");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lock.as_str()) {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for file in ["package.json", "package-lock.json"] {
                std::fs::copy(source.join(file), dir.join(file)).unwrap();
            }
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .output()
                .expect("Node.js 20+ and npm are needed for the TypeScript MCP client test");
            assert!(out.status.success(), "npm ci failed: {}", String::from_utf8_lossy(&out.stderr));
            std::fs::write(&stamp, lock).unwrap();
        }
        for file in ["check_server.mjs", "ask_person.mjs", "use_openapi.ts", "connector_oauth.mjs"] {
            std::fs::copy(source.join(file), dir.join(file)).unwrap();
        }
        dir
    })
    .clone()
}

#[tokio::test]
async fn the_official_typescript_mcp_sdk_sees_every_error_and_completes_a_confirmed_delete() {
    let dir = tokio::task::spawn_blocking(node_with_sdk).await.unwrap();
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let url = format!("{}/mcp", app.base);
    run_client("the TypeScript SDK client", "node", ["check_server.mjs", &url, &org.key], Some(&dir)).await;
}

#[tokio::test]
async fn the_official_typescript_sdk_v2_asks_the_person_on_the_2026_protocol_and_in_a_session_on_the_2025_one() {
    let dir = tokio::task::spawn_blocking(node_with_sdk).await.unwrap();
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = crate::approvals::consenting_customer(&app, &org, "Amy").await;
    let template = crate::approvals::marketing_template(&app, &org).await;
    let url = format!("{}/mcp", app.base);
    let mut outs = Vec::new();
    for mode in ["modern", "legacy"] {
        let customer = app.customer(&org, serde_json::json!({"name": format!("Tess {mode}")})).await.to_string();
        let args = ["ask_person.mjs", &url, &org.key, mode, &customer, &amy, &template];
        let out = run_client(&format!("the TypeScript SDK v2 ({mode})"), "node", args, Some(&dir)).await;
        outs.push(serde_json::from_slice::<serde_json::Value>(&out).unwrap());
    }
    for (out, mode) in outs.iter().zip(["modern", "legacy"]) {
        assert!(out["deleteQuestion"].as_str().unwrap().contains(&format!("Tess {mode}")), "{out}");
        assert!(out["approvalQuestion"].as_str().unwrap().contains("Hello Amy, 20% off all week."), "{out}");
        assert_eq!(out["message"]["body"], "Hello Amy, 20% off all week.", "{out}");
        assert_eq!(out["era"], mode, "{out}");
    }
    let approvals = app.get(&org.key, "/v1/approvals").await;
    for approval in approvals.body["items"].as_array().unwrap() {
        assert_eq!(approval["decidedVia"], "mcp_elicitation", "{approval}");
    }
    assert_eq!(app.count("app.messages", Some(org.id)).await, 2);
}

#[tokio::test]
async fn the_official_python_mcp_sdk_asks_the_person_before_a_delete_on_either_protocol() {
    let python = tokio::task::spawn_blocking(python_with_sdk).await.unwrap();
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client/ask_person.py");
    let url = format!("{}/mcp", app.base);
    for mode in ["auto", "legacy"] {
        let name = format!("Tess Python {mode}");
        let customer = app.customer(&org, serde_json::json!({"name": name})).await.to_string();
        let args = [script, &url, &org.key, &customer, mode];
        let out = run_client(&format!("the Python SDK ({mode})"), &python, args, None).await;
        let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["protocolVersion"] == "2026-07-28", mode == "auto", "{out}");
        assert!(out["questions"][1]["message"].as_str().unwrap().contains(&name), "{out}");
    }
}

#[test]
fn a_typescript_client_generated_from_the_openapi_document_compiles_against_new_answers_and_errors() {
    let dir = node_with_sdk();
    let document = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi.json");
    let generated = Command::new("node")
        .arg(dir.join("node_modules/openapi-typescript/bin/cli.js"))
        .arg(document)
        .arg("-o")
        .arg(dir.join("favcrm.ts"))
        .output()
        .unwrap();
    assert!(generated.status.success(), "openapi-typescript failed: {}", String::from_utf8_lossy(&generated.stderr));
    let compiled = Command::new("node")
        .arg(dir.join("node_modules/typescript/bin/tsc"))
        .args(["--noEmit", "--strict", "--skipLibCheck", "--module", "esnext", "--moduleResolution", "bundler"])
        .args(["--target", "es2022", "use_openapi.ts", "favcrm.ts"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        compiled.status.success(),
        "the generated client does not compile against use_openapi.ts:\n{}",
        String::from_utf8_lossy(&compiled.stdout)
    );
}

/// The issue's "done when": an owner, from the official Python MCP SDK, bills a completed
/// booking, sends a payment link, has it paid through the fake Stripe (the event signed by the
/// script itself), refunds part of it and issues a credit note, confirming each.
#[tokio::test]
async fn the_official_python_mcp_sdk_bills_a_completed_booking_through_to_a_credit_note() {
    use crate::bookings::{at, every_day, in_days};
    let python = tokio::task::spawn_blocking(python_with_sdk).await.unwrap();
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("00:00", "24:00")]), serde_json::json!({}), 1).await;
    let booked = app.book(&s.org.key, &s.service, at(s.tz, in_days(1), 10, 0), serde_json::json!({})).await;
    let booking = booked.body["id"].as_str().unwrap().to_string();
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.bookings set starts_at = starts_at - interval '3 days', ends_at = ends_at - interval '3 days',
                    blocked = tstzrange(lower(blocked) - interval '3 days', upper(blocked) - interval '3 days')
              where id = '{booking}'"
        ))
        .await
        .unwrap();
    let done = app.post(&s.org.key, &format!("/v1/bookings/{booking}/complete"), serde_json::json!({})).await;
    assert_eq!(done.body["status"], "completed", "{}", done.body);
    crate::stripe::connect_stripe(&app, &s.org).await;
    // This organisation lets its agents refund with the confirmation step (tests/it/approvals.rs
    // has the approval).
    app.without_approvals(&s.org).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client/billing_flow.py");
    let (url, hook) = (format!("{}/mcp", app.base), format!("{}/v1/webhooks/stripe/{}", app.base, s.org.id));
    let args = [script, &url, &s.org.key, &hook, crate::billing::WEBHOOK_SECRET, &booking];
    run_client("the billing flow through the Python SDK", &python, args, None).await;
}

/// Issue 13's "done when", from an MCP client: a studio sells a monthly membership that is
/// invoiced and gives credits, a 10-class pack that a booking draws down, and products with a
/// promotion code, through the official Python MCP SDK.
#[tokio::test]
async fn the_official_python_mcp_sdk_sells_a_membership_a_pack_and_products_with_a_code() {
    use crate::bookings::{at, every_day, in_days};
    let python = tokio::task::spawn_blocking(python_with_sdk).await.unwrap();
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("00:00", "24:00")]), serde_json::json!({}), 1).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client/studio_sales_flow.py");
    let (url, ten, noon) = (
        format!("{}/mcp", app.base),
        at(s.tz, in_days(2), 10, 0).to_rfc3339(),
        at(s.tz, in_days(2), 12, 0).to_rfc3339(),
    );
    let args = [script, &url, &s.org.key, &s.service, &ten, &noon];
    run_client("the studio sales flow through the Python SDK", &python, args, None).await;
}

/// Issue 14's "done when", from an MCP client: a customer who books, pays and comes back earns
/// (once per event), sees and redeems points and stamps, through the official Python MCP SDK.
#[tokio::test]
async fn the_official_python_mcp_sdk_earns_sees_and_redeems_loyalty_points() {
    use crate::bookings::{at, every_day, in_days};
    let python = tokio::task::spawn_blocking(python_with_sdk).await.unwrap();
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", every_day(&[("00:00", "24:00")]), serde_json::json!({}), 1).await;
    let booked = app.book(&s.org.key, &s.service, at(s.tz, in_days(1), 10, 0), serde_json::json!({})).await;
    let booking = booked.body["id"].as_str().unwrap().to_string();
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.bookings set starts_at = starts_at - interval '3 days', ends_at = ends_at - interval '3 days',
                    blocked = tstzrange(lower(blocked) - interval '3 days', upper(blocked) - interval '3 days')
              where id = '{booking}'"
        ))
        .await
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client/loyalty_flow.py");
    let url = format!("{}/mcp", app.base);
    let args = [script, &url, &s.org.key, &s.service, &booking];
    run_client("the loyalty flow through the Python SDK", &python, args, None).await;
}

#[tokio::test]
async fn the_official_python_mcp_sdk_sets_up_messaging_and_its_campaign_waits_for_a_person_before_anything_goes() {
    let python = tokio::task::spawn_blocking(python_with_sdk).await.unwrap();
    let providers = crate::fake_providers::start().await;
    let app = TestApp::spawn_with(providers.settings()).await;
    let s =
        app.studio("Europe/London", crate::bookings::every_day(&[("09:00", "17:00")]), serde_json::json!({}), 1).await;
    // No quiet hours, so that what is approved goes at once whatever the hour the test runs.
    app.patch(&s.org.key, "/v1/messaging-settings", serde_json::json!({"quietHours": null})).await;
    let start = crate::bookings::at(s.tz, crate::bookings::in_days(3), 10, 0);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client/messaging_flow.py");
    let run = |a: String, b: String, phase: &'static str| {
        let (python, url, key) = (python.clone(), format!("{}/mcp", app.base), s.org.key.clone());
        async move {
            let what = format!("the messaging flow ({phase}) through the Python SDK");
            let out = run_client(&what, &python, [script, &url, &key, &a, &b, phase], None).await;
            serde_json::from_slice::<serde_json::Value>(&out).unwrap()
        }
    };
    let set_up = run(s.service.clone(), start.to_rfc3339(), "setup").await;
    // The confirmation went at once.
    let mails = app.mails_to("amy@example.com").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].1.contains("Hello Amy, Cut at 10:00."), "{}", mails[0].1);
    // The reminder waits for its time, a day before the booking; when it comes, it goes as the
    // Meta template.
    let admin = app.admin().await;
    let due: chrono::DateTime<chrono::Utc> = admin
        .query_one(
            "select d.next_attempt_at from app.deliveries d join app.messages m on m.org_id = d.org_id and m.id = d.message_id
              where m.source = 'booking_reminder'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(due, start - chrono::Duration::hours(24));
    assert!(providers.whatsapps().await.is_empty());
    admin.execute("update app.deliveries set next_attempt_at = now() where kind = 'whatsapp'", &[]).await.unwrap();
    app.outbox_idle().await;
    let calls = providers.whatsapps().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["template"]["name"], "visit_reminder");
    assert_eq!(
        calls[0]["template"]["components"][0]["parameters"],
        serde_json::json!([{"type": "text", "text": "Amy"}, {"type": "text", "text": "10:00"}])
    );
    // Nothing of the campaign went before a person approved it; then exactly it.
    assert_eq!(app.mails_to("amy@example.com").await.len(), 1);
    let desk = crate::approvals::app_key(&app, &s.org).await;
    let approval = set_up["approvalId"].as_str().unwrap();
    let approved = app.post(&desk, &format!("/v1/approvals/{approval}/approve"), serde_json::json!({})).await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);
    let mails = app.mails_to("amy@example.com").await;
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].0, "Spring at Studio");
    run(approval.to_string(), set_up["campaignId"].as_str().unwrap().to_string(), "check").await;
}
