//! OAuth 2.1 for connector-style MCP clients, and the pages a person uses in the flow: what an
//! MCP client and a browser see, over HTTP, with the browser played by a cookie-keeping client
//! that does not follow redirects (the real-browser run is `tests/browser`).

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::common::{Org, TestApp};

/// A browser: keeps cookies, shows each redirect instead of following it.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

/// A page as the browser got it.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Page {
    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let at = self.text.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no csrf in {}", self.text));
        let rest = &self.text[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        let http =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, base: app.base.clone() }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.base) }
    }

    async fn page(res: reqwest::Response) -> Page {
        let status = res.status();
        let headers = res.headers().clone();
        let location = headers.get("location").map(|l| l.to_str().unwrap().to_string());
        Page { status, location, headers, text: res.text().await.unwrap() }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::page(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Self::page(self.http.post(self.url(path)).form(form).send().await.unwrap()).await
    }

    /// Signs in as `email` through the pages (the code from the mailbox), starting at `next`.
    pub async fn sign_in(&self, app: &TestApp, email: &str, next: &str) -> Page {
        let page = self.get(&format!("/sign-in?next={}", enc(next))).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let sent = self.post("/sign-in", &[("csrf", &page.csrf()), ("next", next), ("email", email)]).await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text);
        let code_page = self.get(sent.location.as_deref().unwrap()).await;
        let code = app.latest_code(email).await;
        let done = self.post("/sign-in/code", &[("csrf", &code_page.csrf()), ("next", next), ("code", &code)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
        done
    }
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A PKCE pair: (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The query parameters of a redirect.
pub fn query(location: &str) -> std::collections::HashMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

pub const REDIRECT: &str = "http://127.0.0.1:33418/callback";

pub async fn register(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let res = app.http.post(format!("{}/oauth/register", app.base)).json(&body).send().await.unwrap();
    (res.status(), res.json().await.unwrap())
}

pub async fn public_client(app: &TestApp, name: &str) -> String {
    let (status, body) = register(
        app,
        json!({"client_name": name, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["client_id"].as_str().unwrap().to_string()
}

pub async fn owner_email(app: &TestApp, org: &Org) -> String {
    app.admin().await.query_one("select email from app.users where id = $1", &[&org.owner_id]).await.unwrap().get(0)
}

/// The authorization URL of a client's request.
pub fn authorize_url(client_id: &str, redirect: &str, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "xyz");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/oauth/authorize?{}", q.finish())
}

/// Consents on the page at `url` (signed in already) with `untick` left unticked; returns the
/// redirect's location.
pub async fn consent(browser: &Browser, url: &str, untick: &[&str]) -> String {
    let page = browser.get(url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let form = consent_form(&page, untick, "allow");
    let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let done = browser.post("/oauth/authorize", &refs).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    done.location.unwrap()
}

/// The fields the consent form would send: its hidden inputs, the ticked scopes and the button.
pub fn consent_form(page: &Page, untick: &[&str], decision: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for input in page.text.split("<input").skip(1) {
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            input.find(&key).map(|i| {
                let rest = &input[i + key.len()..];
                html_unescape(&rest[..rest.find('"').unwrap()])
            })
        };
        let (Some(kind), Some(name)) = (attr("type"), attr("name")) else { continue };
        let value = attr("value").unwrap_or_default();
        match kind.as_str() {
            "hidden" => fields.push((name, value)),
            "checkbox" if !untick.contains(&value.as_str()) => fields.push((name, value)),
            _ => {}
        }
    }
    fields.push(("decision".into(), decision.into()));
    fields
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&amp;", "&")
}

pub async fn exchange(app: &TestApp, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let res = app.http.post(format!("{}/oauth/token", app.base)).form(fields).send().await.unwrap();
    let status = res.status();
    assert_eq!(res.headers()["cache-control"], "no-store");
    (status, res.json().await.unwrap())
}

/// The authorization code grant for a public client.
pub async fn exchange_code(
    app: &TestApp,
    client: &str,
    code: &str,
    redirect: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    exchange(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("client_id", client),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// A person's whole flow for a public client: sign in, consent, exchange. Returns the tokens.
pub async fn connect(app: &TestApp, org: &Org, extra: &[(&str, &str)], untick: &[&str]) -> (String, Value) {
    let client = public_client(app, "Claude").await;
    let (verifier, challenge) = pkce();
    let browser = Browser::new(app);
    let url = authorize_url(&client, REDIRECT, &challenge, extra);
    browser.sign_in(app, &owner_email(app, org).await, &url).await;
    let location = consent(&browser, &url, untick).await;
    let code = query(&location)["code"].clone();
    let (status, tokens) = exchange_code(app, &client, &code, REDIRECT, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    (client, tokens)
}

/// An OAuth client connected to `org` by its owner: a registered client, a signed-in browser
/// session, a used code, and the grant's tokens. Returns the access token.
pub async fn oauth_fixture(app: &TestApp, org: &Org) -> String {
    let (_, tokens) = connect(app, org, &[], &[]).await;
    tokens["access_token"].as_str().unwrap().to_string()
}

async fn mcp(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    params: Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = app
        .http
        .post(format!("{}/mcp", app.base))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn a_connector_finds_the_server_signs_a_person_in_by_email_code_gets_consent_and_calls_tools() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    // 1. Adding http://…/mcp: without a token the client is told where to start.
    let initialize =
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}});
    let (status, headers, _) = mcp(&app, None, "initialize", initialize.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = headers["www-authenticate"].to_str().unwrap();
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", app.base);
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")), "{challenge}");
    // 2. Discovery: RFC 9728, then RFC 8414.
    let resource: Value = app.http.get(&metadata_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(resource["resource"], format!("{}/mcp", app.base));
    assert_eq!(resource["authorization_servers"], json!([app.base]));
    let server: Value = app
        .http
        .get(format!("{}/.well-known/oauth-authorization-server", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(server["issuer"], app.base);
    assert_eq!(server["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(server["registration_endpoint"], format!("{}/oauth/register", app.base));
    let root: Value = app
        .http
        .get(format!("{}/.well-known/oauth-protected-resource", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root["resource"], app.base);
    // 3. Registration, then the person: sign in by code, consent, back to the client.
    let client = public_client(&app, "Claude").await;
    let (verifier, challenge) = pkce();
    let browser = Browser::new(&app);
    let url = authorize_url(&client, REDIRECT, &challenge, &[("resource", &format!("{}/mcp", app.base))]);
    let first = browser.get(&url).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert!(first.location.as_deref().unwrap().starts_with("/sign-in?next="), "{first:?}");
    let signed_in = browser.sign_in(&app, &owner_email(&app, &org).await, &url).await;
    assert_eq!(signed_in.location.as_deref(), Some(url.as_str()));
    let page = browser.get(&url).await;
    assert!(page.text.contains("Claude") && page.text.contains("Glow"), "{}", page.text);
    assert!(page.text.contains("Create and change customers and their notes"), "{}", page.text);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self' http://127.0.0.1:33418"), "{csp}");
    let location = consent(&browser, &url, &[]).await;
    assert!(location.starts_with(REDIRECT), "{location}");
    let back = query(&location);
    assert_eq!(back["state"], "xyz");
    assert_eq!(back["iss"], app.base);
    // 4. The token.
    let (status, tokens) = exchange(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &back["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", &client),
            ("code_verifier", &verifier),
            ("resource", &format!("{}/mcp", app.base)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().unwrap();
    assert!(access.starts_with("fav_oat_"));
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("fav_ort_"));
    // 5. Tools, as the person who consented.
    let (status, _, listed) = mcp(&app, Some(access), "tools/list", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert!(listed["result"]["tools"].as_array().unwrap().len() > 100, "{listed}");
    let created = app.post(access, "/v1/customers", json!({"name": "Ada"})).await;
    assert_eq!(created.status, StatusCode::UNAUTHORIZED, "a token for /mcp is not one for REST: {}", created.body);
    assert_eq!(created.code(), "invalid_token");
    assert!(created.headers["www-authenticate"].to_str().unwrap().contains("resource_metadata="));
    let (status, _, called) =
        mcp(&app, Some(access), "tools/call", json!({"name": "create_customer", "arguments": {"name": "Ada"}})).await;
    assert_eq!(status, StatusCode::OK, "{called}");
    assert_eq!(called["result"]["structuredContent"]["name"], "Ada", "{called}");
    // The customer's audit row names the grant (an agent key of the owner) and MCP.
    let admin = app.admin().await;
    let row = admin
        .query_one(
            "select e.via, k.name, k.kind, k.oauth_client_id is not null from audit.event e
               join app.api_keys k on k.org_id = e.org_id and k.id = e.actor_key_id
              where e.org_id = $1 and e.table_name = 'customers'",
            &[&org.id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "mcp");
    assert_eq!(row.get::<_, String>(1), "Claude");
    assert_eq!(row.get::<_, String>(2), "agent");
    assert!(row.get::<_, bool>(3));
}

#[tokio::test]
async fn without_a_key_mcp_answers_401_with_the_challenge_except_the_no_key_calls_and_keys_keep_working() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (status, headers, body) =
        mcp(&app, None, "tools/call", json!({"name": "list_customers", "arguments": {}})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(headers["www-authenticate"].to_str().unwrap().contains("resource_metadata="), "{headers:?}");
    let (status, _, body) = mcp(&app, None, "tools/list", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["tools"].as_array().unwrap().len(), 4, "{body}");
    let (status, _, body) = mcp(
        &app,
        None,
        "tools/call",
        json!({"name": "accept_team_invite_request", "arguments": {"token": "fav_inv_nothing"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["isError"], true, "{body}");
    // A key works as before.
    let (status, _, body) =
        mcp(&app, Some(&org.key), "tools/call", json!({"name": "list_customers", "arguments": {}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["result"]["isError"], true, "{body}");
    // The public path keeps the keyless handshake for registration.
    let res = app
        .http
        .post(format!("{}/mcp/public", app.base))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // REST's 401s carry the challenge too.
    let res = app.call(None, reqwest::Method::GET, "/v1/customers", None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let challenge = res.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains(&format!("resource_metadata=\"{}/.well-known/oauth-protected-resource\"", app.base)));
}

#[tokio::test]
async fn pkce_s256_is_required_and_verified() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let client = public_client(&app, "Claude").await;
    let browser = Browser::new(&app);
    // No challenge, or the plain method: refused to the client before anyone signs in.
    for extra in [vec![], vec![("code_challenge_method", "plain")]] {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code").append_pair("client_id", &client).append_pair("redirect_uri", REDIRECT);
        q.append_pair("state", "s1");
        if !extra.is_empty() {
            q.append_pair("code_challenge", "abc");
        }
        for (k, v) in &extra {
            q.append_pair(k, v);
        }
        let page = browser.get(&format!("/oauth/authorize?{}", q.finish())).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        let back = query(page.location.as_deref().unwrap());
        assert_eq!(back["error"], "invalid_request", "{back:?}");
        assert_eq!(back["state"], "s1");
    }
    // A wrong verifier: refused, and the code is spent.
    let (verifier, challenge) = pkce();
    let url = authorize_url(&client, REDIRECT, &challenge, &[]);
    browser.sign_in(&app, &owner_email(&app, &org).await, &url).await;
    let code = query(&consent(&browser, &url, &[]).await)["code"].clone();
    let (other, _) = pkce();
    for wrong in [other.as_str(), "short"] {
        let (status, body) = exchange_code(&app, &client, &code, REDIRECT, wrong).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_grant", "{body}");
    }
    let (status, body) = exchange(
        &app,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("client_id", &client)],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    let (status, body) = exchange_code(&app, &client, &code, REDIRECT, &verifier).await;
    assert_eq!(status, StatusCode::OK, "the right verifier still works: {body}");
}

#[tokio::test]
async fn a_code_is_good_once_and_using_it_again_revokes_what_it_gave() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let client = public_client(&app, "Claude").await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let url = authorize_url(&client, REDIRECT, &challenge, &[]);
    browser.sign_in(&app, &owner_email(&app, &org).await, &url).await;
    let code = query(&consent(&browser, &url, &[]).await)["code"].clone();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, tokens) = exchange(&app, &fields).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.get(access, "/v1/customers").await.status, StatusCode::OK);
    let (status, again) = exchange(&app, &fields).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(again["error"], "invalid_grant");
    let res = app.get(access, "/v1/customers").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "the first exchange's token is revoked: {}", res.body);
    // Another client cannot use a code either.
    let thief = public_client(&app, "Thief").await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(&client, REDIRECT, &challenge, &[]);
    let code = query(&consent(&browser, &url, &[]).await)["code"].clone();
    let (status, body) = exchange_code(&app, &thief, &code, REDIRECT, &verifier).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
}

#[tokio::test]
async fn redirect_uris_match_exactly_except_a_loopback_port() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let client = public_client(&app, "Claude").await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    // A redirect the client did not register: a page for the person, never a redirect.
    for wrong in ["http://127.0.0.1:33418/other", "https://evil.example/callback", "http://127.0.0.1:33418/callback/x"]
    {
        let page = browser.get(&authorize_url(&client, wrong, &challenge, &[])).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{wrong}");
        assert!(page.location.is_none());
        assert!(page.text.contains("did not register"), "{}", page.text);
    }
    // Unknown client: a page too.
    let page = browser.get(&authorize_url("fav_client_nope", REDIRECT, &challenge, &[])).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // A loopback redirect on another port (a native client's listener): allowed.
    let moved = "http://127.0.0.1:50123/callback";
    let url = authorize_url(&client, moved, &challenge, &[]);
    browser.sign_in(&app, &owner_email(&app, &org).await, &url).await;
    let location = consent(&browser, &url, &[]).await;
    assert!(location.starts_with(moved), "{location}");
    let code = query(&location)["code"].clone();
    // The exchange must name the same redirect URI.
    let (status, body) = exchange_code(&app, &client, &code, REDIRECT, &verifier).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    // Registration refuses what can never be a redirect URI.
    for uri in ["http://example.com/cb", "javascript:alert(1)", "https://a.example/cb#frag", "not a uri"] {
        let (status, body) =
            register(&app, json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"], "invalid_redirect_uri", "{body}");
    }
    let (status, body) = register(
        &app,
        json!({"redirect_uris": ["cursor://anysphere.cursor-retrieval/oauth/callback"],
                                              "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_token_is_accepted_only_for_the_resource_it_was_granted_for() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    // For the whole server: REST and /mcp.
    let (_, tokens) = connect(&app, &org, &[("resource", &format!("{}/", app.base))], &[]).await;
    let whole = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.get(whole, "/v1/customers").await.status, StatusCode::OK);
    let (status, _, body) =
        mcp(&app, Some(whole), "tools/call", json!({"name": "list_customers", "arguments": {}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // For /mcp alone: not REST.
    let (_, tokens) = connect(&app, &org, &[("resource", &format!("{}/mcp", app.base))], &[]).await;
    let mcp_only = tokens["access_token"].as_str().unwrap();
    let res = app.get(mcp_only, "/v1/customers").await;
    assert_eq!((res.status, res.code()), (StatusCode::UNAUTHORIZED, "invalid_token"), "{}", res.body);
    // Presented to the server under another name (another resource): refused.
    let res = app
        .http
        .get(format!("{}/v1/customers", app.base))
        .header("host", "favcrm.example")
        .bearer_auth(whole)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Another server's resource: not issued at all.
    let client = public_client(&app, "Claude").await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let page =
        browser.get(&authorize_url(&client, REDIRECT, &challenge, &[("resource", "https://other.example/mcp")])).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(query(page.location.as_deref().unwrap())["error"], "invalid_target");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_whole_grant() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (client, tokens) = connect(&app, &org, &[], &[]).await;
    let first = tokens["refresh_token"].as_str().unwrap().to_string();
    let refresh = |token: String| {
        let app = &app;
        let client = client.clone();
        async move {
            exchange(app, &[("grant_type", "refresh_token"), ("refresh_token", &token), ("client_id", &client)]).await
        }
    };
    let (status, second) = refresh(first.clone()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh_token"], first.as_str());
    let access = second["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get(&access, "/v1/customers").await.status, StatusCode::OK);
    // An access token past its hour is refused, with the challenge that sends the client to refresh.
    let (_, third) = refresh(second["refresh_token"].as_str().unwrap().to_string()).await;
    let expiring = third["access_token"].as_str().unwrap().to_string();
    app.admin()
        .await
        .execute(
            "update app.oauth_tokens set expires_at = now() - interval '1 second'
              where token_digest = sha256(convert_to($1, 'UTF8'))",
            &[&expiring],
        )
        .await
        .unwrap();
    let res = app.get(&expiring, "/v1/customers").await;
    assert_eq!((res.status, res.code()), (StatusCode::UNAUTHORIZED, "invalid_api_key"), "{}", res.body);
    assert!(res.headers["www-authenticate"].to_str().unwrap().contains("resource_metadata="));
    let second = third;
    // The first refresh token again: someone else has it. Everything of the grant stops.
    let (status, body) = refresh(first).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    assert_eq!(app.get(&access, "/v1/customers").await.status, StatusCode::UNAUTHORIZED);
    let (status, body) = refresh(second["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    // Another client cannot use someone's refresh token.
    let (_, tokens) = connect(&app, &org, &[], &[]).await;
    let (status, body) = exchange(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
}

#[tokio::test]
async fn consent_needs_a_fresh_sign_in_and_the_pages_csrf_token() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let client = public_client(&app, "Claude").await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let url = authorize_url(&client, REDIRECT, &challenge, &[]);
    browser.sign_in(&app, &owner_email(&app, &org).await, &url).await;
    let page = browser.get(&url).await;
    // Without the token, or with another browser's: refused, no code.
    let mut form = consent_form(&page, &[], "allow");
    form.retain(|(k, _)| k != "csrf");
    let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let done = browser.post("/oauth/authorize", &refs).await;
    assert_eq!(done.status, StatusCode::FORBIDDEN, "{}", done.text);
    let other = Browser::new(&app);
    let other_page = other.get("/sign-in").await;
    let mut forged = consent_form(&page, &[], "allow");
    for (k, v) in forged.iter_mut() {
        if k == "csrf" {
            *v = other_page.csrf();
        }
    }
    let refs: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(browser.post("/oauth/authorize", &refs).await.status, StatusCode::FORBIDDEN);
    // A sign-in 16 minutes old: the consent page sends the person to sign in again, and a
    // consent posted from an old page issues nothing.
    app.admin()
        .await
        .execute("update app.web_sessions set signed_in_at = now() - interval '16 minutes'", &[])
        .await
        .unwrap();
    let again = browser.get(&url).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert!(again.location.unwrap().starts_with("/sign-in?next="));
    let form = consent_form(&page, &[], "allow");
    let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let done = browser.post("/oauth/authorize", &refs).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(done.location.unwrap().starts_with("/sign-in?next="));
    let codes: i64 = app.admin().await.query_one("select count(*) from app.oauth_codes", &[]).await.unwrap().get(0);
    assert_eq!(codes, 0);
    // Denying sends the client access_denied.
    browser.sign_in(&app, &owner_email(&app, &org).await, &url).await;
    let page = browser.get(&url).await;
    let form = consent_form(&page, &[], "deny");
    let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let done = browser.post("/oauth/authorize", &refs).await;
    assert_eq!(query(done.location.as_deref().unwrap())["error"], "access_denied");
}

#[tokio::test]
async fn an_oauth_token_holds_exactly_the_scopes_consented_within_the_persons_role() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (_, tokens) =
        connect(&app, &org, &[("scope", "customers:read customers:write bookings:read")], &["customers:write"]).await;
    assert_eq!(tokens["scope"], "bookings:read customers:read");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.get(access, "/v1/customers").await.status, StatusCode::OK);
    let res = app.post(access, "/v1/customers", json!({"name": "Ada"})).await;
    assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "insufficient_scope"), "{}", res.body);
    let (_, _, listed) = mcp(&app, Some(access), "tools/list", json!({})).await;
    let names: Vec<&str> =
        listed["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"list_customers") && !names.contains(&"create_customer"), "{names:?}");
    // A staff member consenting to everything gets what staff may hold, no more.
    let staff = app.insert_member(&org, "staff").await;
    let email: String =
        app.admin().await.query_one("select email from app.users where id = $1", &[&staff]).await.unwrap().get(0);
    let client = public_client(&app, "Claude").await;
    let (verifier, challenge) = pkce();
    let browser = Browser::new(&app);
    let url = authorize_url(&client, REDIRECT, &challenge, &[]);
    browser.sign_in(&app, &email, &url).await;
    let page = browser.get(&url).await;
    assert!(page.text.contains("which it will not get"), "{}", page.text);
    let code = query(&consent(&browser, &url, &[]).await)["code"].clone();
    let (_, tokens) = exchange_code(&app, &client, &code, REDIRECT, &verifier).await;
    let scope = tokens["scope"].as_str().unwrap();
    assert!(scope.contains("customers:write") && !scope.contains("keys:") && !scope.contains("audit:"), "{scope}");
    let res = app.get(tokens["access_token"].as_str().unwrap(), "/v1/api-keys").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    // A scope that does not exist: refused to the client.
    let page = browser.get(&authorize_url(&client, REDIRECT, &challenge, &[("scope", "everything:write")])).await;
    assert_eq!(query(page.location.as_deref().unwrap())["error"], "invalid_scope");
}

#[tokio::test]
async fn revocation_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    // RFC 7009, an access token: that token only.
    let (client, tokens) = connect(&app, &org, &[], &[]).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.get(access, "/v1/customers").await.status, StatusCode::OK);
    let res = app
        .http
        .post(format!("{}/oauth/revoke", app.base))
        .form(&[("token", access), ("client_id", &client)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.get(access, "/v1/customers").await.status, StatusCode::UNAUTHORIZED);
    // A refresh token: the whole grant.
    let (status, renewed) = exchange(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let access = renewed["access_token"].as_str().unwrap();
    let res = app
        .http
        .post(format!("{}/oauth/revoke", app.base))
        .form(&[("token", renewed["refresh_token"].as_str().unwrap()), ("client_id", &client)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.get(access, "/v1/customers").await.status, StatusCode::UNAUTHORIZED);
    // An unknown token: 200 all the same.
    let res = app
        .http
        .post(format!("{}/oauth/revoke", app.base))
        .form(&[("token", "fav_oat_nothing"), ("client_id", &client)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The person revokes it on the connected apps page.
    let (_, tokens) = connect(&app, &org, &[], &[]).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.get(access, "/v1/customers").await.status, StatusCode::OK);
    let browser = Browser::new(&app);
    browser.sign_in(&app, &owner_email(&app, &org).await, "/apps").await;
    let page = browser.get("/apps").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Revoke Claude"), "{}", page.text);
    let at = page.text.find("action=\"/apps/").unwrap() + 8;
    let action = &page.text[at..at + page.text[at..].find('"').unwrap()];
    let done = browser.post(action, &[("csrf", &page.csrf())]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(app.get(access, "/v1/customers").await.status, StatusCode::UNAUTHORIZED);
    // An owner's revoke_api_key works on a grant as on any key.
    let (_, tokens) = connect(&app, &org, &[], &[]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let keys = app.get(&org.key, "/v1/api-keys").await;
    let grant =
        keys.body["items"].as_array().unwrap().iter().find(|k| k["name"] == "Claude" && k["status"] == "active");
    let grant = grant.unwrap_or_else(|| panic!("{}", keys.body))["id"].as_str().unwrap().to_string();
    app.delete_confirmed(&org.key, &format!("/v1/api-keys/{grant}")).await;
    assert_eq!(app.get(access, "/v1/customers").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signing_in_takes_the_emailed_code_within_its_attempts_and_an_unknown_email_gets_no_code() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let email = owner_email(&app, &org).await;
    let browser = Browser::new(&app);
    let page = browser.get("/sign-in").await;
    let sent = browser.post("/sign-in", &[("csrf", &page.csrf()), ("email", &email)]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let code = app.latest_code(&email).await;
    let code_page = browser.get(sent.location.as_deref().unwrap()).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (1..5).rev() {
        let res = browser.post("/sign-in/code", &[("csrf", &code_page.csrf()), ("code", wrong)]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text.contains(&format!("{left} attempt(s) left")), "{}", res.text);
    }
    let res = browser.post("/sign-in/code", &[("csrf", &code_page.csrf()), ("code", wrong)]).await;
    assert!(res.text.contains("no attempts are left"), "{}", res.text);
    let res = browser.post("/sign-in/code", &[("csrf", &code_page.csrf()), ("code", &code)]).await;
    assert_eq!(res.status, StatusCode::GONE, "the right code after five wrong ones: {}", res.text);
    // Signing in replaces the browser's secret.
    let before = browser.get("/sign-in").await;
    let sent = browser.post("/sign-in", &[("csrf", &before.csrf()), ("email", &email)]).await;
    let code = app.latest_code(&email).await;
    let done = browser.post("/sign-in/code", &[("csrf", &before.csrf()), ("code", &code)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{sent:?} {}", done.text);
    let cookie = done.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert_ne!(browser.get("/apps").await.csrf(), before.csrf());
    // An email no account has: a notice, no code, and nothing signs in.
    let stranger = Browser::new(&app);
    let page = stranger.get("/sign-in").await;
    let sent = stranger.post("/sign-in", &[("csrf", &page.csrf()), ("email", "nobody@example.com")]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "the same answer: {}", sent.text);
    let mails = app.mails_to("nobody@example.com").await;
    assert_eq!(mails.len(), 1);
    assert!(crate::common::code_in(&mails[0].1).is_none(), "{mails:?}");
    let res = stranger.post("/sign-in/code", &[("csrf", &page.csrf()), ("code", "123456")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(stranger.get("/apps").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn dynamic_registration_answers_as_rfc_7591_and_a_confidential_client_needs_its_secret() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (status, body) = register(&app, json!({"client_name": "Desk", "redirect_uris": [REDIRECT]})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic", "RFC 7591's default");
    let secret = body["client_secret"].as_str().unwrap().to_string();
    let client = body["client_id"].as_str().unwrap().to_string();
    assert_eq!(body["grant_types"], json!(["authorization_code", "refresh_token"]));
    let (status, body) =
        register(&app, json!({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]})).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")));
    let (status, body) = register(&app, json!({"client_name": "x"})).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri")));
    // The code goes only to the client that proves itself.
    let (verifier, challenge) = pkce();
    let browser = Browser::new(&app);
    let url = authorize_url(&client, REDIRECT, &challenge, &[]);
    browser.sign_in(&app, &owner_email(&app, &org).await, &url).await;
    let code = query(&consent(&browser, &url, &[]).await)["code"].clone();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let res = app
        .http
        .post(format!("{}/oauth/token", app.base))
        .basic_auth(&client, Some("wrong"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_client");
    let res = app
        .http
        .post(format!("{}/oauth/token", app.base))
        .basic_auth(&client, Some(&secret))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn a_person_approves_an_agents_message_in_the_inbox_and_exactly_its_snapshot_is_sent() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = crate::approvals::consenting_customer(&app, &org, "Amy").await;
    let template = crate::approvals::marketing_template(&app, &org).await;
    let approval = crate::approvals::asked(&app, &org, &amy, &template).await;
    let rejected = crate::approvals::asked(&app, &org, &amy, &template).await;
    let browser = Browser::new(&app);
    browser.sign_in(&app, &owner_email(&app, &org).await, "/inbox").await;
    let page = browser.get("/inbox").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("Hello Amy, 20% off all week.") && page.text.contains("amy@example.com"),
        "{}",
        page.text
    );
    let id = approval["id"].as_str().unwrap();
    // Without the page's token: nothing happens.
    assert_eq!(browser.post(&format!("/inbox/{id}/approve"), &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("app.messages", Some(org.id)).await, 0);
    let done = browser.post(&format!("/inbox/{id}/approve"), &[("csrf", &page.csrf())]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let after = browser.get(done.location.as_deref().unwrap()).await;
    assert!(after.text.contains("Approved and carried out."), "{}", after.text);
    let mails = app.mails_to("amy@example.com").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].1.contains("Hello Amy, 20% off all week."), "{}", mails[0].1);
    let row = app
        .admin()
        .await
        .query_one("select status, decided_via, decided_by_user_id, decided_by_key_id from app.approvals where id = $1::text::uuid", &[&id])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "approved");
    assert_eq!(row.get::<_, String>(1), "web");
    assert_eq!(row.get::<_, Uuid>(2), org.owner_id);
    assert_eq!(row.get::<_, Option<Uuid>>(3), None, "a person, no key");
    // Rejecting: nothing is sent.
    let reject = format!("/inbox/{}/reject", rejected["id"].as_str().unwrap());
    let done = browser.post(&reject, &[("csrf", &page.csrf())]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(app.mails_to("amy@example.com").await.len(), 1);
    let listed = app.get(&crate::approvals::app_key(&app, &org).await, "/v1/approvals?status=rejected").await;
    assert_eq!(listed.body["items"][0]["id"], rejected["id"]);
    // Staff see no approvals: their inbox says so.
    let staff = app.insert_member(&org, "staff").await;
    let email: String =
        app.admin().await.query_one("select email from app.users where id = $1", &[&staff]).await.unwrap().get(0);
    let theirs = Browser::new(&app);
    theirs.sign_in(&app, &email, "/inbox").await;
    let page = theirs.get("/inbox").await;
    assert!(page.text.contains("cannot see approvals"), "{}", page.text);
}

#[tokio::test]
async fn a_client_named_by_its_metadata_document_url_needs_no_registration() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let host = MockServer::start().await;
    let client_id = format!("{}/oauth/client.json", host.uri());
    Mock::given(method("GET"))
        .and(path("/oauth/client.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "client_id": client_id, "client_name": "Inspector", "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"})))
        .mount(&host)
        .await;
    let wrong_id = format!("{}/oauth/wrong.json", host.uri());
    Mock::given(method("GET"))
        .and(path("/oauth/wrong.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "client_id": "https://elsewhere.example/client.json", "redirect_uris": [REDIRECT]})))
        .mount(&host)
        .await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let url = authorize_url(&client_id, REDIRECT, &challenge, &[]);
    browser.sign_in(&app, &owner_email(&app, &org).await, &url).await;
    let page = browser.get(&url).await;
    assert!(page.text.contains("Connect Inspector"), "{}", page.text);
    let code = query(&consent(&browser, &url, &[]).await)["code"].clone();
    let (status, tokens) = exchange_code(&app, &client_id, &code, REDIRECT, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(app.get(tokens["access_token"].as_str().unwrap(), "/v1/customers").await.status, StatusCode::OK);
    // Read once within the hour.
    assert_eq!(host.received_requests().await.unwrap().len(), 1);
    // A document that names another client_id, or none at all: not a client.
    for bad in [wrong_id, format!("{}/missing.json", host.uri())] {
        let page = browser.get(&authorize_url(&bad, REDIRECT, &challenge, &[])).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.text);
        assert!(page.location.is_none());
    }
}

#[tokio::test]
async fn client_registrations_and_sign_in_codes_are_bounded_per_address_and_email_in_the_database() {
    let mut settings = crate::common::relaxed();
    settings.abuse.client_registrations_per_ip_per_hour = 2;
    settings.abuse.signups_per_email_per_hour = 1;
    let app = TestApp::spawn_with(settings).await;
    let org = app.create_org("Glow").await;
    let body = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    for _ in 0..2 {
        assert_eq!(register(&app, body.clone()).await.0, StatusCode::CREATED);
    }
    let res = app.http.post(format!("{}/oauth/register", app.base)).json(&body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 3000);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "rate_limited");
    // One sign-in code an hour for this email: the second request is refused on the page.
    let email = owner_email(&app, &org).await;
    let browser = Browser::new(&app);
    let page = browser.get("/sign-in").await;
    assert_eq!(
        browser.post("/sign-in", &[("csrf", &page.csrf()), ("email", &email)]).await.status,
        StatusCode::SEE_OTHER
    );
    let again = browser.post("/sign-in", &[("csrf", &page.csrf()), ("email", &email)]).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS, "{}", again.text);
    assert!(again.text.contains("Too many sign-in codes for this email"), "{}", again.text);
    assert_eq!(app.mails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn the_inbox_shows_a_refund_by_its_amount_and_only_those_who_may_decide_it_can() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let customer = app.customer(&org, json!({"name": "Cy"})).await.to_string();
    let invoice = crate::billing::open_invoice(&app, &org, &customer, 5000).await;
    let paid =
        app.post(&org.key, "/v1/payments", json!({"invoiceId": invoice, "amount": 5000, "method": "cash"})).await;
    let payment = paid.body["id"].as_str().unwrap().to_string();
    let res = app.post(&org.key, &format!("/v1/payments/{payment}/refunds"), json!({"reason": "unhappy"})).await;
    assert_eq!(res.code(), "approval_required", "{}", res.body);
    let approval = res.body["approvalId"].as_str().unwrap().to_string();
    let currency = res.body["approval"]["snapshot"]["refund"]["currency"].as_str().unwrap().to_string();
    // A manager sees it but may not decide a refund: the inbox says why, and nothing moves.
    let manager = app.insert_member(&org, "manager").await;
    let email: String =
        app.admin().await.query_one("select email from app.users where id = $1", &[&manager]).await.unwrap().get(0);
    let browser = Browser::new(&app);
    browser.sign_in(&app, &email, "/inbox").await;
    let page = browser.get("/inbox").await;
    let amount = favcrm::render::chart::money(5000, &currency);
    assert!(amount.contains("50.00"), "{amount}");
    assert!(page.text.contains(&amount) && page.text.contains("unhappy"), "{}", page.text);
    let done = browser.post(&format!("/inbox/{approval}/approve"), &[("csrf", &page.csrf())]).await;
    let after = browser.get(done.location.as_deref().unwrap()).await;
    assert!(after.text.contains("Only admins and owners decide on refund_payment"), "{}", after.text);
    assert_eq!(app.get(&org.key, &format!("/v1/payments/{payment}")).await.body["amountRefunded"]["amount"], 0);
    // The owner approves it: refunded once.
    let owner = Browser::new(&app);
    owner.sign_in(&app, &owner_email(&app, &org).await, "/inbox").await;
    let page = owner.get("/inbox").await;
    let done = owner.post(&format!("/inbox/{approval}/approve"), &[("csrf", &page.csrf())]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get(&org.key, &format!("/v1/payments/{payment}")).await.body["amountRefunded"]["amount"], 5000);
}
