//! The server's own pages, for people: sign in by emailed code, choose an organisation, consent
//! to an OAuth client, decide approvals in the inbox, and see or revoke connected apps.
//!
//! Server-rendered HTML ([`maud`], escaped by default), no JavaScript: every action is a form.
//! A browser is known by one cookie (`favcrm_session`: a random secret, HttpOnly, SameSite=Lax;
//! the database keeps only its SHA-256), replaced when the person signs in. Every form carries a
//! CSRF token, an HMAC of that secret under a key derived from the server's secrets key, so a
//! page elsewhere can neither read nor forge it. Pages answer with a strict Content Security
//! Policy (nothing but this server's stylesheet; forms post only here, and the consent form
//! also to the client's redirect URI), no framing, no referrer, and no caching.
//!
//! What a page may do is what the person may do: the inbox and connected apps run the same
//! operations as REST, as the signed-in person (`auth.authenticate_session`: their role, every
//! scope it allows, no key — so an agent's approval is theirs to decide).

use std::collections::HashMap;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use hmac::{Hmac, KeyInit, Mac};
use maud::{DOCTYPE, Markup, html};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::WebState;
use super::oauth::{self, Client, digest_hex};
use super::request::RequestId;
use crate::auth::{hash_code, new_code, verify_code};
use crate::call::{self, AppState};
use crate::catalog;
use crate::db::tx::{self, Call, Caller, Via, call_entry_point};
use crate::effects::outbox::ACCOUNT_MAIL_CODE;
use crate::error::ApiError;

/// The browser's cookie.
const COOKIE: &str = "favcrm_session";
const CSRF_PURPOSE: &str = "page_csrf";
/// The stylesheet, served from this server (the CSP allows no inline style).
const CSS: &str = include_str!("pages.css");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pages.css", web::get().to(stylesheet))
        .route("/sign-in", web::get().to(sign_in_page))
        .route("/sign-in", web::post().to(sign_in_start))
        .route("/sign-in/code", web::get().to(code_page))
        .route("/sign-in/code", web::post().to(code_check))
        .route("/sign-out", web::post().to(sign_out))
        .route("/organisation", web::get().to(organisation_page))
        .route("/organisation", web::post().to(organisation_choose))
        .route("/oauth/authorize", web::get().to(authorize))
        .route("/oauth/authorize", web::post().to(authorize_decide))
        .route("/inbox", web::get().to(inbox))
        .route("/inbox/{id}/{decision}", web::post().to(inbox_decide))
        .route("/apps", web::get().to(apps))
        .route("/apps/{id}/revoke", web::post().to(apps_revoke));
}

// ---------------------------------------------------------------------------------------
// The browser: cookie, CSRF, session
// ---------------------------------------------------------------------------------------

/// What a request tells about its browser: the cookie's secret (a new one when it had none).
struct Browser {
    secret: String,
    /// The secret is new: the answer must set the cookie.
    new: bool,
}

impl Browser {
    fn of(req: &HttpRequest) -> Self {
        match req.cookie(COOKIE).map(|c| c.value().to_string()).filter(|v| v.len() >= 32 && v.len() <= 128) {
            Some(secret) => Self { secret, new: false },
            None => Self { secret: super::person::new_secret(), new: true },
        }
    }

    fn digest(&self) -> String {
        digest_hex(&self.secret)
    }

    fn caller(&self) -> Caller {
        Caller::Session { digest: Sha256::digest(self.secret.as_bytes()).into() }
    }
}

fn cookie(req: &HttpRequest, secret: &str) -> Cookie<'static> {
    Cookie::build(COOKIE, secret.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(oauth::base(req).starts_with("https://"))
        .max_age(CookieDuration::hours(12))
        .finish()
}

fn csrf_mac(state: &AppState, secret: &str) -> Result<Hmac<Sha256>, ApiError> {
    let key = state.secrets().map_err(ApiError::internal)?.derive(Uuid::nil(), CSRF_PURPOSE, "v1");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(ApiError::internal)?;
    mac.update(secret.as_bytes());
    Ok(mac)
}

/// The CSRF token of a browser's forms.
fn csrf_token(state: &AppState, browser: &Browser) -> Result<String, ApiError> {
    Ok(hex::encode(csrf_mac(state, &browser.secret)?.finalize().into_bytes()))
}

/// Whether a form's CSRF token is this browser's (compared in constant time).
fn csrf_ok(state: &AppState, browser: &Browser, form: &Form) -> bool {
    let Some(given) = form.one("csrf").and_then(|t| hex::decode(t).ok()) else { return false };
    !browser.new && csrf_mac(state, &browser.secret).is_ok_and(|mac| mac.verify_slice(&given).is_ok())
}

/// A signed-in person, as `auth.web_session` describes them.
struct Person {
    email: String,
    fresh: bool,
    organisation: Option<Uuid>,
    organisations: Vec<Organisation>,
}

#[derive(Clone)]
struct Organisation {
    id: Uuid,
    name: String,
    role: String,
    /// Every scope the role may hold there.
    scopes: Vec<String>,
}

impl Person {
    fn current(&self) -> Option<&Organisation> {
        self.organisation.and_then(|id| self.organisations.iter().find(|o| o.id == id))
    }
}

async fn person(state: &AppState, req: &HttpRequest, browser: &Browser) -> Result<Option<Person>, ApiError> {
    if browser.new {
        return Ok(None);
    }
    let found = entry(state, req, "web_session", json!({ "tokenDigest": browser.digest() })).await?;
    if found.is_null() {
        return Ok(None);
    }
    let organisations = found["organisations"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|o| {
                    Some(Organisation {
                        id: o["id"].as_str()?.parse().ok()?,
                        name: o["name"].as_str()?.to_string(),
                        role: o["role"].as_str()?.to_string(),
                        scopes: o["scopes"].as_array()?.iter().filter_map(|s| s.as_str().map(str::to_string)).collect(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(Person {
        email: found["email"].as_str().unwrap_or_default().to_string(),
        fresh: found["fresh"].as_bool().unwrap_or(false),
        organisation: found["organisationId"].as_str().and_then(|s| s.parse().ok()),
        organisations,
    }))
}

fn request_id(req: &HttpRequest) -> String {
    req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default()
}

async fn entry(state: &AppState, req: &HttpRequest, function: &'static str, input: Value) -> Result<Value, ApiError> {
    call_entry_point(&state.pool, function, &input, Via::Web, function, &request_id(req)).await
}

// ---------------------------------------------------------------------------------------
// Forms
// ---------------------------------------------------------------------------------------

/// A form body's fields (a field may repeat: the consent form's scopes).
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Self {
        Form(url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// A form posted from one of this browser's pages: its fields, or the refusal when its CSRF
/// token is missing or another browser's.
fn posted(state: &AppState, req: &HttpRequest, body: &[u8]) -> Result<(Browser, Form), HttpResponse> {
    let browser = Browser::of(req);
    let form = Form::parse(body);
    if !csrf_ok(state, &browser, &form) {
        return Err(forbidden(req, &browser));
    }
    Ok((browser, form))
}

/// Where to go after signing in: a path of this server, never another site.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control)
                && p.len() <= 8192 =>
        {
            p.to_string()
        }
        _ => "/apps".to_string(),
    }
}

fn query_of(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

// ---------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------

/// The security headers of every page; `form_action` adds where the page's forms may lead.
fn page_response(
    req: &HttpRequest,
    browser: &Browser,
    status: http::StatusCode,
    markup: Markup,
    form_action: &[String],
) -> HttpResponse {
    let mut actions = vec!["'self'".to_string()];
    actions.extend(form_action.iter().cloned());
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {}; frame-ancestors 'none'; \
         base-uri 'none'",
        actions.join(" ")
    );
    let mut res = HttpResponse::build(oauth::actix_status(status));
    res.content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if browser.new {
        res.cookie(cookie(req, &browser.secret));
    }
    res.body(markup.into_string())
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish()
}

fn layout(title: &str, person: Option<&Person>, csrf: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · favcrm" }
                link rel="stylesheet" href="/pages.css";
            }
            body {
                header {
                    span.brand { "favcrm" }
                    @if let Some(person) = person {
                        nav aria-label="Account" {
                            a href="/inbox" { "Approvals" }
                            a href="/apps" { "Connected apps" }
                            @if person.organisations.len() > 1 { a href="/organisation" { "Organisation" } }
                            @if let Some(csrf) = csrf {
                                form method="post" action="/sign-out" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button.link type="submit" { "Sign out " (person.email) }
                                }
                            }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// A page that only says what went wrong (and, where it helps, where to go).
fn problem_page(
    req: &HttpRequest,
    browser: &Browser,
    status: http::StatusCode,
    title: &str,
    detail: &str,
) -> HttpResponse {
    let body = html! { p.error role="alert" { (detail) } };
    page_response(req, browser, status, layout(title, None, None, body), &[])
}

fn internal(req: &HttpRequest, browser: &Browser, error: ApiError) -> HttpResponse {
    let status = if error.status.is_client_error() { error.status } else { http::StatusCode::INTERNAL_SERVER_ERROR };
    let detail = if error.status.is_server_error() {
        "Something went wrong on our side; try again shortly.".to_string()
    } else {
        error.detail
    };
    problem_page(req, browser, status, "Something went wrong", &detail)
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(CSS)
}

// ---------------------------------------------------------------------------------------
// Signing in
// ---------------------------------------------------------------------------------------

fn email_form(csrf: &str, next: &str, email: &str, error: Option<&str>) -> Markup {
    html! {
        p { "We will email you a 6-digit code. Use the address your organisation knows you by." }
        form method="post" action="/sign-in" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="next" value=(next);
            label for="email" { "Email" }
            input #email type="email" name="email" value=(email) required autocomplete="email" autofocus
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "email-error")];
            @if let Some(error) = error { p #email-error .error role="alert" { (error) } }
            button type="submit" { "Email me a code" }
        }
    }
}

async fn sign_in_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let browser = Browser::of(&req);
    let next = local_path(query_of(&req).get("next").map(String::as_str));
    match person(&state, &req, &browser).await {
        Ok(Some(person)) if person.fresh || !next.starts_with("/oauth/") => return see_other(&next),
        Ok(_) => {}
        Err(e) => return internal(&req, &browser, e),
    }
    let csrf = match csrf_token(&state, &browser) {
        Ok(t) => t,
        Err(e) => return internal(&req, &browser, e),
    };
    let page = layout("Sign in", None, None, email_form(&csrf, &next, "", None));
    page_response(&req, &browser, http::StatusCode::OK, page, &[])
}

async fn sign_in_start(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    web_state: web::Data<WebState>,
) -> HttpResponse {
    let (browser, form) = match posted(&state, &req, &body) {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let next = local_path(form.one("next"));
    let email = form.one("email").unwrap_or_default().trim().to_lowercase();
    let client_ip = web_state.client_ip(&req);
    let started = async {
        // Per address here; per email in the database (auth.start_web_sign_in), which says so.
        state.abuse.code_email(client_ip)?;
        let code = new_code();
        let hash = hash_code(code.clone()).await?;
        let secrets = state.secrets().map_err(ApiError::internal)?;
        let id = Uuid::now_v7();
        let sealed = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            secrets.seal(id, ACCOUNT_MAIL_CODE, &code),
        );
        let settings = &state.abuse.settings;
        let started = entry(
            &state,
            &req,
            "start_web_sign_in",
            json!({
                "email": email,
                "tokenDigest": browser.digest(),
                "codeHash": hash,
                "mail": { "id": id, "sealedCode": sealed },
                "clientIp": client_ip.map(|ip| ip.to_string()),
                "limits": {
                    "perEmailPerHour": settings.signups_per_email_per_hour,
                    "perIpPerDay": settings.code_emails_per_ip_per_day,
                },
            }),
        )
        .await?;
        state.wake_outbox();
        Ok::<_, ApiError>(started)
    }
    .await;
    match started {
        Ok(_) => see_other(&format!("/sign-in/code?next={}", encode(&next))),
        Err(e) if e.status.is_client_error() => {
            let csrf = csrf_token(&state, &browser).unwrap_or_default();
            let message = if e.code == "validation_failed" {
                "Enter a valid email address.".to_string()
            } else {
                e.detail.clone()
            };
            let page = layout("Sign in", None, None, email_form(&csrf, &next, &email, Some(&message)));
            let status = if e.status == http::StatusCode::TOO_MANY_REQUESTS {
                e.status
            } else {
                http::StatusCode::UNPROCESSABLE_ENTITY
            };
            page_response(&req, &browser, status, page, &[])
        }
        Err(e) => internal(&req, &browser, e),
    }
}

fn code_form(csrf: &str, next: &str, error: Option<&str>) -> Markup {
    html! {
        p { "We emailed you a 6-digit code. It works for 10 minutes." }
        form method="post" action="/sign-in/code" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="next" value=(next);
            label for="code" { "Code" }
            input #code type="text" name="code" inputmode="numeric" pattern="[0-9 ]{6,7}" maxlength="7" required
                autocomplete="one-time-code" autofocus
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "code-error")];
            @if let Some(error) = error { p #code-error .error role="alert" { (error) } }
            button type="submit" { "Sign in" }
        }
        p { a href={ "/sign-in?next=" (encode(next)) } { "Send a new code" } }
    }
}

async fn code_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let browser = Browser::of(&req);
    let next = local_path(query_of(&req).get("next").map(String::as_str));
    let csrf = match csrf_token(&state, &browser) {
        Ok(t) => t,
        Err(e) => return internal(&req, &browser, e),
    };
    let page = layout("Enter your code", None, None, code_form(&csrf, &next, None));
    page_response(&req, &browser, http::StatusCode::OK, page, &[])
}

async fn code_check(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    web_state: web::Data<WebState>,
) -> HttpResponse {
    let (browser, form) = match posted(&state, &req, &body) {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let next = local_path(form.one("next"));
    let code: String = form.one("code").unwrap_or_default().chars().filter(char::is_ascii_digit).collect();
    let checked = async {
        state.abuse.code_check(web_state.client_ip(&req))?;
        let attempt =
            entry(&state, &req, "begin_web_sign_in_attempt", json!({ "tokenDigest": browser.digest() })).await?;
        let right = match attempt["codeHash"].as_str() {
            Some(hash) => verify_code(code, hash.to_string()).await?,
            None => false,
        };
        if !right {
            let remaining = attempt["attemptsRemaining"].as_i64().unwrap_or(0);
            return Ok(Err(if remaining > 0 {
                format!("That code is not right; {remaining} attempt(s) left.")
            } else {
                "That code is not right and no attempts are left: ask for a new code.".to_string()
            }));
        }
        let renewed = super::person::new_secret();
        entry(
            &state,
            &req,
            "complete_web_sign_in",
            json!({ "tokenDigest": browser.digest(), "newTokenDigest": digest_hex(&renewed) }),
        )
        .await?;
        Ok::<_, ApiError>(Ok(renewed))
    }
    .await;
    match checked {
        Ok(Ok(renewed)) => {
            let mut res = see_other(&next);
            let _ = res.add_cookie(&cookie(&req, &renewed));
            res
        }
        Ok(Err(message)) => {
            let csrf = csrf_token(&state, &browser).unwrap_or_default();
            let page = layout("Enter your code", None, None, code_form(&csrf, &next, Some(&message)));
            page_response(&req, &browser, http::StatusCode::UNPROCESSABLE_ENTITY, page, &[])
        }
        Err(e) if e.status == http::StatusCode::GONE => {
            let csrf = csrf_token(&state, &browser).unwrap_or_default();
            let page = layout("Sign in", None, None, email_form(&csrf, &next, "", Some(&e.detail)));
            page_response(&req, &browser, http::StatusCode::GONE, page, &[])
        }
        Err(e) if e.status == http::StatusCode::TOO_MANY_REQUESTS => {
            problem_page(&req, &browser, e.status, "Too many attempts", &e.detail)
        }
        Err(e) => internal(&req, &browser, e),
    }
}

async fn sign_out(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let (browser, _) = match posted(&state, &req, &body) {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    if let Err(e) = entry(&state, &req, "end_web_session", json!({ "tokenDigest": browser.digest() })).await {
        return internal(&req, &browser, e);
    }
    let mut res = see_other("/sign-in");
    let mut gone = cookie(&req, "");
    gone.make_removal();
    let _ = res.add_cookie(&gone);
    res
}

fn forbidden(req: &HttpRequest, browser: &Browser) -> HttpResponse {
    problem_page(
        req,
        browser,
        http::StatusCode::FORBIDDEN,
        "This form has expired",
        "The form was not sent from this browser's page (its security token is missing or wrong). Go back, reload \
         the page and try again.",
    )
}

/// The signed-in person, or the way to sign in and come back to this page.
async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
    browser: &Browser,
    fresh: bool,
) -> Result<Person, HttpResponse> {
    let back = || {
        let here = match req.query_string() {
            "" => req.path().to_string(),
            q => format!("{}?{q}", req.path()),
        };
        see_other(&format!("/sign-in?next={}", encode(&here)))
    };
    match person(state, req, browser).await {
        Ok(Some(person)) if person.fresh || !fresh => Ok(person),
        Ok(_) => Err(back()),
        Err(e) => Err(internal(req, browser, e)),
    }
}

// ---------------------------------------------------------------------------------------
// Choosing the organisation
// ---------------------------------------------------------------------------------------

fn organisation_radios(person: &Person, checked: Option<Uuid>) -> Markup {
    html! {
        fieldset {
            legend { "Organisation" }
            @for (i, org) in person.organisations.iter().enumerate() {
                div.choice {
                    input type="radio" name="organisation" id={ "org-" (i) } value=(org.id)
                        checked[checked == Some(org.id) || (checked.is_none() && i == 0)] required;
                    label for={ "org-" (i) } { (org.name) " " span.muted { "(" (org.role) ")" } }
                }
            }
        }
    }
}

async fn organisation_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let browser = Browser::of(&req);
    let person = match signed_in(&state, &req, &browser, false).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let csrf = csrf_token(&state, &browser).unwrap_or_default();
    let next = local_path(query_of(&req).get("next").map(String::as_str));
    let body = html! {
        p { "Which organisation do you want to work in?" }
        form method="post" action="/organisation" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="next" value=(next);
            (organisation_radios(&person, person.organisation))
            button type="submit" { "Continue" }
        }
    };
    page_response(
        &req,
        &browser,
        http::StatusCode::OK,
        layout("Choose an organisation", Some(&person), Some(&csrf), body),
        &[],
    )
}

async fn organisation_choose(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let (browser, form) = match posted(&state, &req, &body) {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let Some(chosen) = form.one("organisation").and_then(|id| id.parse::<Uuid>().ok()) else {
        return problem_page(
            &req,
            &browser,
            http::StatusCode::BAD_REQUEST,
            "Choose an organisation",
            "Pick one of yours.",
        );
    };
    match entry(
        &state,
        &req,
        "choose_web_organisation",
        json!({ "tokenDigest": browser.digest(), "organisationId": chosen }),
    )
    .await
    {
        Ok(_) => see_other(&local_path(form.one("next"))),
        Err(e) if e.status.is_client_error() => {
            problem_page(&req, &browser, http::StatusCode::FORBIDDEN, "Not your organisation", &e.detail)
        }
        Err(e) => internal(&req, &browser, e),
    }
}

/// The organisation a page acts in, or the page that chooses one first.
fn acting_in<'a>(req: &HttpRequest, person: &'a Person) -> Result<&'a Organisation, HttpResponse> {
    person.current().ok_or_else(|| {
        let here = match req.query_string() {
            "" => req.path().to_string(),
            q => format!("{}?{q}", req.path()),
        };
        see_other(&format!("/organisation?next={}", encode(&here)))
    })
}

// ---------------------------------------------------------------------------------------
// Consent (the authorization endpoint)
// ---------------------------------------------------------------------------------------

/// An authorization request's parameters, as checked.
struct AuthorizeRequest {
    client: Client,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: String,
    resource: String,
    scopes: Vec<String>,
}

fn redirect_with(base: &str, redirect_uri: &str, params: &[(&str, &str)]) -> HttpResponse {
    let mut url = redirect_uri.to_string();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    query.append_pair("iss", base);
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&query.finish());
    see_other(&url)
}

async fn check_authorize_request(
    state: &AppState,
    req: &HttpRequest,
    browser: &Browser,
    params: &HashMap<String, String>,
) -> Result<AuthorizeRequest, HttpResponse> {
    // Until the client and its redirect URI are trusted, a refusal is a page for the person;
    // after, it goes back to the client (an OAuth error with state and iss).
    let get = |name: &str| params.get(name).map(String::as_str);
    let client = match oauth::find_client(state, req, get("client_id").unwrap_or_default()).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return Err(problem_page(
                req,
                browser,
                http::StatusCode::BAD_REQUEST,
                "Unknown app",
                "The app that sent you here is not registered with this server (its client_id is unknown), so \
                 nothing can be shared with it.",
            ));
        }
        Err(e) => return Err(internal(req, browser, e)),
    };
    let redirect_uri = match get("redirect_uri") {
        Some(uri) if client.allows_redirect(uri) => uri.to_string(),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        _ => {
            return Err(problem_page(
                req,
                browser,
                http::StatusCode::BAD_REQUEST,
                "Wrong return address",
                "The app asked to send you back to an address it did not register, so nothing can be shared with it.",
            ));
        }
    };
    let base = oauth::resource(req, "");
    let state_param = get("state").map(str::to_string);
    let refuse = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(s) = &state_param {
            params.push(("state", s));
        }
        redirect_with(&base, &redirect_uri, &params)
    };
    if get("response_type") != Some("code") {
        return Err(refuse("unsupported_response_type", "Only response_type=code is supported."));
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(c), Some("S256"))
            if c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            c.to_string()
        }
        (Some(_), Some("S256")) => {
            return Err(refuse("invalid_request", "code_challenge must be 43 base64url characters."));
        }
        _ => {
            return Err(refuse(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256.",
            ));
        }
    };
    let resource = match get("resource") {
        None => base.clone(),
        Some(given) => match oauth::our_resource(req, given) {
            Some(r) => r,
            None => return Err(refuse("invalid_target", "The resource is not one of this server's.")),
        },
    };
    let known: Vec<String> = oauth::scopes_supported();
    let scopes: Vec<String> = match get("scope").map(str::trim).filter(|s| !s.is_empty()) {
        None => known.clone(),
        Some(list) => {
            let asked: Vec<String> = list.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
            if asked.iter().any(|s| !known.contains(s)) {
                return Err(refuse("invalid_scope", "A scope asked for does not exist here."));
            }
            asked
        }
    };
    Ok(AuthorizeRequest { client, redirect_uri, state: state_param, code_challenge: challenge, resource, scopes })
}

/// The origin (or private-use scheme) the consent form may lead to, for the CSP.
fn redirect_source(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

fn hidden_params(params: &HashMap<String, String>) -> Markup {
    let mut names: Vec<&String> = params
        .keys()
        .filter(|k| {
            matches!(
                k.as_str(),
                "response_type"
                    | "client_id"
                    | "redirect_uri"
                    | "state"
                    | "code_challenge"
                    | "code_challenge_method"
                    | "scope"
                    | "resource"
            )
        })
        .collect();
    names.sort();
    html! { @for name in names { input type="hidden" name=(name) value=(params[name]); } }
}

async fn authorize(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let browser = Browser::of(&req);
    let params = query_of(&req);
    let request = match check_authorize_request(&state, &req, &browser, &params).await {
        Ok(r) => r,
        Err(res) => return res,
    };
    let person = match signed_in(&state, &req, &browser, true).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let csrf = csrf_token(&state, &browser).unwrap_or_default();
    if person.organisations.is_empty() {
        return problem_page(
            &req,
            &browser,
            http::StatusCode::FORBIDDEN,
            "No organisation",
            "You are not in any organisation.",
        );
    }
    let chosen = params
        .get("organisation")
        .and_then(|id| id.parse::<Uuid>().ok())
        .and_then(|id| person.organisations.iter().find(|o| o.id == id))
        .or_else(|| (person.organisations.len() == 1).then(|| &person.organisations[0]));
    let Some(org) = chosen else {
        // Several organisations: which one the app may work in comes first.
        let body = html! {
            p { strong { (request.client.name) } " wants to connect to favcrm. Which organisation should it work in?" }
            form method="get" action="/oauth/authorize" {
                (hidden_params(&params))
                (organisation_radios(&person, person.organisation))
                button type="submit" { "Continue" }
            }
        };
        let page = layout("Choose an organisation", Some(&person), Some(&csrf), body);
        return page_response(&req, &browser, http::StatusCode::OK, page, &[]);
    };
    let allowed = &org.scopes;
    let offered: Vec<&String> = request.scopes.iter().filter(|s| allowed.contains(s)).collect();
    let withheld: Vec<&String> = request.scopes.iter().filter(|s| !allowed.contains(s)).collect();
    let redirect_host = url::Url::parse(&request.redirect_uri)
        .ok()
        .map(|u| u.host_str().map(str::to_string).unwrap_or_else(|| format!("{}:", u.scheme())))
        .unwrap_or_default();
    let body = html! {
        p.lead {
            strong { (request.client.name) } " wants to work in " strong { (org.name) } " as you ("
            (person.email) ", " (org.role) ")."
        }
        dl.facts {
            dt { "App" } dd { (request.client.name) @if let Some(uri) = &request.client.client_uri { " · " (uri) } }
            dt { "Sends you back to" } dd { code { (redirect_host) } }
            dt { "Can reach" } dd { code { (request.resource) } }
        }
        form method="post" action="/oauth/authorize" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="organisation" value=(org.id);
            (hidden_params(&params))
            fieldset {
                legend { "What it may do (untick what it should not)" }
                @for (i, scope) in offered.iter().enumerate() {
                    div.choice {
                        input type="checkbox" name="grant" id={ "scope-" (i) } value=(scope) checked;
                        label for={ "scope-" (i) } { (catalog::scope_words(scope)) " " span.muted { "(" (scope) ")" } }
                    }
                }
            }
            @if !withheld.is_empty() {
                p.muted { "It also asked for what your role cannot do, which it will not get: "
                    @for (i, s) in withheld.iter().enumerate() { @if i > 0 { ", " } (catalog::scope_words(s)) } "." }
            }
            p.muted { "Messages to customers and refunds it asks for still wait for a person's approval. You can \
                       revoke its access at any time under Connected apps." }
            div.actions {
                button type="submit" name="decision" value="allow" { "Allow" }
                button.secondary type="submit" name="decision" value="deny" { "Deny" }
            }
        }
    };
    let page = layout(&format!("Connect {}", request.client.name), Some(&person), Some(&csrf), body);
    let actions: Vec<String> = redirect_source(&request.redirect_uri).into_iter().collect();
    page_response(&req, &browser, http::StatusCode::OK, page, &actions)
}

async fn authorize_decide(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let (browser, form) = match posted(&state, &req, &body) {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let params: HashMap<String, String> =
        form.0.iter().filter(|(k, _)| k != "grant").map(|(k, v)| (k.clone(), v.clone())).collect();
    let request = match check_authorize_request(&state, &req, &browser, &params).await {
        Ok(r) => r,
        Err(res) => return res,
    };
    let base = oauth::resource(&req, "");
    let with_state = |mut pairs: Vec<(&'static str, String)>| {
        if let Some(s) = &request.state {
            pairs.push(("state", s.clone()));
        }
        pairs
    };
    if form.one("decision") != Some("allow") {
        let pairs = with_state(vec![
            ("error", "access_denied".to_string()),
            ("error_description", "The person did not allow access.".to_string()),
        ]);
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        return redirect_with(&base, &request.redirect_uri, &refs);
    }
    let Some(organisation) = form.one("organisation").and_then(|id| id.parse::<Uuid>().ok()) else {
        return problem_page(
            &req,
            &browser,
            http::StatusCode::BAD_REQUEST,
            "Choose an organisation",
            "Pick one of yours.",
        );
    };
    // Only what was offered and left ticked (the database also drops what the role cannot hold).
    let granted: Vec<&str> = form.all("grant").into_iter().filter(|s| request.scopes.iter().any(|r| r == s)).collect();
    let issued = entry(
        &state,
        &req,
        "issue_oauth_code",
        json!({
            "tokenDigest": browser.digest(),
            "clientId": request.client.client_id,
            "redirectUri": request.redirect_uri,
            "codeChallenge": request.code_challenge,
            "resource": request.resource,
            "scopes": granted,
            "organisationId": organisation,
        }),
    )
    .await;
    match issued {
        Ok(issued) => {
            let code = issued["code"].as_str().unwrap_or_default().to_string();
            let pairs = with_state(vec![("code", code)]);
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            redirect_with(&base, &request.redirect_uri, &refs)
        }
        Err(e) if e.code == "sign_in_required" => {
            let query: String =
                url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter()).finish();
            see_other(&format!("/sign-in?next={}", encode(&format!("/oauth/authorize?{query}"))))
        }
        Err(e) if e.code == "no_scopes" => {
            problem_page(&req, &browser, http::StatusCode::UNPROCESSABLE_ENTITY, "Nothing ticked", &e.detail)
        }
        Err(e) => internal(&req, &browser, e),
    }
}

// ---------------------------------------------------------------------------------------
// The approval inbox
// ---------------------------------------------------------------------------------------

/// Runs a catalog operation as the signed-in person.
async fn as_person(
    state: &AppState,
    req: &HttpRequest,
    browser: &Browser,
    op: &str,
    input: Value,
) -> Result<Value, ApiError> {
    let op = catalog::find(op).ok_or_else(|| ApiError::internal(format!("no operation {op}")))?;
    let mut input = input;
    op.check_input(&mut input)?;
    let caller = browser.caller();
    let request_id = request_id(req);
    let call = Call {
        op,
        caller: &caller,
        input: &input,
        via: Via::Web,
        request_id: &request_id,
        idempotency_key: None,
        confirmation_token: None,
        person_secret: None,
    };
    let outcome = call::dispatch(state, call, None).await?;
    match outcome.body {
        tx::Body::Value(v) => Ok(v),
        tx::Body::Text(t) => serde_json::from_str(&t).map_err(ApiError::internal),
    }
}

/// A money object (`{amount, currency}`) as its currency writes it.
fn money(value: &Value) -> String {
    crate::render::chart::money(value["amount"].as_i64().unwrap_or(0), value["currency"].as_str().unwrap_or(""))
}

/// What an approval would do, exactly as its snapshot holds it.
fn snapshot_view(approval: &Value) -> Markup {
    let s = &approval["snapshot"];
    match approval["operation"].as_str() {
        Some("send_message") => html! {
            dl.facts {
                dt { "Channel" } dd { (s["channel"].as_str().unwrap_or("")) }
                dt { "To" } dd { (s["recipient"].as_str().unwrap_or("")) }
                dt { "Purpose" } dd { (s["purpose"].as_str().unwrap_or("")) }
                @if let Some(subject) = s["subject"].as_str() { dt { "Subject" } dd { (subject) } }
            }
            pre.message { (s["body"].as_str().unwrap_or("")) }
        },
        Some("refund_payment") => html! {
            dl.facts {
                dt { "Refund" } dd { strong { (money(&s["refund"])) } }
                dt { "Of payment" } dd { (money(&s["payment"])) " · " code { (s["payment"]["id"].as_str().unwrap_or("")) } }
                @if let Some(reason) = s["input"]["reason"].as_str() { dt { "Reason" } dd { (reason) } }
            }
        },
        _ => html! {
            pre.snapshot { (serde_json::to_string_pretty(s).unwrap_or_default()) }
        },
    }
}

async fn inbox(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let browser = Browser::of(&req);
    let person = match signed_in(&state, &req, &browser, false).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let org = match acting_in(&req, &person) {
        Ok(o) => o.clone(),
        Err(res) => return res,
    };
    let csrf = csrf_token(&state, &browser).unwrap_or_default();
    let listed = as_person(&state, &req, &browser, "list_approvals", json!({ "status": "pending", "limit": 50 })).await;
    let notice = query_of(&req).get("done").cloned();
    let body = match listed {
        Ok(page) => {
            let items: Vec<Value> = page["items"].as_array().cloned().unwrap_or_default();
            html! {
                p.muted { "Pending approvals in " strong { (org.name) } ". Approving carries out exactly what is shown, once." }
                @if let Some(notice) = &notice { p.notice role="status" { (notice) } }
                @if items.is_empty() { p { "Nothing is waiting for you." } }
                @for a in &items {
                    article.approval aria-labelledby={ "a-" (a["id"].as_str().unwrap_or("")) } {
                        h2 id={ "a-" (a["id"].as_str().unwrap_or("")) } { (a["summary"].as_str().unwrap_or("")) }
                        p.muted { (a["operation"].as_str().unwrap_or("")) " · asked via "
                            (a["requestedVia"].as_str().unwrap_or("")) " · expires " (a["expiresAt"].as_str().unwrap_or("")) }
                        (snapshot_view(a))
                        div.actions {
                            form method="post" action={ "/inbox/" (a["id"].as_str().unwrap_or("")) "/approve" } {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Approve" }
                            }
                            form method="post" action={ "/inbox/" (a["id"].as_str().unwrap_or("")) "/reject" } {
                                input type="hidden" name="csrf" value=(csrf);
                                button.secondary type="submit" { "Reject" }
                            }
                        }
                    }
                }
            }
        }
        Err(e) if e.status == http::StatusCode::FORBIDDEN => html! {
            p.error role="alert" { "Your role in " (org.name) " cannot see approvals: " (e.detail) }
        },
        Err(e) => return internal(&req, &browser, e),
    };
    page_response(&req, &browser, http::StatusCode::OK, layout("Approvals", Some(&person), Some(&csrf), body), &[])
}

async fn inbox_decide(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (browser, _) = match posted(&state, &req, &body) {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let (id, decision) = path.into_inner();
    let op = match decision.as_str() {
        "approve" => "approve",
        "reject" => "reject",
        _ => return problem_page(&req, &browser, http::StatusCode::NOT_FOUND, "No such page", "Approve or reject."),
    };
    if let Err(res) = signed_in(&state, &req, &browser, false).await {
        return res;
    }
    match as_person(&state, &req, &browser, op, json!({ "approvalId": id })).await {
        Ok(done) => {
            let status = done["status"].as_str().unwrap_or("decided");
            let message = match (status, done["error"].as_str()) {
                ("failed", Some(error)) => format!("Approved, but it could not be carried out: {error}"),
                ("approved", _) => "Approved and carried out.".to_string(),
                ("rejected", _) => "Rejected; nothing was done.".to_string(),
                (other, _) => format!("The approval is {other}."),
            };
            see_other(&format!("/inbox?done={}", encode(&message)))
        }
        Err(e) if e.status.is_client_error() => see_other(&format!("/inbox?done={}", encode(&e.detail))),
        Err(e) => internal(&req, &browser, e),
    }
}

// ---------------------------------------------------------------------------------------
// Connected apps
// ---------------------------------------------------------------------------------------

async fn apps(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let browser = Browser::of(&req);
    let person = match signed_in(&state, &req, &browser, false).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let org = match acting_in(&req, &person) {
        Ok(o) => o.clone(),
        Err(res) => return res,
    };
    let csrf = csrf_token(&state, &browser).unwrap_or_default();
    let listed = tx::run_as(
        &state.pool,
        &browser.caller(),
        Via::Web,
        "list_connected_apps",
        &request_id(&req),
        "select auth.my_connected_apps()",
        &[],
    )
    .await;
    let apps = match listed {
        Ok(v) => v.as_array().cloned().unwrap_or_default(),
        Err(e) => return internal(&req, &browser, e),
    };
    let notice = query_of(&req).get("done").cloned();
    let body = html! {
        p.muted { "Apps you allowed to work in " strong { (org.name) } " as you. Revoking one stops it on its next request." }
        @if let Some(notice) = &notice { p.notice role="status" { (notice) } }
        @if apps.is_empty() { p { "No apps are connected." } }
        @for app in &apps {
            article.app {
                h2 { (app["name"].as_str().unwrap_or("")) }
                p.muted { "Connected " (app["createdAt"].as_str().unwrap_or("")) " · last used "
                    (app["lastUsedAt"].as_str().unwrap_or("never")) " · for " code { (app["resource"].as_str().unwrap_or("")) } }
                ul.scopes { @for s in app["scopes"].as_array().into_iter().flatten() {
                    li { (catalog::scope_words(s.as_str().unwrap_or(""))) }
                } }
                form method="post" action={ "/apps/" (app["id"].as_str().unwrap_or("")) "/revoke" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button.danger type="submit" { "Revoke " (app["name"].as_str().unwrap_or("")) }
                }
            }
        }
    };
    page_response(&req, &browser, http::StatusCode::OK, layout("Connected apps", Some(&person), Some(&csrf), body), &[])
}

async fn apps_revoke(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (browser, _) = match posted(&state, &req, &body) {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    if let Err(res) = signed_in(&state, &req, &browser, false).await {
        return res;
    }
    let Ok(id) = path.into_inner().parse::<Uuid>() else {
        return problem_page(&req, &browser, http::StatusCode::NOT_FOUND, "No such app", "That app is not connected.");
    };
    let revoked = tx::run_as(
        &state.pool,
        &browser.caller(),
        Via::Web,
        "revoke_connected_app",
        &request_id(&req),
        "select auth.revoke_my_connected_app($1)",
        &[&id],
    )
    .await;
    match revoked {
        Ok(_) => see_other(&format!("/apps?done={}", encode("Revoked: the app can no longer act for you."))),
        Err(e) if e.status == http::StatusCode::NOT_FOUND => {
            problem_page(&req, &browser, http::StatusCode::NOT_FOUND, "No such app", "That app is not connected.")
        }
        Err(e) => internal(&req, &browser, e),
    }
}
