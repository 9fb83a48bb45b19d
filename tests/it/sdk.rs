//! The JavaScript/TypeScript SDK (`sdk/js`): built with tsc from a clean copy, its own tests
//! run with Node against a live server, and its generated layer checked against the OpenAPI
//! document (regenerate with `cd sdk/js && npm run generate`, or FAVCRM_UPDATE_SDK=1).

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::TestApp;

fn sdk_source() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sdk/js")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn run(what: &str, dir: &Path, program: &str, args: &[&str], envs: &[(&str, String)]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (Node.js 20+ and npm are needed)"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A copy of `sdk/js` with its pinned dependencies installed (once per lock file) and built.
fn built_sdk() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let source = sdk_source();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sdk-js");
        let lock = std::fs::read_to_string(source.join("package-lock.json")).unwrap();
        let stamp = dir.join("lock.installed");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lock.as_str()) {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(source.join("package.json"), dir.join("package.json")).unwrap();
            std::fs::copy(source.join("package-lock.json"), dir.join("package-lock.json")).unwrap();
            run("npm ci", &dir, "npm", &["ci", "--no-audit", "--no-fund", "--loglevel=error"], &[]);
            std::fs::write(&stamp, &lock).unwrap();
        }
        for sub in ["src", "test", "examples", "scripts", "dist", "dist-examples"] {
            let _ = std::fs::remove_dir_all(dir.join(sub));
        }
        for sub in ["src", "test", "examples", "scripts"] {
            copy_dir(&source.join(sub), &dir.join(sub));
        }
        for file in ["package.json", "tsconfig.json", "tsconfig.examples.json", "README.md"] {
            std::fs::copy(source.join(file), dir.join(file)).unwrap();
        }
        run("the SDK build (tsc)", &dir, "npm", &["run", "--silent", "build"], &[]);
        dir
    })
    .clone()
}

#[tokio::test]
async fn the_sdks_generated_layer_matches_the_openapi_document() {
    let dir = tokio::task::spawn_blocking(built_sdk).await.unwrap();
    let document = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/openapi.json");
    let fresh = dir.join("generated-check");
    let _ = std::fs::remove_dir_all(&fresh);
    run(
        "the SDK generator",
        &dir,
        "node",
        &["scripts/generate.mjs", document.to_str().unwrap(), fresh.to_str().unwrap()],
        &[],
    );
    let committed = sdk_source().join("src/generated");
    for file in ["openapi.ts", "operations.ts"] {
        let new = std::fs::read_to_string(fresh.join(file)).unwrap();
        if std::env::var_os("FAVCRM_UPDATE_SDK").is_some() {
            std::fs::write(committed.join(file), &new).unwrap();
            continue;
        }
        let old = std::fs::read_to_string(committed.join(file)).unwrap_or_default();
        assert!(
            old == new,
            "sdk/js/src/generated/{file} is out of date with tests/openapi.json: run `cd sdk/js && npm run generate` \
             (or FAVCRM_UPDATE_SDK=1 cargo test sdk::) and commit the result"
        );
    }
}

#[test]
fn the_sdk_readmes_booking_flow_is_the_example_the_tests_compile_and_run() {
    let readme = std::fs::read_to_string(sdk_source().join("README.md")).unwrap();
    let example = std::fs::read_to_string(sdk_source().join("examples/booking.ts")).unwrap();
    let start = readme.find("```ts\n").expect("a ts block in sdk/js/README.md") + 6;
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    assert_eq!(block, example, "sdk/js/README.md's booking flow differs from examples/booking.ts");
    assert!(example.lines().count() <= 20, "the booking flow is {} lines", example.lines().count());
}

#[tokio::test]
async fn the_sdk_books_pages_confirms_waits_for_approval_and_reports_problems_against_a_live_server() {
    let dir = tokio::task::spawn_blocking(built_sdk).await.unwrap();
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let desk = crate::approvals::app_key(&app, &org).await;
    let customer = crate::approvals::consenting_customer(&app, &org, "Amy").await;
    let template = crate::approvals::marketing_template(&app, &org).await;
    let pk = app
        .post(&org.key, "/v1/publishable-keys", json!({"name": "Site", "allowedOrigins": ["https://glow.example"]}))
        .await;
    assert_eq!(pk.status, StatusCode::CREATED, "{}", pk.body);
    let token = crate::oauth::oauth_fixture(&app, &org).await;
    // A service with someone working every day, for the publishable key's slots.
    let staff = app.post(&org.key, "/v1/staff", json!({"name": "Kim"})).await.body["id"].as_str().unwrap().to_string();
    let hours: Vec<_> = (1..=7).map(|d| json!({"weekday": d, "start": "00:00", "end": "23:59"})).collect();
    let set = app
        .call(Some(&org.key), Method::PUT, &format!("/v1/staff/{staff}/working-hours"), Some(json!({"hours": hours})))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let envs = [
        ("FAVCRM_URL", app.base.clone()),
        ("FAVCRM_KEY", org.key.clone()),
        ("FAVCRM_APP_KEY", desk),
        ("FAVCRM_PK", pk.body["publishableKey"].as_str().or(pk.body["key"].as_str()).unwrap().to_string()),
        ("FAVCRM_ACCESS_TOKEN", token),
        ("FAVCRM_CUSTOMER", customer),
        ("FAVCRM_TEMPLATE", template),
    ];
    let out = tokio::task::spawn_blocking(move || run("the SDK's tests", &dir, "node", &["--test", "test/"], &envs))
        .await
        .unwrap();
    assert!(out.contains("# fail 0"), "{out}");
}
