//! Agentic registration: a person with an inbox and an MCP client (or the REST API) creates a
//! workspace; nobody can brute-force a code, enumerate accounts or flood the mailer.

use favcrm::effects::mail::MailSettings;
use favcrm::web::ServerSettings;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestApp, code_in, parse_mail, relaxed, start_smtp};

impl TestApp {
    async fn anon(&self, path: &str, body: Value) -> crate::common::Res {
        self.call(None, Method::POST, path, Some(body)).await
    }

    async fn anon_tool(&self, name: &str, arguments: Value) -> Value {
        let (status, body) =
            self.rpc(None, "/mcp", "tools/call", json!({"name": name, "arguments": arguments}), &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["result"].clone()
    }
}

#[tokio::test]
async fn the_whole_signup_runs_over_real_smtp_and_the_key_works_on_rest_and_mcp() {
    let (port, messages) = start_smtp();
    let settings = ServerSettings {
        mail: MailSettings {
            smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
            from: "favcrm <no-reply@example.com>".into(),
            ..Default::default()
        },
        ..relaxed()
    };
    let app = TestApp::spawn_with(settings).await;
    let req = app
        .anon(
            "/v1/signup/request",
            json!({"email": "You@Example.com", "organisationName": "Glow Studio", "industry": "beauty", "country": "GB"}),
        )
        .await;
    assert_eq!(req.status, StatusCode::ACCEPTED, "{}", req.body);
    let request_id = req.body["requestId"].as_str().unwrap();
    assert!(request_id.starts_with("signup_req_"), "{request_id}");
    assert_eq!(req.body["maskedEmail"], "yo*@example.com");
    assert!(req.body["instructions"].as_str().unwrap().contains("register_organisation_verify"));
    assert!(req.body["expiresAt"].as_str().unwrap().ends_with('Z'));

    // Only the code's argon2id hash is stored.
    let admin = app.admin().await;
    let hash: String = admin.query_one("select code_hash from app.signup_requests", &[]).await.unwrap().get(0);
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");

    // The mail went through the outbox, with the code sealed until it was sent.
    let sealed: i64 = admin
        .query_one("select count(*) from app.account_mail where sealed_code is not null", &[])
        .await
        .unwrap()
        .get(0);
    app.outbox_idle().await;
    let raw = messages.lock().unwrap().pop().expect("a message over SMTP");
    let row = admin.query_one("select status, sealed_code is null from app.account_mail", &[]).await.unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, bool>(1)),
        ("sent".to_string(), true),
        "the code is forgotten once sent"
    );
    assert!(sealed <= 1);
    let (to, subject, text) = parse_mail(&raw).unwrap();
    assert_eq!(to, "you@example.com");
    let code = code_in(&text).expect("a code in the mail");
    assert!(subject.contains(&code), "{subject}");
    assert!(!hash.contains(&code));
    let raw_text = String::from_utf8_lossy(&raw);
    assert!(raw_text.contains("text/plain") && raw_text.contains("text/html"));

    let done = app.anon("/v1/signup/verify", json!({"requestId": request_id, "code": code})).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    let key = done.body["apiKey"].as_str().unwrap();
    assert!(key.starts_with("fav_mcp_"));
    assert_eq!(done.body["timezone"], "Europe/London");
    assert_eq!(done.body["defaultCurrency"], "GBP");
    assert!(done.body["nextSteps"].as_array().unwrap().len() >= 2);

    let org = app.get(key, "/v1/organisation").await;
    assert_eq!(org.status, StatusCode::OK);
    assert_eq!(org.body["name"], "Glow Studio");
    assert_eq!(org.body["industry"], "beauty");
    assert_eq!(org.body["country"], "GB");
    let tools = app.tools(key, "/mcp", &[]).await;
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"create_team_member_invite") && names.contains(&"create_customer"), "{names:?}");
    assert!(!names.contains(&"register_organisation_request"), "a key holder is not offered registration");
    // The industry's example services are there, in the country's currency.
    let services = app.get(key, "/v1/services").await;
    let mut names: Vec<&str> =
        services.body["items"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["Colour", "Haircut", "Manicure"]);
    assert_eq!(services.body["items"][0]["price"]["currency"], "GBP");
    let members = app.get(key, "/v1/team-members").await;
    assert_eq!(members.body["items"][0]["role"], "owner");
    assert_eq!(members.body["items"][0]["email"], "you@example.com");

    // The code is used up.
    let again = app.anon("/v1/signup/verify", json!({"requestId": request_id, "code": code})).await;
    assert_eq!((again.status, again.code()), (StatusCode::GONE, "request_used"));
}

#[tokio::test]
async fn an_mcp_client_without_a_key_sees_only_the_no_key_tools_and_can_sign_up_through_the_mailbox_folder() {
    let app = TestApp::spawn().await;
    let (status, listed) = app.rpc(None, "/mcp", "tools/list", json!({}), &[]).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let mut names: Vec<&str> =
        listed["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "accept_team_invite_request",
            "accept_team_invite_verify",
            "register_organisation_request",
            "register_organisation_verify"
        ]
    );
    let request_tool = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "register_organisation_request")
        .unwrap();
    assert_eq!(request_tool["annotations"]["openWorldHint"], true, "it sends email");
    assert!(request_tool["inputSchema"]["properties"].get("idempotencyKey").is_none());

    // Everything else is refused without a key, over MCP and REST.
    // A keyed tool without a key: on /mcp the 401 that starts an OAuth client's sign-in (see
    // oauth.rs); on the keyless session path an error result the client can read.
    let (status, _) =
        app.rpc(None, "/mcp", "tools/call", json!({"name": "list_customers", "arguments": {}}), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) =
        app.rpc(None, "/mcp/public", "tools/call", json!({"name": "list_customers", "arguments": {}}), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refused = body["result"].clone();
    assert_eq!(refused["isError"], true);
    assert_eq!(crate::mcp::problem(&refused)["code"], "unauthenticated");
    let rest = app.call(None, Method::GET, "/v1/customers", None).await;
    assert_eq!(rest.status, StatusCode::UNAUTHORIZED);
    // A bad key is still a 401, not an anonymous session.
    let (status, _) = app.rpc(Some("fav_mcp_wrong"), "/mcp", "tools/list", json!({}), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let started = app
        .anon_tool(
            "register_organisation_request",
            json!({"email": "ana@example.org", "organisationName": "Ana Tutoring", "industry": "tutoring", "country": "US"}),
        )
        .await;
    assert_eq!(started["isError"], false, "{started}");
    let request_id = started["structuredContent"]["requestId"].as_str().unwrap().to_string();
    let code = app.latest_code("ana@example.org").await;
    let done = app.anon_tool("register_organisation_verify", json!({"requestId": request_id, "code": code})).await;
    assert_eq!(done["isError"], false, "{done}");
    let key = done["structuredContent"]["apiKey"].as_str().unwrap();
    assert_eq!(done["structuredContent"]["timezone"], "America/New_York");
    assert_eq!(done["structuredContent"]["defaultCurrency"], "USD");
    let organisation = app.tool(key, "get_organisation", json!({})).await;
    assert_eq!(organisation["structuredContent"]["name"], "Ana Tutoring");
    // The audit log shows the registration came over MCP.
    let events = app.get(key, "/v1/audit-events?tableName=organisations").await;
    assert_eq!(events.body["items"][0]["via"], "mcp", "{}", events.body);
    assert_eq!(events.body["items"][0]["operation"], "register_organisation_verify");
}

#[tokio::test]
async fn a_wrong_code_five_times_closes_the_request_even_for_the_right_code() {
    let app = TestApp::spawn().await;
    let req = app.anon("/v1/signup/request", json!({"email": "bo@example.com", "organisationName": "Bo Gym"})).await;
    let request_id = req.body["requestId"].as_str().unwrap();
    let code = app.latest_code("bo@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for remaining in (0..5).rev() {
        let res = app.anon("/v1/signup/verify", json!({"requestId": request_id, "code": wrong})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        assert_eq!((res.field(), res.field_code()), ("code", "invalid_code"));
        assert_eq!(res.body["attemptsRemaining"], remaining);
    }
    let right = app.anon("/v1/signup/verify", json!({"requestId": request_id, "code": code})).await;
    assert_eq!((right.status, right.code()), (StatusCode::GONE, "too_many_attempts"), "{}", right.body);
    assert_eq!(app.count("app.organisations", None).await, 0);
    // Concurrent guesses cannot exceed the five attempts either: the counter is in the row.
    let attempts: i32 =
        app.admin().await.query_one("select attempts from app.signup_requests", &[]).await.unwrap().get(0);
    assert_eq!(attempts, 5);
}

#[tokio::test]
async fn concurrent_guesses_get_five_attempts_in_total() {
    let app = TestApp::spawn().await;
    let req = app.anon("/v1/signup/request", json!({"email": "cy@example.com", "organisationName": "Cy Cafe"})).await;
    let request_id = req.body["requestId"].as_str().unwrap().to_string();
    let code = app.latest_code("cy@example.com").await;
    let guesses = (0..12).map(|i| format!("{:06}", (code.parse::<u32>().unwrap() + 1 + i) % 1_000_000));
    let calls = guesses.map(|guess| app.anon("/v1/signup/verify", json!({"requestId": request_id, "code": guess})));
    let results = futures_util::future::join_all(calls).await;
    let wrong = results.iter().filter(|r| r.status == StatusCode::UNPROCESSABLE_ENTITY).count();
    let closed = results.iter().filter(|r| r.code() == "too_many_attempts").count();
    assert_eq!((wrong, closed), (5, 7));
}

#[tokio::test]
async fn an_expired_code_and_a_superseded_request_are_refused_with_their_own_codes() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "di@example.com", "organisationName": "Di Salon"});
    let first = app.anon("/v1/signup/request", body.clone()).await;
    let first_code = app.latest_code("di@example.com").await;
    let second = app.anon("/v1/signup/request", body).await;
    let second_code = app.latest_code("di@example.com").await;
    let old = app.anon("/v1/signup/verify", json!({"requestId": first.body["requestId"], "code": first_code})).await;
    assert_eq!((old.status, old.code()), (StatusCode::GONE, "request_superseded"), "{}", old.body);

    app.admin()
        .await
        .execute(
            "update app.signup_requests set expires_at = now() - interval '1 second' where superseded_at is null",
            &[],
        )
        .await
        .unwrap();
    let expired =
        app.anon("/v1/signup/verify", json!({"requestId": second.body["requestId"], "code": second_code})).await;
    assert_eq!((expired.status, expired.code()), (StatusCode::GONE, "code_expired"), "{}", expired.body);
    let unknown = app.anon("/v1/signup/verify", json!({"requestId": "signup_req_nope", "code": "123456"})).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "signup_request_not_found"));
    assert_eq!(app.count("app.organisations", None).await, 0);
}

#[tokio::test]
async fn an_email_that_already_owns_an_organisation_gets_the_same_answer_and_a_notice_instead_of_a_code() {
    let app = TestApp::spawn().await;
    app.signup("owner@example.com", "First Org", None).await;
    let fresh = app.anon("/v1/signup/request", json!({"email": "new@example.com", "organisationName": "New"})).await;
    let existing =
        app.anon("/v1/signup/request", json!({"email": "owner@example.com", "organisationName": "Second"})).await;
    assert_eq!(fresh.status, existing.status);
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&fresh.body), keys(&existing.body));
    let mails = app.mails_to("owner@example.com").await;
    let (subject, text) = mails.last().unwrap();
    assert!(subject.contains("tried to register"), "{subject}");
    assert_eq!(code_in(text), None, "a notice carries no code: {text}");
    // No code can complete that request: whatever is guessed, no second organisation.
    let guess = app.anon("/v1/signup/verify", json!({"requestId": existing.body["requestId"], "code": "123456"})).await;
    assert_eq!(guess.field_code(), "invalid_code");
    assert_eq!(app.count("app.organisations", None).await, 1);
}

#[tokio::test]
async fn bad_registration_input_gets_a_clear_code_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let base = json!({"email": "ok@example.com", "organisationName": "Fine Name"});
    let cases = [
        (json!({"email": "not-an-email"}), "email", "invalid_email"),
        (json!({"organisationName": "A"}), "organisationName", "too_short"),
        (json!({"organisationName": "x".repeat(81)}), "organisationName", "too_long"),
        (json!({"industry": "mining"}), "industry", "invalid_value"),
        (json!({"country": "XX"}), "country", "unknown_country"),
        (json!({"country": "GBR"}), "country", "invalid_format"),
        (json!({"timezone": "Mars/Olympus"}), "timezone", "invalid_timezone"),
        (json!({"plan": "pro"}), "plan", "unknown_field"),
    ];
    for (patch, field, code) in cases {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app.anon("/v1/signup/request", body).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", res.body);
        assert_eq!((res.field(), res.field_code()), (field, code), "{}", res.body);
    }
    let code = app.anon("/v1/signup/verify", json!({"requestId": "signup_req_x", "code": "12345"})).await;
    assert_eq!((code.field(), code.field_code()), ("code", "invalid_code_format"));
    assert_eq!(app.count("app.signup_requests", None).await, 0);
    assert!(app.mails_to("ok@example.com").await.is_empty());
}

fn limited(emails_per_ip: u32, per_email: u32, checks: u32) -> ServerSettings {
    let mut settings = relaxed();
    settings.abuse.code_emails_per_ip_per_hour = emails_per_ip;
    settings.abuse.signups_per_email_per_hour = per_email;
    settings.abuse.code_checks_per_ip_per_hour = checks;
    settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    settings
}

#[tokio::test]
async fn registration_requests_are_limited_per_address_with_retry_after_over_rest_and_mcp() {
    let app = TestApp::spawn_with(limited(3, 0, 0)).await;
    for i in 0..3 {
        let res = app
            .anon("/v1/signup/request", json!({"email": format!("p{i}@example.com"), "organisationName": "Org"}))
            .await;
        assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    }
    let over = app.anon("/v1/signup/request", json!({"email": "p9@example.com", "organisationName": "Org"})).await;
    assert_eq!((over.status, over.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let retry: u64 = over.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 3600, "{retry}");
    assert_eq!(over.body["retryAfterSeconds"], retry);
    assert!(app.mails_to("p9@example.com").await.is_empty(), "no mail over the limit");

    let over_mcp = app
        .anon_tool("register_organisation_request", json!({"email": "p9@example.com", "organisationName": "Org"}))
        .await;
    assert_eq!(over_mcp["isError"], true);
    let limited = crate::mcp::problem(&over_mcp);
    assert_eq!(limited["code"], "rate_limited");
    assert!(limited["retryAfterSeconds"].as_u64().unwrap() > 0);

    // Another client address (behind the trusted proxy) has its own budget.
    let other = app
        .call_with(
            None,
            Method::POST,
            "/v1/signup/request",
            Some(json!({"email": "q@example.com", "organisationName": "Org"})),
            &[("X-Forwarded-For", "203.0.113.5")],
        )
        .await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "{}", other.body);
}

#[tokio::test]
async fn requests_per_email_are_bounded_in_the_database_across_server_restarts() {
    let app = TestApp::spawn_with(limited(0, 2, 0)).await;
    async fn ask(app: &TestApp, ip: &str) -> crate::common::Res {
        let body = json!({"email": "same@example.com", "organisationName": "Org"});
        app.call_with(None, Method::POST, "/v1/signup/request", Some(body), &[("X-Forwarded-For", ip)]).await
    }
    assert_eq!(ask(&app, "198.51.100.1").await.status, StatusCode::ACCEPTED);
    assert_eq!(ask(&app, "198.51.100.2").await.status, StatusCode::ACCEPTED);
    let over = ask(&app, "198.51.100.3").await;
    assert_eq!((over.status, over.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    // A second server process (or a restart) forgets its in-memory counts; the database does not.
    let restarted = TestApp::spawn_on(app.dbname.clone(), limited(0, 2, 0)).await;
    let still = ask(&restarted, "198.51.100.4").await;
    assert_eq!((still.status, still.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"), "{}", still.body);
    assert!(still.headers.contains_key("retry-after"));
    assert_eq!(app.count("app.signup_requests", None).await, 2);
}

#[tokio::test]
async fn code_checks_are_limited_per_address() {
    let app = TestApp::spawn_with(limited(0, 0, 2)).await;
    for _ in 0..2 {
        let res = app.anon("/v1/signup/verify", json!({"requestId": "signup_req_x", "code": "123456"})).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    }
    let over = app.anon("/v1/signup/verify", json!({"requestId": "signup_req_x", "code": "123456"})).await;
    assert_eq!((over.status, over.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
}
