//! The pages in a real browser: headless Chromium driven over WebDriver (Debian's `chromium`
//! and `chromium-driver`, through fantoccini), with the official TypeScript SDK's OAuth client
//! as the connector. A screenshot of every page is written under
//! `target/tmp/browser-screenshots/` and its path printed, for review.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::TestApp;

/// A chromedriver on a free port, stopped when dropped.
struct Driver {
    child: std::process::Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (apt-get install chromium-driver; .ci/run installs it)");
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    for _ in 0..200 {
        if reqwest::get(format!("{}/status", driver.url)).await.is_ok_and(|r| r.status().is_success()) {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not start");
}

async fn chromium(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium",
               "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--window-size=1100,1000", "--lang=en-GB"]}),
    );
    ClientBuilder::native().capabilities(caps).connect(&driver.url).await.expect("a Chromium session")
}

/// Saves what the browser shows as `<n>-<name>.png` and prints where.
async fn screenshot(browser: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, browser.screenshot().await.unwrap()).unwrap();
    println!("screenshot: {}", path.display());
}

/// The connector's next line of output, with the given start.
async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>, start: &str) -> String {
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("no {start} line within a minute"))
        .unwrap()
        .unwrap_or_else(|| panic!("the connector ended before {start}"));
    assert!(line.starts_with(start), "expected {start}, got {line}");
    line[start.len()..].trim().to_string()
}

async fn connector(url: &str, customer: &str, template: &str) -> Child {
    let dir = tokio::task::spawn_blocking(crate::mcp_client::node_with_sdk).await.unwrap();
    Command::new("node")
        .args(["connector_oauth.mjs", url, customer, template])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("Node.js 20+")
}

#[tokio::test]
async fn a_connector_signs_a_person_in_by_email_code_in_chromium_and_the_person_approves_its_message_in_the_inbox() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow Studio").await;
    let email = crate::oauth::owner_email(&app, &org).await;
    let amy = crate::approvals::consenting_customer(&app, &org, "Amy").await;
    let template = crate::approvals::marketing_template(&app, &org).await;
    let driver = driver().await;
    let browser = chromium(&driver).await;

    // The connector is given the URL; the SDK finds the sign-in and asks for the browser.
    let mut client = connector(&format!("{}/mcp", app.base), &amy, &template).await;
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let authorize = next_line(&mut lines, "AUTHORIZE ").await;
    assert!(authorize.starts_with(&format!("{}/oauth/authorize?", app.base)), "{authorize}");
    browser.goto(&authorize).await.unwrap();

    // Sign in by emailed code.
    browser.wait().for_element(Locator::Css("input#email")).await.unwrap();
    assert_eq!(browser.title().await.unwrap(), "Sign in · favcrm");
    screenshot(&browser, "1-sign-in").await;
    browser.find(Locator::Css("input#email")).await.unwrap().send_keys(&email).await.unwrap();
    browser.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let code_input = browser.wait().for_element(Locator::Css("input#code")).await.unwrap();
    screenshot(&browser, "2-enter-code").await;
    let code = app.latest_code(&email).await;
    code_input.send_keys(&code).await.unwrap();
    browser.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();

    // Consent: the client, the organisation, the scopes in plain words.
    browser.wait().for_element(Locator::Css("button[value=allow]")).await.unwrap();
    let page = browser.source().await.unwrap();
    assert!(page.contains("Connector test") && page.contains("Glow Studio"), "{page}");
    assert!(page.contains("Create and change customers and their notes"), "{page}");
    screenshot(&browser, "3-consent").await;
    browser.find(Locator::Css("button[value=allow]")).await.unwrap().click().await.unwrap();

    // Back in the client, which exchanges the code and works as the agent.
    assert_eq!(next_line(&mut lines, "CALLBACK").await, "");
    browser.wait().for_element(Locator::Css("h1")).await.unwrap();
    screenshot(&browser, "4-back-in-the-client").await;
    let tools: usize = next_line(&mut lines, "TOOLS ").await.parse().unwrap();
    assert!(tools > 100, "{tools}");
    let created: Value = serde_json::from_str(&next_line(&mut lines, "CREATED ").await).unwrap();
    assert_eq!(created["name"], "Ada Lovelace");
    let approval = next_line(&mut lines, "APPROVAL ").await;
    let status = tokio::time::timeout(Duration::from_secs(30), client.wait()).await.unwrap().unwrap();
    assert!(status.success(), "the connector failed");

    // The person approves the agent's message in the inbox: exactly its snapshot is sent.
    assert!(app.mails_to("amy@example.com").await.is_empty());
    browser.goto(&format!("{}/inbox", app.base)).await.unwrap();
    let article =
        browser.wait().for_element(Locator::Css(&format!("article[aria-labelledby='a-{approval}']"))).await.unwrap();
    let shown = article.text().await.unwrap();
    assert!(shown.contains("Hello Amy, 20% off all week.") && shown.contains("amy@example.com"), "{shown}");
    screenshot(&browser, "5-approval-inbox").await;
    article.find(Locator::Css("form[action$='/approve'] button")).await.unwrap().click().await.unwrap();
    let notice = browser.wait().for_element(Locator::Css("p.notice")).await.unwrap();
    assert_eq!(notice.text().await.unwrap(), "Approved and carried out.");
    screenshot(&browser, "6-approved").await;
    let mails = app.mails_to("amy@example.com").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].1.contains("Hello Amy, 20% off all week."), "{}", mails[0].1);
    let decided = app.get(&crate::approvals::app_key(&app, &org).await, &format!("/v1/approvals/{approval}")).await;
    assert_eq!(
        (decided.status, decided.body["decidedVia"].as_str()),
        (StatusCode::OK, Some("web")),
        "{}",
        decided.body
    );

    // The connected app, and revoking it.
    browser.goto(&format!("{}/apps", app.base)).await.unwrap();
    browser.wait().for_element(Locator::Css("article.app")).await.unwrap();
    screenshot(&browser, "7-connected-apps").await;
    browser.find(Locator::Css("article.app button.danger")).await.unwrap().click().await.unwrap();
    browser.wait().for_element(Locator::Css("p.notice")).await.unwrap();
    let revoked: bool = app
        .admin()
        .await
        .query_one("select revoked_at is not null from app.api_keys where name = 'Connector test'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(revoked);
    browser.close().await.unwrap();
}
