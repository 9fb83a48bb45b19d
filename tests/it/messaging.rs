//! Messaging: channels connected with sealed credentials, templates with a fixed set of
//! variables, messages through the outbox to local fakes of Twilio and the WhatsApp Cloud API
//! (tests/it/fake_providers.rs), signed provider callbacks, consent (STOP), quiet hours and the
//! WhatsApp 24-hour window.

use chrono::{Datelike, Duration, Offset, Utc};
use chrono_tz::Tz;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::bookings::{at, last_sunday};
use crate::common::{Org, Res, TestApp};
use crate::fake_providers as fake;

/// An organisation whose agent keys send without approval (tests/it/approvals.rs has that).
async fn messaging_org(app: &TestApp, name: &str) -> Org {
    let org = app.create_org(name).await;
    let res = app.approval_settings(&org, json!({"operations": []})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    org
}

async fn connect_sms(app: &TestApp, org: &Org) -> Res {
    let res = app
        .post(
            &org.key,
            "/v1/channels",
            json!({"channel": "sms", "accountSid": fake::TWILIO_SID, "authToken": fake::TWILIO_TOKEN, "fromNumber": fake::TWILIO_FROM}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res
}

async fn connect_whatsapp(app: &TestApp, org: &Org) -> Res {
    let res = app
        .post(
            &org.key,
            "/v1/channels",
            json!({"channel": "whatsapp", "phoneNumberId": fake::WHATSAPP_PHONE_ID, "accessToken": fake::WHATSAPP_TOKEN,
                   "appSecret": fake::WHATSAPP_APP_SECRET, "verifyToken": fake::WHATSAPP_VERIFY}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res
}

async fn customer(app: &TestApp, org: &Org, name: &str, phone: &str, consent: &[&str]) -> String {
    let consent: serde_json::Map<String, Value> =
        consent.iter().map(|c| (c.to_string(), json!({"granted": true, "source": "signup form"}))).collect();
    app.customer(
        org,
        json!({"name": name, "phone": phone, "email": format!("{}@example.com", name.to_lowercase().replace(' ', ".")),
               "marketingConsent": consent}),
    )
    .await
    .to_string()
}

async fn send(app: &TestApp, org: &Org, body: Value) -> Res {
    app.post(&org.key, "/v1/messages", body).await
}

async fn message(app: &TestApp, org: &Org, id: &Value) -> Value {
    app.get(&org.key, &format!("/v1/messages/{}", id.as_str().unwrap())).await.body
}

/// Posts a callback as Twilio would: form-encoded, signed with the auth token over the URL and
/// the sorted parameters.
async fn twilio_callback(app: &TestApp, org: &Org, params: &[(&str, &str)], token: &str) -> Res {
    let url = format!("{}/v1/webhooks/twilio/{}", app.base, org.id);
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let signature = favcrm::effects::sms::signature(token, &url, &owned);
    let res = app
        .http
        .post(&url)
        .header("x-twilio-signature", signature)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&owned).unwrap())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    Res { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)), headers: Default::default() }
}

/// Posts a webhook call as Meta would: JSON, signed with the app secret.
async fn whatsapp_callback(app: &TestApp, org: &Org, value: Value, secret: &str) -> Res {
    let mut change = json!({"messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550001111", "phone_number_id": fake::WHATSAPP_PHONE_ID}});
    for (k, v) in value.as_object().unwrap() {
        change[k] = v.clone();
    }
    let body = json!({"object": "whatsapp_business_account",
                      "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": change}]}]})
    .to_string();
    let res = app
        .http
        .post(format!("{}/v1/webhooks/whatsapp/{}", app.base, org.id))
        .header("x-hub-signature-256", favcrm::effects::whatsapp::signature(secret, body.as_bytes()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    Res { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)), headers: Default::default() }
}

#[tokio::test]
async fn a_text_goes_out_through_twilio_and_its_signed_status_callbacks_move_it_forward_only() {
    let providers = fake::start().await;
    let app = TestApp::spawn_with(providers.settings()).await;
    let org = messaging_org(&app, "Glow").await;
    let connected = connect_sms(&app, &org).await;
    // The token is sealed: never in an answer, never stored in the clear.
    assert!(!connected.body.to_string().contains(fake::TWILIO_TOKEN), "{}", connected.body);
    assert_eq!(connected.body["secretHint"], "…0001");
    assert_eq!(connected.body["callbackPaths"]["statusAndInbound"], format!("/v1/webhooks/twilio/{}", org.id));
    let stored: String =
        app.admin().await.query_one("select row_to_json(c)::text from app.channels c", &[]).await.unwrap().get(0);
    assert!(!stored.contains(fake::TWILIO_TOKEN), "{stored}");
    let audit: String = app
        .admin()
        .await
        .query_one(
            "select coalesce(string_agg(after::text, ' '), '') from audit.event where table_name = 'channels'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!audit.contains("ciphertext") && !audit.contains(fake::TWILIO_TOKEN), "{audit}");

    let amy = customer(&app, &org, "Amy Chan", "+447700900123", &[]).await;
    let template = app
        .post(
            &org.key,
            "/v1/message-templates",
            json!({"name": "Hello", "channel": "sms", "purpose": "transactional",
                   "body": "Hi {{customer.first_name}}, this is {{ organisation.name }}."}),
        )
        .await;
    assert_eq!(template.status, StatusCode::CREATED, "{}", template.body);
    assert_eq!(template.body["variables"], json!(["customer.first_name", "organisation.name"]));
    let sent = send(&app, &org, json!({"customerId": amy, "templateId": template.body["id"]})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    assert_eq!(
        (sent.body["status"].as_str(), sent.body["body"].as_str()),
        (Some("queued"), Some("Hi Amy, this is Glow."))
    );
    app.outbox_idle().await;
    let texts = providers.texts().await;
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0]["To"], "+447700900123");
    assert_eq!(texts[0]["From"], fake::TWILIO_FROM);
    assert_eq!(texts[0]["Body"], "Hi Amy, this is Glow.");
    assert_eq!(texts[0]["StatusCallback"], format!("{}/v1/webhooks/twilio/{}", app.base, org.id));
    let after = message(&app, &org, &sent.body["id"]).await;
    assert_eq!(after["status"], "sent", "{after}");
    let sid = after["providerMessageId"].as_str().unwrap().to_string();
    assert!(sid.starts_with("SM"));

    // A forged callback changes nothing; Twilio's, signed with the token, moves it on.
    let forged =
        twilio_callback(&app, &org, &[("MessageSid", &sid), ("MessageStatus", "delivered")], "not-the-token").await;
    assert_eq!((forged.status, forged.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_signature")));
    assert_eq!(message(&app, &org, &sent.body["id"]).await["status"], "sent");
    let delivered = twilio_callback(
        &app,
        &org,
        &[
            ("AccountSid", fake::TWILIO_SID),
            ("MessageSid", &sid),
            ("MessageStatus", "delivered"),
            ("To", "+447700900123"),
        ],
        fake::TWILIO_TOKEN,
    )
    .await;
    assert_eq!(delivered.status, StatusCode::OK, "{:?}", delivered.body);
    let after = message(&app, &org, &sent.body["id"]).await;
    assert_eq!(after["status"], "delivered");
    assert!(after["deliveredAt"].is_string());
    // A late "sent" arrives after "delivered": the message does not move back.
    twilio_callback(&app, &org, &[("MessageSid", &sid), ("MessageStatus", "sent")], fake::TWILIO_TOKEN).await;
    assert_eq!(message(&app, &org, &sent.body["id"]).await["status"], "delivered");

    let status = app.get(&org.key, "/v1/channels").await;
    assert_eq!(status.body["channels"][0]["lastSevenDays"]["delivered"], 1, "{}", status.body);
}

#[tokio::test]
async fn stop_withdraws_consent_and_a_marketing_message_without_consent_is_refused() {
    let providers = fake::start().await;
    let app = TestApp::spawn_with(providers.settings()).await;
    let org = messaging_org(&app, "Glow").await;
    connect_sms(&app, &org).await;
    let ben = customer(&app, &org, "Ben Ng", "+447700900456", &["sms"]).await;
    let offer = json!({"customerId": ben, "channel": "sms", "purpose": "marketing", "body": "20% off this week, {{customer.first_name}}!",
                       "sendAt": at(Tz::Europe__London, Utc::now().date_naive() + Duration::days(2), 12, 0).to_rfc3339()});
    let first = send(&app, &org, offer.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);

    // Ben answers STOP.
    let inbound = twilio_callback(
        &app,
        &org,
        &[("MessageSid", "SM-inbound-1"), ("From", "+447700900456"), ("To", fake::TWILIO_FROM), ("Body", " stop ")],
        fake::TWILIO_TOKEN,
    )
    .await;
    assert_eq!(inbound.status, StatusCode::OK, "{:?}", inbound.body);
    let ben_now = app.get(&org.key, &format!("/v1/customers/{ben}")).await;
    assert_eq!(ben_now.body["marketingConsent"]["sms"]["granted"], false, "{}", ben_now.body);
    assert_eq!(ben_now.body["marketingConsent"]["sms"]["source"], "reply_stop");
    let received = app.get(&org.key, &format!("/v1/messages?customerId={ben}&direction=inbound")).await;
    assert_eq!(received.body["items"][0]["body"], " stop ");
    assert_eq!(received.body["items"][0]["status"], "received");
    // The same callback again records nothing twice.
    twilio_callback(
        &app,
        &org,
        &[("MessageSid", "SM-inbound-1"), ("From", "+447700900456"), ("To", fake::TWILIO_FROM), ("Body", " stop ")],
        fake::TWILIO_TOKEN,
    )
    .await;
    let received = app.get(&org.key, &format!("/v1/messages?customerId={ben}&direction=inbound")).await;
    assert_eq!(received.body["items"].as_array().unwrap().len(), 1);

    let refused = send(&app, &org, offer.clone()).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "no_consent"), "{}", refused.body);
    assert_eq!(refused.field(), "customerId");
    // A transactional message still goes (the organisation's settings allow them).
    let receipt = send(
        &app,
        &org,
        json!({"customerId": ben, "channel": "sms", "purpose": "transactional", "body": "Thanks for your visit."}),
    )
    .await;
    assert_eq!(receipt.status, StatusCode::CREATED, "{}", receipt.body);
    // Unless the organisation turns transactional messages off.
    let off = app.patch(&org.key, "/v1/messaging-settings", json!({"transactionalAllowed": false})).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    let refused =
        send(&app, &org, json!({"customerId": ben, "channel": "sms", "purpose": "transactional", "body": "Thanks."}))
            .await;
    assert_eq!(refused.code(), "transactional_disabled", "{}", refused.body);
    // START gives consent back.
    twilio_callback(
        &app,
        &org,
        &[("MessageSid", "SM-inbound-2"), ("From", "+447700900456"), ("To", fake::TWILIO_FROM), ("Body", "START")],
        fake::TWILIO_TOKEN,
    )
    .await;
    assert_eq!(send(&app, &org, offer).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_marketing_message_written_at_22_00_local_waits_until_quiet_hours_end_at_09_00_also_across_dst() {
    let app = TestApp::spawn().await;
    let org = messaging_org(&app, "Glow").await; // Europe/London
    let tz = Tz::Europe__London;
    let cleo = customer(&app, &org, "Cleo Wu", "+447700900789", &["email"]).await;
    // The Saturday evening before London's next clock change (the last Sunday of March or of
    // October, at least two days ahead, so within the year sendAt may reach whatever today is):
    // the night the quiet hours span changes its offset.
    let soon = crate::bookings::in_days(2);
    let sunday = (soon.year()..=soon.year() + 1)
        .flat_map(|y| [last_sunday(y, 3), last_sunday(y, 10)])
        .find(|d| *d - Duration::days(1) >= soon)
        .unwrap();
    let saturday = sunday - Duration::days(1);
    let offer = |when: chrono::DateTime<Utc>| {
        json!({"customerId": cleo, "channel": "email", "purpose": "marketing", "subject": "Spring offer",
               "body": "Hello {{customer.first_name}}", "sendAt": when.to_rfc3339()})
    };
    let preview = app.post(&org.key, "/v1/message-previews", offer(at(tz, saturday, 22, 0))).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!(preview.body["heldForQuietHours"], true);
    let opens = at(tz, sunday, 9, 0);
    let offset = |t: chrono::DateTime<Utc>| t.with_timezone(&tz).offset().fix().local_minus_utc();
    assert_ne!(offset(at(tz, saturday, 22, 0)), offset(opens), "the clocks change that night");
    assert_eq!(preview.body["sendAfter"], opens.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    assert_eq!(app.count("app.messages", Some(org.id)).await, 0, "a preview writes nothing");

    let held = send(&app, &org, offer(at(tz, saturday, 22, 0))).await;
    assert_eq!(held.status, StatusCode::CREATED, "{}", held.body);
    assert_eq!(held.body["status"], "scheduled");
    // Its delivery is due at 09:00 and not before.
    let due: chrono::DateTime<Utc> = app
        .admin()
        .await
        .query_one(
            "select next_attempt_at from app.deliveries where message_id = $1::text::uuid",
            &[&held.body["id"].as_str().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(due, opens);
    // Just after the window opens, and before it closes in the evening: not held.
    for (hh, mm) in [(9, 0), (20, 59)] {
        let res = app.post(&org.key, "/v1/message-previews", offer(at(tz, sunday, hh, mm))).await;
        assert_eq!(res.body["heldForQuietHours"], false, "{hh}:{mm}: {}", res.body);
    }
    // 08:59 is still quiet. A transactional message is never held.
    let res = app.post(&org.key, "/v1/message-previews", offer(at(tz, sunday, 8, 59))).await;
    assert_eq!(res.body["heldForQuietHours"], true);
    let mut receipt = offer(at(tz, saturday, 23, 30));
    receipt["purpose"] = json!("transactional");
    assert_eq!(app.post(&org.key, "/v1/message-previews", receipt).await.body["heldForQuietHours"], false);
    // Quiet hours of its own, within one day; none at all.
    app.patch(&org.key, "/v1/messaging-settings", json!({"quietHours": {"start": "12:00", "end": "14:00"}})).await;
    let res = app.post(&org.key, "/v1/message-previews", offer(at(tz, sunday, 13, 0))).await;
    assert_eq!(res.body["sendAfter"], at(tz, sunday, 14, 0).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    app.patch(&org.key, "/v1/messaging-settings", json!({"quietHours": null})).await;
    let settings = app.get(&org.key, "/v1/messaging-settings").await;
    assert!(settings.body["quietHours"].is_null(), "{}", settings.body);
    let res = app.post(&org.key, "/v1/message-previews", offer(at(tz, saturday, 23, 0))).await;
    assert_eq!(res.body["heldForQuietHours"], false);
}

#[tokio::test]
async fn whatsapp_needs_a_meta_template_outside_the_24_hour_window_and_takes_free_text_once_the_customer_wrote() {
    let providers = fake::start().await;
    let mut settings = providers.settings();
    settings.outbox.retry_base = std::time::Duration::ZERO;
    let app = TestApp::spawn_with(settings).await;
    let org = messaging_org(&app, "Glow").await;
    connect_whatsapp(&app, &org).await;
    // Meta's subscription check.
    let check = |token: &str| {
        let url = format!(
            "{}/v1/webhooks/whatsapp/{}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444",
            app.base, org.id
        );
        let http = app.http.clone();
        async move {
            let res = http.get(url).send().await.unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    assert_eq!(check(fake::WHATSAPP_VERIFY).await, (StatusCode::OK, "1158201444".to_string()));
    assert_eq!(check("guess").await.0, StatusCode::FORBIDDEN);

    // The fake rate-limits this number once: the outbox tries again.
    let dan = customer(&app, &org, "Dan Ho", "+447700900429", &[]).await;
    let free =
        json!({"customerId": dan, "channel": "whatsapp", "purpose": "transactional", "body": "Your table is ready"});
    let closed = send(&app, &org, free.clone()).await;
    assert_eq!((closed.status, closed.code()), (StatusCode::CONFLICT, "whatsapp_window_closed"), "{}", closed.body);
    let template = app
        .post(
            &org.key,
            "/v1/message-templates",
            json!({"name": "Reminder", "channel": "whatsapp", "purpose": "transactional", "locale": "en-GB",
                   "body": "Hi {{customer.first_name}}, {{organisation.name}} is expecting you.",
                   "whatsappTemplateName": "visit_reminder"}),
        )
        .await;
    assert_eq!(template.status, StatusCode::CREATED, "{}", template.body);
    assert_eq!(template.body["whatsappLanguage"], "en_GB");
    let sent = send(&app, &org, json!({"customerId": dan, "templateId": template.body["id"]})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    app.outbox_idle().await;
    let calls = providers.whatsapps().await;
    assert_eq!(calls.len(), 2, "rate-limited once, then sent: {calls:?}");
    assert_eq!(calls[1]["type"], "template");
    assert_eq!(calls[1]["to"], "447700900429");
    assert_eq!(calls[1]["template"]["name"], "visit_reminder");
    assert_eq!(calls[1]["template"]["language"]["code"], "en_GB");
    assert_eq!(
        calls[1]["template"]["components"][0]["parameters"],
        json!([{"type": "text", "text": "Dan"}, {"type": "text", "text": "Glow"}])
    );
    let after = message(&app, &org, &sent.body["id"]).await;
    assert_eq!(after["status"], "sent", "{after}");
    let wamid = after["providerMessageId"].as_str().unwrap().to_string();
    let delivery = app.get(&org.key, &format!("/v1/deliveries/{}", after["deliveryId"].as_str().unwrap())).await;
    let outcomes: Vec<&str> =
        delivery.body["attemptLog"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["failed", "sent"], "{}", delivery.body);

    // Meta reports it read; a forged report is refused.
    let read = json!({"statuses": [{"id": wamid, "status": "read", "timestamp": "1796000000", "recipient_id": "447700900429"}]});
    let forged = whatsapp_callback(&app, &org, read.clone(), "not-the-secret").await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert_eq!(whatsapp_callback(&app, &org, read, fake::WHATSAPP_APP_SECRET).await.status, StatusCode::OK);
    assert_eq!(message(&app, &org, &sent.body["id"]).await["status"], "read");

    // Dan writes: the window opens and free text goes as text.
    let inbound = json!({"contacts": [{"profile": {"name": "Dan"}, "wa_id": "447700900429"}],
                         "messages": [{"from": "447700900429", "id": "wamid.inbound-1", "timestamp": "1796000100",
                                       "type": "text", "text": {"body": "Running 5 minutes late"}}]});
    assert_eq!(whatsapp_callback(&app, &org, inbound, fake::WHATSAPP_APP_SECRET).await.status, StatusCode::OK);
    let now_open = send(&app, &org, free).await;
    assert_eq!(now_open.status, StatusCode::CREATED, "{}", now_open.body);
    app.outbox_idle().await;
    let calls = providers.whatsapps().await;
    assert_eq!(calls.last().unwrap()["type"], "text");
    assert_eq!(calls.last().unwrap()["text"]["body"], "Your table is ready");
}

#[tokio::test]
async fn a_provider_refusal_fails_the_message_at_once_and_a_rate_limit_waits_the_time_asked() {
    let providers = fake::start().await;
    let app = TestApp::spawn_with(providers.settings()).await;
    let org = messaging_org(&app, "Glow").await;
    connect_sms(&app, &org).await;
    let bad = customer(&app, &org, "Eve Bad", fake::INVALID_NUMBER, &[]).await;
    let busy = customer(&app, &org, "Fay Busy", fake::BUSY_NUMBER, &[]).await;
    let text = |c: &str| json!({"customerId": c, "channel": "sms", "purpose": "transactional", "body": "Hello"});
    let refused = send(&app, &org, text(&bad)).await;
    let waiting = send(&app, &org, text(&busy)).await;
    app.outbox_idle().await;
    let failed = message(&app, &org, &refused.body["id"]).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(failed["error"].as_str().unwrap().contains("21211"), "{failed}");
    let later = message(&app, &org, &waiting.body["id"]).await;
    assert_eq!(later["status"], "queued", "{later}");
    let delivery = app.get(&org.key, &format!("/v1/deliveries/{}", later["deliveryId"].as_str().unwrap())).await;
    let next: chrono::DateTime<Utc> = delivery.body["nextAttemptAt"].as_str().unwrap().parse().unwrap();
    assert!(next >= Utc::now() + Duration::seconds(100), "Twilio asked for 120 seconds: {next}");
    assert!(delivery.body["lastError"].as_str().unwrap().contains("20429"));
}

#[tokio::test]
async fn templates_take_only_the_documented_variables_and_a_message_needs_what_its_variables_name() {
    let app = TestApp::spawn().await;
    let org = messaging_org(&app, "Glow").await;
    let bad = app
        .post(
            &org.key,
            "/v1/message-templates",
            json!({"name": "Bad", "channel": "sms", "purpose": "marketing", "body": "Hi {{customer.password}}"}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.field(), bad.field_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "body", "unknown_variable"),
        "{}",
        bad.body
    );
    let no_subject = app
        .post(
            &org.key,
            "/v1/message-templates",
            json!({"name": "Mail", "channel": "email", "purpose": "transactional", "body": "Hi"}),
        )
        .await;
    assert_eq!((no_subject.field(), no_subject.field_code()), ("subject", "required"));
    let reminder = app
        .post(
            &org.key,
            "/v1/message-templates",
            json!({"name": "Reminder", "channel": "email", "purpose": "transactional", "subject": "See you {{booking.date}}",
                   "body": "Your {{booking.service}} is at {{booking.time}}."}),
        )
        .await;
    assert_eq!(reminder.status, StatusCode::CREATED, "{}", reminder.body);
    let again = app
        .post(
            &org.key,
            "/v1/message-templates",
            json!({"name": "Reminder", "channel": "email", "purpose": "transactional", "subject": "x", "body": "y"}),
        )
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "template_exists"));
    let gil = customer(&app, &org, "Gil Lam", "+447700900111", &[]).await;
    let missing = send(&app, &org, json!({"customerId": gil, "templateId": reminder.body["id"]})).await;
    assert_eq!(
        (missing.status, missing.field(), missing.field_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "bookingId", "missing_variable"),
        "{}",
        missing.body
    );
    // Free-text email through the server's mail, with the organisation's sender once connected.
    let connected = app
        .post(&org.key, "/v1/channels", json!({"channel": "email", "fromAddress": "Hello@Glow.example", "fromName": "Glow Studio", "replyTo": "desk@glow.example"}))
        .await;
    assert_eq!(connected.status, StatusCode::CREATED, "{}", connected.body);
    let sent = send(&app, &org, json!({"customerId": gil, "channel": "email", "purpose": "transactional", "subject": "Your receipt", "body": "Thank you, {{customer.first_name}}.\n\nSee you soon."})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let mails = app.mails_to("gil.lam@example.com").await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "Your receipt");
    assert!(mails[0].1.contains("Thank you, Gil."), "{}", mails[0].1);
    let raw: Vec<_> = std::fs::read_dir(app.mail_dir.join("mail")).unwrap().filter_map(|e| e.ok()).collect();
    let text = std::fs::read_to_string(raw[0].path()).unwrap();
    assert!(text.contains("From: \"Glow Studio\" <hello@glow.example>"), "{text}");
    assert!(text.contains("Reply-To: desk@glow.example"), "{text}");
    assert_eq!(message(&app, &org, &sent.body["id"]).await["status"], "sent");
}

#[tokio::test]
async fn who_may_connect_send_and_read_messages() {
    let app = TestApp::spawn().await;
    let org = messaging_org(&app, "Glow").await;
    let other = app.create_org("Other").await;
    let (_, admin) = app.add_member(&org, "admin", None).await;
    let (_, manager) = app.add_member(&org, "manager", None).await;
    let (_, staff) = app.add_member(&org, "staff", None).await;
    let sms = json!({"channel": "sms", "accountSid": fake::TWILIO_SID, "authToken": fake::TWILIO_TOKEN, "fromNumber": fake::TWILIO_FROM});
    assert_eq!(app.post(&admin, "/v1/channels", sms.clone()).await.status, StatusCode::FORBIDDEN, "owners connect");
    assert_eq!(app.get(&manager, "/v1/channels").await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&admin, "/v1/channels").await.status, StatusCode::OK);
    let hal = customer(&app, &org, "Hal Po", "+447700900222", &["email"]).await;
    let mail =
        json!({"customerId": hal, "channel": "email", "purpose": "marketing", "subject": "News", "body": "Hello"});
    assert_eq!(
        send(&app, &Org { key: staff.clone(), ..org.clone() }, mail.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let sent = send(&app, &Org { key: manager.clone(), ..org.clone() }, mail.clone()).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    // Staff read the conversation; another organisation learns nothing of it.
    let path = format!("/v1/messages/{}", sent.body["id"].as_str().unwrap());
    assert_eq!(app.get(&staff, &path).await.status, StatusCode::OK);
    assert_eq!(app.get(&other.key, &path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, &other, mail).await.status, StatusCode::NOT_FOUND, "A's customer is not B's");
    assert!(app.get(&other.key, "/v1/messages").await.body["items"].as_array().unwrap().is_empty());
    // A callback for an organisation without the channel is refused, whoever signs it.
    let res =
        twilio_callback(&app, &other, &[("MessageSid", "SM1"), ("MessageStatus", "delivered")], fake::TWILIO_TOKEN)
            .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // Disconnecting asks an agent to confirm, and forgets the credentials.
    connect_sms(&app, &org).await;
    let asked = app.delete(&org.key, "/v1/channels/sms").await;
    assert_eq!(asked.status.as_u16(), 428, "{}", asked.body);
    let gone = app.delete_confirmed(&org.key, "/v1/channels/sms").await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
    let sealed: i64 = app
        .admin()
        .await
        .query_one("select count(*) from app.channels where org_id = $1 and secret_ciphertext is not null", &[&org.id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sealed, 0);
}

/// What the catalog-wide tests name: a customer who can be written to, a template and a message.
pub struct MessagingFixture {
    pub customer: String,
    pub template: String,
    pub message: String,
    pub rule: String,
    pub campaign: String,
}

pub async fn messaging_fixture(app: &TestApp, org: &Org) -> MessagingFixture {
    connect_sms(app, org).await;
    let customer = customer(app, org, "Ivy Ko", "+447700900333", &["email", "sms"]).await;
    let template = app
        .post(
            &org.key,
            "/v1/message-templates",
            json!({"name": "Fixture", "channel": "email", "purpose": "transactional", "subject": "Hello", "body": "Hi {{customer.first_name}}"}),
        )
        .await;
    assert_eq!(template.status, StatusCode::CREATED, "{}", template.body);
    let template = template.body["id"].as_str().unwrap().to_string();
    // Sent from an app key: the organisation's agents need approval for messages.
    let desk = crate::approvals::app_key(app, org).await;
    let sent =
        send(app, &Org { key: desk, ..org.clone() }, json!({"customerId": customer, "templateId": template})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let rule = rule(app, org, json!({"event": "reminder", "templateId": template, "hoursBefore": 24})).await;
    let campaign = app.post(&org.key, "/v1/campaigns", json!({"name": "Fixture", "templateId": template})).await;
    assert_eq!(campaign.status, StatusCode::CREATED, "{}", campaign.body);
    MessagingFixture {
        customer,
        template,
        message: sent.body["id"].as_str().unwrap().to_string(),
        rule: rule["id"].as_str().unwrap().to_string(),
        campaign: campaign.body["id"].as_str().unwrap().to_string(),
    }
}

pub fn messaging_sample(op: &str, f: &MessagingFixture) -> Option<Value> {
    Some(match op {
        "connect_channel" => json!({"channel": "email", "fromAddress": "hello@example.com"}),
        "get_channel_status" | "get_messaging_settings" | "list_templates" | "list_messages" => json!({}),
        "disconnect_channel" => json!({"channel": "sms"}),
        "update_messaging_settings" => json!({"quietHours": {"start": "22:00", "end": "08:00"}}),
        "create_template" => {
            json!({"name": "Another", "channel": "email", "purpose": "marketing", "subject": "News", "body": "Hello"})
        }
        "preview_message" => json!({"customerId": f.customer, "templateId": f.template}),
        "send_message" => json!({"customerId": f.customer, "channel": "email", "purpose": "transactional",
                                 "subject": "Hi", "body": "Hello {{customer.first_name}}"}),
        "get_message" => json!({"messageId": f.message}),
        "create_booking_message_rule" => json!({"event": "confirmation", "templateId": f.template}),
        "list_booking_message_rules" | "list_campaigns" => json!({}),
        "remove_booking_message_rule" => json!({"ruleId": f.rule}),
        "create_campaign" => json!({"name": "Spring", "templateId": f.template, "segment": {"tag": "vip"}}),
        "preview_campaign" | "send_campaign" | "get_campaign" => json!({"campaignId": f.campaign}),
        _ => return None,
    })
}

async fn email_template(app: &TestApp, org: &Org, name: &str, purpose: &str, subject: &str, body: &str) -> String {
    let res = app
        .post(
            &org.key,
            "/v1/message-templates",
            json!({"name": name, "channel": "email", "purpose": purpose, "subject": subject, "body": body}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body["id"].as_str().unwrap().to_string()
}

async fn rule(app: &TestApp, org: &Org, body: Value) -> Value {
    let res = app.post(&org.key, "/v1/booking-message-rules", body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body
}

/// A customer's messages once the outbox sent what was due: (source, status, sendAfter), oldest
/// first.
async fn booking_messages(app: &TestApp, org: &Org, customer: &str) -> Vec<(String, String, Option<String>)> {
    app.outbox_idle().await;
    let list = app.get(&org.key, &format!("/v1/messages?customerId={customer}")).await;
    let mut items: Vec<(String, String, Option<String>)> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["source"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
                m["sendAfter"].as_str().map(str::to_string),
            )
        })
        .collect();
    items.reverse();
    items
}

fn ts(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[tokio::test]
async fn booking_rules_confirm_remind_move_the_reminder_with_a_reschedule_and_cancel_it_with_the_booking() {
    let app = TestApp::spawn().await;
    let studio = app.studio("Europe/London", crate::bookings::every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let org = &studio.org;
    let confirm = email_template(
        &app,
        org,
        "Confirm",
        "transactional",
        "Booked: {{booking.service}}",
        "See you {{booking.start}}.",
    )
    .await;
    let remind =
        email_template(&app, org, "Remind", "transactional", "Tomorrow", "{{booking.service}} at {{booking.time}}.")
            .await;
    let cancelled =
        email_template(&app, org, "Cancelled", "transactional", "Cancelled", "Your {{booking.service}} is off.").await;
    rule(&app, org, json!({"event": "confirmation", "templateId": confirm})).await;
    rule(&app, org, json!({"event": "reminder", "templateId": remind, "hoursBefore": 24})).await;
    // A reminder two weeks ahead is already past for a booking in three days: none is written.
    rule(&app, org, json!({"event": "reminder", "templateId": remind, "hoursBefore": 336})).await;
    rule(&app, org, json!({"event": "cancellation", "templateId": cancelled})).await;
    let missing =
        app.post(&org.key, "/v1/booking-message-rules", json!({"event": "reminder", "templateId": remind})).await;
    assert_eq!((missing.field(), missing.field_code()), ("hoursBefore", "required"));

    let amy = app.customer(org, json!({"name": "Amy Chan", "email": "amy@example.com"})).await.to_string();
    let start = at(studio.tz, crate::bookings::in_days(3), 10, 0);
    let booked = app
        .post(
            &org.key,
            "/v1/bookings",
            json!({"serviceId": studio.service, "start": start.to_rfc3339(), "customerId": amy}),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    let first = booking_messages(&app, org, &amy).await;
    assert_eq!(
        first,
        [
            ("booking_confirmation".to_string(), "sent".to_string(), None),
            ("booking_reminder".to_string(), "scheduled".to_string(), Some(ts(start - Duration::hours(24)))),
        ]
    );
    let mails = app.mails_to("amy@example.com").await;
    assert_eq!(mails.len(), 1, "the confirmation went; the reminder waits");
    assert!(mails[0].1.contains("10:00"), "{}", mails[0].1);

    // Moved: the reminder moves with it; the new time is confirmed, and nobody is told of a
    // cancellation.
    let later = at(studio.tz, crate::bookings::in_days(4), 11, 0);
    let moved = app
        .confirmed(
            &org.key,
            Method::POST,
            &format!("/v1/bookings/{}/reschedule", booked.body["id"].as_str().unwrap()),
            Some(json!({"start": later.to_rfc3339()})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::CREATED, "{}", moved.body);
    let now = booking_messages(&app, org, &amy).await;
    assert_eq!(
        now[1],
        ("booking_reminder".to_string(), "cancelled".to_string(), Some(ts(start - Duration::hours(24))))
    );
    assert_eq!(now[2], ("booking_confirmation".to_string(), "sent".to_string(), None));
    assert_eq!(
        now[3],
        ("booking_reminder".to_string(), "scheduled".to_string(), Some(ts(later - Duration::hours(24))))
    );
    assert_eq!(now.len(), 4, "{now:?}");
    let cancelled_delivery: String = app
        .admin()
        .await
        .query_one(
            "select d.status from app.deliveries d join app.messages m on m.org_id = d.org_id and m.id = d.message_id
              where m.status = 'cancelled'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(cancelled_delivery, "cancelled");

    // Cancelled: its reminder is cancelled too, and the cancellation is sent.
    let new_id = moved.body["id"].as_str().unwrap();
    let res = app.confirmed(&org.key, Method::POST, &format!("/v1/bookings/{new_id}/cancel"), Some(json!({}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let last = booking_messages(&app, org, &amy).await;
    assert_eq!(last[3].1, "cancelled");
    assert_eq!((last[4].0.as_str(), last[4].1.as_str()), ("booking_cancellation", "sent"));
    let mails = app.mails_to("amy@example.com").await;
    assert_eq!(mails.len(), 3);
    assert!(mails[1].1.contains("11:00"), "the new time is confirmed: {}", mails[1].1);
    assert_eq!(mails[2].0, "Cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_send_each_reminder_exactly_once_when_its_time_comes() {
    let mut settings = crate::common::relaxed();
    settings.outbox.enabled = false;
    let app = TestApp::spawn_with(settings).await;
    let studio = app.studio("Europe/London", crate::bookings::every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let org = &studio.org;
    let remind =
        email_template(&app, org, "Remind", "transactional", "Tomorrow", "{{booking.service}} at {{booking.time}}.")
            .await;
    rule(&app, org, json!({"event": "reminder", "templateId": remind, "hoursBefore": 24})).await;
    const BOOKINGS: usize = 16;
    for i in 0..BOOKINGS {
        let customer = app.customer(org, json!({"name": format!("C {i}"), "email": format!("c{i}@example.com")})).await;
        let start = at(studio.tz, crate::bookings::in_days(3 + (i / 8) as i64), 9 + (i % 8) as u32, 0);
        let res = app
            .post(
                &org.key,
                "/v1/bookings",
                json!({"serviceId": studio.service, "start": start.to_rfc3339(), "customerId": customer}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }
    // Their time comes (as the clock would bring it).
    let admin = app.admin().await;
    admin.execute("update app.deliveries set next_attempt_at = now() where status = 'pending'", &[]).await.unwrap();
    let worker = |app: &TestApp| {
        let socket = crate::common::cluster().embedded.socket_dir().display().to_string();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_favcrm"));
        cmd.args(["worker", "--once"])
            .env("DATABASE_URL", format!("host={socket} port=5432 user=postgres dbname={}", app.dbname))
            .env("FAVCRM_DATA_DIR", &app.mail_dir)
            .env("FAVCRM_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        cmd
    };
    let (one, two) = tokio::task::block_in_place(|| {
        let a = worker(&app).spawn().unwrap();
        let b = worker(&app).spawn().unwrap();
        (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
    });
    let sent = |out: &std::process::Output| -> i64 {
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        report["outbox"]["sent"].as_i64().unwrap()
    };
    assert_eq!(sent(&one) + sent(&two), BOOKINGS as i64, "every reminder sent, none twice");
    let row = admin
        .query_one(
            "select count(*) filter (where d.status = 'sent'), count(*), coalesce(max(d.attempts), 0),
                    (select count(*) from app.delivery_attempts)
               from app.deliveries d",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1), row.get::<_, i32>(2), row.get::<_, i64>(3)),
        (16, 16, 1, 16)
    );
    assert_eq!(app.mails_to("c0@example.com").await.len(), 1);
}

#[tokio::test]
async fn a_campaign_goes_to_the_consenting_customers_of_its_segment_once_a_person_approves_it() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    app.patch(&org.key, "/v1/messaging-settings", json!({"quietHours": null})).await;
    let desk = crate::approvals::app_key(&app, &org).await;
    let offer =
        email_template(&app, &org, "Offer", "marketing", "For you, {{customer.first_name}}", "VIP evening on Friday.")
            .await;
    let consent = json!({"email": {"granted": true, "source": "form"}});
    for (name, stage, agreed) in
        [("Ann", "vip", true), ("Bo", "vip", true), ("Cy", "vip", true), ("Di", "vip", false), ("Ed", "customer", true)]
    {
        let mut body =
            json!({"name": name, "email": format!("{}@example.com", name.to_lowercase()), "lifecycleStage": stage});
        if agreed {
            body["marketingConsent"] = consent.clone();
        }
        app.customer(&org, body).await;
    }
    let created = app
        .post(
            &org.key,
            "/v1/campaigns",
            json!({"name": "VIP evening", "templateId": offer, "segment": {"lifecycleStage": "vip"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let preview = app.get(&org.key, &format!("/v1/campaigns/{id}/preview?sampleSize=2")).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!((preview.body["segmentSize"].as_i64(), preview.body["recipients"].as_i64()), (Some(4), Some(3)));
    assert_eq!(preview.body["skipped"], json!({"no_consent": 1}));
    assert_eq!(preview.body["sample"][0]["subject"], "For you, Ann");
    assert_eq!(preview.body["sample"].as_array().unwrap().len(), 2);

    // The agent sends it: a person approves exactly these three messages first.
    let asked = app.post(&org.key, &format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!((asked.status, asked.code()), (StatusCode::ACCEPTED, "approval_required"), "{}", asked.body);
    assert_eq!(asked.body["approval"]["snapshot"]["messages"].as_array().unwrap().len(), 3);
    assert_eq!(app.get(&org.key, &format!("/v1/campaigns/{id}")).await.body["status"], "awaiting_approval");
    assert_eq!(app.count("app.messages", Some(org.id)).await, 0, "nothing before the approval");
    let approval = asked.body["approvalId"].as_str().unwrap();
    let approved = app.post(&desk, &format!("/v1/approvals/{approval}/approve"), json!({})).await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);
    app.outbox_idle().await;
    let campaign = app.get(&org.key, &format!("/v1/campaigns/{id}")).await;
    assert_eq!(campaign.body["status"], "sent");
    assert_eq!((campaign.body["recipients"].as_i64(), campaign.body["skipped"].as_i64()), (Some(3), Some(1)));
    assert_eq!(campaign.body["messages"]["sent"], 3, "{}", campaign.body);
    for who in ["ann", "bo", "cy"] {
        assert_eq!(app.mails_to(&format!("{who}@example.com")).await.len(), 1, "{who}");
    }
    assert!(app.mails_to("di@example.com").await.is_empty() && app.mails_to("ed@example.com").await.is_empty());
    let again = app.post(&desk, &format!("/v1/campaigns/{id}/send"), json!({})).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "campaign_not_draft"));
    // Only customer and organisation variables: a booking's have no booking here.
    let booking_template = email_template(&app, &org, "B", "marketing", "x", "{{booking.time}}").await;
    let refused = app.post(&org.key, "/v1/campaigns", json!({"name": "No", "templateId": booking_template})).await;
    assert_eq!(refused.field_code(), "template_needs_a_booking");
}

#[tokio::test]
async fn a_seat_given_from_the_waiting_list_sends_its_promotion_not_a_confirmation() {
    let app = TestApp::spawn().await;
    let s =
        app.studio("Europe/London", crate::bookings::every_day(&[("06:00", "22:00")]), json!({"capacity": 2}), 1).await;
    let org = &s.org;
    let confirm = email_template(&app, org, "Confirm", "transactional", "Booked", "See you {{booking.start}}.").await;
    let promoted =
        email_template(&app, org, "Promoted", "transactional", "A seat for you", "A seat opened: {{booking.start}}.")
            .await;
    rule(&app, org, json!({"event": "confirmation", "templateId": confirm})).await;
    rule(&app, org, json!({"event": "waitlist_promotion", "templateId": promoted})).await;
    let start = at(s.tz, crate::bookings::in_days(3), 18, 0);
    let session = app
        .post(
            &org.key,
            "/v1/class-sessions",
            json!({"serviceId": s.service, "staffId": s.staff[0], "start": start.to_rfc3339()}),
        )
        .await;
    let session = session.body["items"][0]["id"].as_str().unwrap().to_string();
    let seat =
        app.book(&org.key, &s.service, start, json!({"customer": {"name": "Ann", "email": "ann@example.com"}})).await;
    assert_eq!(seat.status, StatusCode::CREATED, "{}", seat.body);
    let other =
        app.book(&org.key, &s.service, start, json!({"customer": {"name": "Bob", "email": "bob@example.com"}})).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    let waiting = app
        .post(
            &org.key,
            &format!("/v1/class-sessions/{session}/waitlist"),
            json!({"customer": {"name": "Cat", "email": "cat@example.com"}}),
        )
        .await;
    assert_eq!(waiting.status, StatusCode::CREATED, "{}", waiting.body);
    let res = app
        .confirmed(
            &org.key,
            Method::POST,
            &format!("/v1/bookings/{}/cancel", seat.body["id"].as_str().unwrap()),
            Some(json!({})),
        )
        .await;
    assert_eq!(res.body["status"], "cancelled", "{}", res.body);
    let cat = waiting.body["customerId"].as_str().unwrap();
    let sent = booking_messages(&app, org, cat).await;
    assert_eq!(sent.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["booking_waitlist_promotion"], "{sent:?}");
    let mails = app.mails_to("cat@example.com").await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "A seat for you");
}

#[tokio::test]
async fn a_booking_from_a_web_page_gets_its_confirmation_and_reminder_too() {
    let app = TestApp::spawn().await;
    let s = app.studio("Europe/London", crate::bookings::every_day(&[("09:00", "17:00")]), json!({}), 1).await;
    let org = &s.org;
    let confirm = email_template(
        &app,
        org,
        "Confirm",
        "transactional",
        "Booked",
        "See you {{booking.start}}, {{customer.first_name}}.",
    )
    .await;
    let remind = email_template(&app, org, "Remind", "transactional", "Soon", "{{booking.time}}").await;
    rule(&app, org, json!({"event": "confirmation", "templateId": confirm})).await;
    rule(&app, org, json!({"event": "reminder", "templateId": remind, "hoursBefore": 24})).await;
    let created = app
        .post(&org.key, "/v1/publishable-keys", json!({"name": "Site", "allowedOrigins": ["https://glow.example"]}))
        .await;
    let pk = created.body["publishableKey"].as_str().unwrap().to_string();
    let start = at(s.tz, crate::bookings::in_days(3), 10, 0);
    let booked = app
        .call_with(
            Some(&pk),
            Method::POST,
            "/v1/bookings",
            Some(json!({"serviceId": s.service, "start": start.to_rfc3339(), "customer": {"name": "Web Visitor", "email": "web@example.com"}})),
            &[("Origin", "https://glow.example")],
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    let mails = app.mails_to("web@example.com").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].1.contains("See you") && mails[0].1.contains("Web."), "{}", mails[0].1);
    let scheduled = app.get(&org.key, "/v1/messages?status=scheduled").await;
    assert_eq!(scheduled.body["items"].as_array().unwrap().len(), 1, "{}", scheduled.body);
}
