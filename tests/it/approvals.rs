//! Approvals: an agent key's message or refund waits for a person, who approves exactly the
//! snapshot (sent once, even if approved twice or the template changed meanwhile) or rejects it;
//! agent keys never decide; approvals expire; an organisation chooses what needs approval.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Org, Res, TestApp};

/// An app key (fav_sk_) of the organisation's owner: a person's back office, which may decide.
pub async fn app_key(app: &TestApp, org: &Org) -> String {
    let res = app
        .confirmed(&org.key, Method::POST, "/v1/api-keys", Some(json!({"name": "Back office", "kind": "app"})))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body["apiKey"].as_str().unwrap().to_string()
}

pub async fn consenting_customer(app: &TestApp, org: &Org, name: &str) -> String {
    let email = format!("{}@example.com", name.to_lowercase());
    app.customer(
        org,
        json!({"name": name, "email": email, "marketingConsent": {"email": {"granted": true, "source": "form"}}}),
    )
    .await
    .to_string()
}

/// A marketing template; and no quiet hours, so that what is approved goes at once whatever
/// the time of day the test runs.
pub async fn marketing_template(app: &TestApp, org: &Org) -> String {
    let res = app.patch(&org.key, "/v1/messaging-settings", json!({"quietHours": null})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = app
        .post(
            &org.key,
            "/v1/message-templates",
            json!({"name": "Spring", "channel": "email", "purpose": "marketing", "subject": "Spring at {{organisation.name}}",
                   "body": "Hello {{customer.first_name}}, 20% off all week."}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body["id"].as_str().unwrap().to_string()
}

/// An agent's send that waits for approval: the approval.
pub async fn asked(app: &TestApp, org: &Org, customer: &str, template: &str) -> Value {
    let res = app.post(&org.key, "/v1/messages", json!({"customerId": customer, "templateId": template})).await;
    assert_eq!((res.status, res.code()), (StatusCode::ACCEPTED, "approval_required"), "{}", res.body);
    res.body["approval"].clone()
}

async fn decide(app: &TestApp, key: &str, approval: &Value, how: &str) -> Res {
    app.post(key, &format!("/v1/approvals/{}/{how}", approval["id"].as_str().unwrap()), json!({})).await
}

#[tokio::test]
async fn an_agents_message_waits_for_a_person_and_exactly_the_approved_snapshot_is_sent_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let desk = app_key(&app, &org).await;
    let amy = consenting_customer(&app, &org, "Amy").await;
    let template = marketing_template(&app, &org).await;
    let approval = asked(&app, &org, &amy, &template).await;
    assert_eq!(approval["status"], "pending");
    assert_eq!(approval["operation"], "send_message");
    assert_eq!(approval["snapshot"]["body"], "Hello Amy, 20% off all week.");
    assert_eq!(approval["snapshot"]["recipient"], "amy@example.com");
    assert!(approval["summary"].as_str().unwrap().contains("Amy"), "{approval}");
    // Nothing went out, nothing is queued.
    assert_eq!(app.count("app.messages", Some(org.id)).await, 0);
    assert_eq!(app.count("app.deliveries", Some(org.id)).await, 0);
    // The template changes meanwhile; what was approved is what was shown.
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.message_templates set body = 'Changed after the request' where id = '{template}';
             set session_replication_role = origin;"
        ))
        .await
        .unwrap();
    // The agent cannot approve its own request, nor any other.
    let own = decide(&app, &org.key, &approval, "approve").await;
    assert_eq!((own.status, own.code()), (StatusCode::FORBIDDEN, "agent_cannot_decide"), "{}", own.body);
    let inbox = app.get(&desk, "/v1/approvals?status=pending").await;
    assert_eq!(inbox.body["items"][0]["id"], approval["id"]);
    let approved = decide(&app, &desk, &approval, "approve").await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(approved.body["result"]["body"], "Hello Amy, 20% off all week.");
    assert_eq!(approved.body["result"]["source"], "approval");
    // Approved twice: sent once.
    let again = decide(&app, &desk, &approval, "approve").await;
    assert_eq!(
        (again.status, again.body["result"]["id"].clone()),
        (StatusCode::OK, approved.body["result"]["id"].clone())
    );
    let mails = app.mails_to("amy@example.com").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].1.contains("Hello Amy, 20% off all week."), "{}", mails[0].1);
    assert_eq!(app.count("app.messages", Some(org.id)).await, 1);
    // Decided: it cannot be rejected after.
    let late = decide(&app, &desk, &approval, "reject").await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "approval_decided"));
}

#[tokio::test]
async fn a_rejected_or_expired_approval_sends_nothing_and_withdrawn_consent_fails_one_approved_later() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let desk = app_key(&app, &org).await;
    let template = marketing_template(&app, &org).await;
    let ben = consenting_customer(&app, &org, "Ben").await;
    let rejected = asked(&app, &org, &ben, &template).await;
    let res = app
        .post(
            &desk,
            &format!("/v1/approvals/{}/reject", rejected["id"].as_str().unwrap()),
            json!({"note": "Not this week"}),
        )
        .await;
    assert_eq!((res.body["status"].as_str(), res.body["note"].as_str()), (Some("rejected"), Some("Not this week")));
    assert_eq!(decide(&app, &desk, &rejected, "approve").await.code(), "approval_decided");

    let expired = asked(&app, &org, &ben, &template).await;
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.approvals set expires_at = now() - interval '1 second' where id = '{}';
             set session_replication_role = origin;",
            expired["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    let res = decide(&app, &desk, &expired, "approve").await;
    assert_eq!((res.status, res.code()), (StatusCode::GONE, "approval_expired"), "{}", res.body);
    let listed = app.get(&desk, "/v1/approvals?status=expired").await;
    assert_eq!(listed.body["items"][0]["id"], expired["id"]);

    let withdrawn = asked(&app, &org, &ben, &template).await;
    let res = app
        .patch(
            &org.key,
            &format!("/v1/customers/{ben}"),
            json!({"marketingConsent": {"email": {"granted": false, "source": "phone call"}}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = decide(&app, &desk, &withdrawn, "approve").await;
    assert_eq!(res.body["status"], "failed", "{}", res.body);
    assert!(res.body["error"].as_str().unwrap().starts_with("no_consent"), "{}", res.body);
    assert_eq!(app.count("app.messages", Some(org.id)).await, 0, "nothing was sent");
}

#[tokio::test]
async fn an_agents_refund_waits_for_an_admin_instead_of_the_confirmation_step() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let desk = app_key(&app, &org).await;
    let customer = app.customer(&org, json!({"name": "Cy"})).await.to_string();
    let invoice = crate::billing::open_invoice(&app, &org, &customer, 5000).await;
    let paid =
        app.post(&org.key, "/v1/payments", json!({"invoiceId": invoice, "amount": 5000, "method": "cash"})).await;
    let payment = paid.body["id"].as_str().unwrap().to_string();
    let res = app.post(&org.key, &format!("/v1/payments/{payment}/refunds"), json!({"reason": "unhappy"})).await;
    assert_eq!((res.status, res.code()), (StatusCode::ACCEPTED, "approval_required"), "{}", res.body);
    let approval = res.body["approval"].clone();
    assert_eq!(approval["snapshot"]["refund"]["amount"], 5000);
    assert_eq!(app.get(&org.key, &format!("/v1/payments/{payment}")).await.body["amountRefunded"]["amount"], 0);
    // A manager's app key may decide messages, not refunds.
    let (_, manager_agent) = app.add_member(&org, "manager", None).await;
    let manager = app_key(&app, &Org { key: manager_agent, ..org.clone() }).await;
    let res = decide(&app, &manager, &approval, "approve").await;
    assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "forbidden"), "{}", res.body);
    let res = decide(&app, &desk, &approval, "approve").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["status"], "approved");
    assert_eq!(res.body["result"]["amountRefunded"]["amount"], 5000, "{}", res.body);
    assert_eq!(app.get(&org.key, &format!("/v1/invoices/{invoice}")).await.body["status"], "open");
    // Approved again: refunded once.
    decide(&app, &desk, &approval, "approve").await;
    assert_eq!(
        app.get(&org.key, &format!("/v1/payments/{payment}")).await.body["refunds"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn an_organisation_chooses_what_needs_approval_and_an_mcp_agent_is_told_to_wait() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = consenting_customer(&app, &org, "Amy").await;
    let template = marketing_template(&app, &org).await;
    // Over MCP: an error result the agent reads, saying what waits and where.
    let result = app.tool(&org.key, "send_message", json!({"customerId": amy, "templateId": template})).await;
    assert_eq!(result["isError"], true, "{result}");
    let problem: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(problem["code"], "approval_required");
    assert!(problem["approvalId"].is_string() && problem["detail"].as_str().unwrap().contains("get_approval"));
    let settings = app.get(&org.key, "/v1/approval-settings").await;
    assert_eq!(settings.body["operations"], json!(["refund_payment", "send_campaign", "send_message"]));
    // The organisation takes messages off the list: the agent's send goes at once.
    let res = app.approval_settings(&org, json!({"operations": ["refund_payment"]})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let sent = app.post(&org.key, "/v1/messages", json!({"customerId": amy, "templateId": template})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    // Off the list, a refund is back to the confirmation step.
    app.approval_settings(&org, json!({"operations": []})).await;
    let customer = app.customer(&org, json!({"name": "Dee"})).await.to_string();
    let invoice = crate::billing::open_invoice(&app, &org, &customer, 1000).await;
    let paid =
        app.post(&org.key, "/v1/payments", json!({"invoiceId": invoice, "amount": 1000, "method": "cash"})).await;
    let res =
        app.post(&org.key, &format!("/v1/payments/{}/refunds", paid.body["id"].as_str().unwrap()), json!({})).await;
    assert_eq!((res.status.as_u16(), res.code()), (428, "confirmation_required"), "{}", res.body);
    let bad = app.approval_settings(&org, json!({"operations": ["delete_customer"]})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Staff see no approvals; another organisation cannot name these.
    let (_, staff) = app.add_member(&org, "staff", None).await;
    assert_eq!(app.get(&staff, "/v1/approvals").await.status, StatusCode::FORBIDDEN);
    let other = app.create_org("Other").await;
    let id = problem["approvalId"].as_str().unwrap();
    assert_eq!(app.get(&other.key, &format!("/v1/approvals/{id}")).await.status, StatusCode::NOT_FOUND);
    let other_desk = app_key(&app, &other).await;
    assert_eq!(
        app.post(&other_desk, &format!("/v1/approvals/{id}/approve"), json!({})).await.status,
        StatusCode::NOT_FOUND
    );
}

/// Two pending approvals, for the catalog-wide tests: one to approve, one to reject.
pub struct ApprovalsFixture {
    pub to_approve: String,
    pub to_reject: String,
}

pub async fn approvals_fixture(app: &TestApp, org: &Org) -> ApprovalsFixture {
    let customer = consenting_customer(app, org, "Quinn").await;
    let template = marketing_template(app, org).await;
    let first = asked(app, org, &customer, &template).await;
    let second = asked(app, org, &customer, &template).await;
    ApprovalsFixture {
        to_approve: first["id"].as_str().unwrap().to_string(),
        to_reject: second["id"].as_str().unwrap().to_string(),
    }
}

pub fn approvals_sample(op: &str, f: &ApprovalsFixture) -> Option<Value> {
    Some(match op {
        "list_approvals" | "get_approval_settings" => json!({}),
        "get_approval" | "approve" => json!({"approvalId": f.to_approve}),
        "reject" => json!({"approvalId": f.to_reject}),
        "update_approval_settings" => json!({"expiresAfterHours": 48}),
        _ => return None,
    })
}
