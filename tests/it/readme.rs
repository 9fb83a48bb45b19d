//! The README's shell examples marked `<!-- readme-test -->`, run as written against a real
//! server: only the server's address and `cargo run --release --` (the binary this test run
//! built) are put in, and the administrator's commands are pointed at the test database.

use std::process::Command;

use serde_json::Value;

use crate::common::{TestApp, cluster};

const BIN: &str = env!("CARGO_BIN_EXE_favcrm");

/// Refusals the examples show on purpose.
const EXPECTED_REFUSALS: &[&str] = &["confirmation_required"];

/// The body of every ```sh block that follows a `<!-- readme-test -->` line.
fn tested_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- readme-test -->" {
            continue;
        }
        assert_eq!(lines.next().map(str::trim), Some("```sh"), "a readme-test marker must precede a ```sh block");
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        blocks.push(block.join("\n"));
    }
    blocks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_examples_work_as_written() {
    let app = TestApp::spawn().await;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks = tested_blocks(&readme);
    assert!(blocks.len() >= 3, "the curl, bookings and MCP examples are marked: {}", blocks.len());
    let host = app.base.trim_start_matches("http://").to_string();
    // One script, so that the ids one block keeps in variables reach the next. Every answer
    // ends in a newline, so that each is a line of the output.
    let mut script = String::from("set -euo pipefail\ncurl() { command curl -w '\\n' \"$@\"; }\n");
    for block in &blocks {
        script.push_str(
            &block
                .replace("localhost:8080", &host)
                .replace("127.0.0.1:8080", &host)
                .replace("cargo run --release --", BIN),
        );
        script.push('\n');
    }
    let socket = cluster().embedded.socket_dir().display().to_string();
    let database_url = format!("host={socket} port=5432 user=postgres dbname={}", app.dbname);
    let out = tokio::task::block_in_place(|| {
        // Files the examples write (a chart) land in a directory of their own.
        let dir = std::env::temp_dir().join(format!("favcrm-readme-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(&dir)
            .env("DATABASE_URL", &database_url)
            .output()
            .unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the README's examples failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let answers: Vec<Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    for answer in &answers {
        let status = answer["status"].as_u64().unwrap_or(0);
        let code = answer["code"].as_str().unwrap_or("");
        assert!(
            status < 400 || EXPECTED_REFUSALS.contains(&code),
            "a README example was refused: {answer}\n\nall output:\n{stdout}"
        );
    }
    let booked = answers.iter().find(|a| a["startsAt"].is_string()).expect("the booking example booked");
    assert_eq!(booked["status"], "confirmed", "{booked}");
    assert_eq!(booked["price"]["currency"], "HKD", "{booked}");
    let tools = answers.iter().find(|a| a["result"]["tools"].is_array()).expect("the MCP example listed tools");
    assert!(tools["result"]["tools"].as_array().unwrap().len() > 50, "{tools}");
    let finalized = answers.iter().find(|a| a["number"].is_string()).expect("the billing example finalised");
    // 450.00 + 20 % + 150.00 in Hong Kong dollars.
    assert_eq!(
        (finalized["status"].as_str(), &finalized["total"]),
        (Some("open"), &serde_json::json!({"amount": 69000, "currency": "HKD"}))
    );
    let paid = answers.iter().find(|a| a["method"] == "cash").expect("the billing example recorded a payment");
    let order = answers.iter().find(|a| a["paymentStatus"] == "awaiting_payment").expect("the order example billed");
    // 2 × 120.00 − 10 %.
    assert_eq!(order["amount"], serde_json::json!({"amount": 21600, "currency": "HKD"}), "{order}");
    assert_eq!(paid["amount"]["amount"], 10000, "{paid}");
    let approved = answers.iter().find(|a| a["operation"] == "send_message" && a["status"] == "approved");
    let message = &approved.expect("the messaging example was approved")["result"];
    assert_eq!((message["status"].as_str(), message["body"].as_str()), (Some("queued"), Some("Thank you, Amy.")));
    let endpoint = answers.iter().find(|a| a["url"] == "https://hooks.example.com/favcrm").expect("an endpoint");
    assert!(endpoint["secret"].as_str().unwrap().starts_with("whsec_"), "{endpoint}");
    let deliveries = answers.iter().find(|a| a["items"][0]["kind"].is_string()).expect("the deliveries listed");
    assert!(deliveries["items"].as_array().unwrap().iter().any(|d| d["kind"] == "email"), "{deliveries}");
    let deleted = answers.iter().find(|a| a["deletedAt"].is_string()).expect("the delete example deleted");
    assert_eq!(deleted["name"], "Amy Chan");
}
