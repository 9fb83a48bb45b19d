//! Team onboarding: invitations with a role ceiling, joining with an emailed code, roles,
//! removal, the last owner, the organisations of a person, and key rotation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Org, Res, TestApp};

impl TestApp {
    async fn invite(&self, key: &str, email: &str, role: &str) -> Res {
        self.post(key, "/v1/team-invites", json!({"email": email, "name": "New Colleague", "role": role})).await
    }

    /// The invitation token in the latest invitation mail to `email`.
    async fn token_from_mail(&self, email: &str) -> String {
        let mails = self.mails_to(email).await;
        let (_, text) = mails.iter().rev().find(|(s, _)| s.contains("invited you")).expect("an invitation mail");
        text.split_whitespace().find(|w| w.starts_with("fav_inv_")).expect("a token").to_string()
    }

    /// Accepts an invitation from its mail, as the invitee would, and returns their key.
    async fn join(&self, email: &str, name: &str) -> Value {
        let token = self.token_from_mail(email).await;
        let req = self.call(None, Method::POST, "/v1/team-invites/accept/request", Some(json!({"token": token}))).await;
        assert_eq!(req.status, StatusCode::ACCEPTED, "{}", req.body);
        let code = self.latest_code(email).await;
        let done = self
            .call(
                None,
                Method::POST,
                "/v1/team-invites/accept/verify",
                Some(json!({"token": token, "code": code, "name": name})),
            )
            .await;
        assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
        done.body
    }

    async fn member_id(&self, key: &str, email: &str) -> String {
        let members = self.get(key, "/v1/team-members?includeRemoved=true").await;
        members.body["items"].as_array().unwrap().iter().find(|m| m["email"] == email).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

#[tokio::test]
async fn an_owner_invites_a_colleague_who_joins_with_their_own_key() {
    let app = TestApp::spawn().await;
    let owner = app.signup("lee@example.com", "Lee Fitness", Some("HK")).await;
    let invite = app.invite(&owner.key, "Sam@Example.com", "manager").await;
    assert_eq!(invite.status, StatusCode::CREATED, "{}", invite.body);
    assert_eq!(invite.body["status"], "pending");
    assert!(invite.body["emailDeliveryId"].is_string(), "{}", invite.body);
    let token = invite.body["token"].as_str().unwrap();
    assert!(token.starts_with("fav_inv_"));
    assert_eq!(app.token_from_mail("sam@example.com").await, token);
    let stored: Vec<u8> =
        app.admin().await.query_one("select token_digest from app.team_invites", &[]).await.unwrap().get(0);
    assert_eq!(stored.len(), 32, "only a digest of the token is stored");

    let joined = app.join("sam@example.com", "Sam Wu").await;
    assert_eq!(joined["role"], "manager");
    assert_eq!(joined["organisationName"], "Lee Fitness");
    let sam = joined["apiKey"].as_str().unwrap();
    let members = app.get(sam, "/v1/team-members").await;
    assert_eq!(members.body["items"].as_array().unwrap().len(), 2, "{}", members.body);
    assert_eq!(app.get(sam, "/v1/organisation").await.body["name"], "Lee Fitness");
    let listed = app.get(&owner.key, "/v1/team-invites").await;
    assert_eq!(listed.body["items"][0]["status"], "accepted");

    // The invitation is single use.
    let again = app.call(None, Method::POST, "/v1/team-invites/accept/request", Some(json!({"token": token}))).await;
    assert_eq!((again.status, again.code()), (StatusCode::GONE, "invite_used"));
}

#[tokio::test]
async fn nobody_can_invite_at_or_above_their_own_role() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (_, admin) = app.add_member(&org, "admin", None).await;
    let (_, manager) = app.add_member(&org, "manager", None).await;
    let (_, staff) = app.add_member(&org, "staff", None).await;
    for (key, role, expected) in [
        (&manager, "manager", "role_exceeds_caller"),
        (&manager, "admin", "role_exceeds_caller"),
        (&admin, "admin", "role_exceeds_caller"),
    ] {
        let res = app.invite(key, "x@example.com", role).await;
        assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, expected), "{role}: {}", res.body);
    }
    let owner_role = app.invite(&org.key, "x@example.com", "owner").await;
    assert_eq!(owner_role.field(), "role", "an invitation never grants owner");
    let staff_invites = app.invite(&staff, "x@example.com", "staff").await;
    assert_eq!((staff_invites.status, staff_invites.code()), (StatusCode::FORBIDDEN, "insufficient_scope"));
    assert_eq!(app.count("app.team_invites", None).await, 0);
    assert_eq!(app.invite(&manager, "x@example.com", "staff").await.status, StatusCode::CREATED);
    assert_eq!(app.invite(&admin, "y@example.com", "manager").await.status, StatusCode::CREATED);
    // Staff see the team but not the invitations.
    assert_eq!(app.get(&staff, "/v1/team-members").await.status, StatusCode::OK);
    assert_eq!(app.get(&staff, "/v1/team-invites").await.status, StatusCode::FORBIDDEN);
    // An existing member cannot be invited again.
    let members = app.get(&org.key, "/v1/team-members").await;
    let admin_email = members.body["items"].as_array().unwrap().iter().find(|m| m["role"] == "admin").unwrap()["email"]
        .as_str()
        .unwrap()
        .to_string();
    let dup = app.invite(&org.key, &admin_email, "staff").await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "already_member"));
}

#[tokio::test]
async fn expired_revoked_and_superseded_invitations_cannot_be_accepted() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let accept = |token: String| {
        let app = &app;
        async move { app.call(None, Method::POST, "/v1/team-invites/accept/request", Some(json!({"token": token}))).await }
    };
    let first = app.invite(&org.key, "a@example.com", "staff").await;
    let second = app.invite(&org.key, "a@example.com", "staff").await;
    let superseded = accept(first.body["token"].as_str().unwrap().into()).await;
    assert_eq!((superseded.status, superseded.code()), (StatusCode::GONE, "invite_revoked"));

    let id = second.body["id"].as_str().unwrap();
    let revoked = app.delete_confirmed(&org.key, &format!("/v1/team-invites/{id}")).await;
    assert_eq!(revoked.body["status"], "revoked", "{}", revoked.body);
    let refused = accept(second.body["token"].as_str().unwrap().into()).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::GONE, "invite_revoked"));

    let third = app.invite(&org.key, "b@example.com", "staff").await;
    // Time passes (written past the audit trigger, as no request would write it).
    app.admin()
        .await
        .batch_execute(
            "set session_replication_role = replica; update app.team_invites set expires_at = now() - interval '1 minute'",
        )
        .await
        .unwrap();
    let expired = accept(third.body["token"].as_str().unwrap().into()).await;
    assert_eq!((expired.status, expired.code()), (StatusCode::GONE, "invite_expired"));
    let unknown = accept("fav_inv_unknown".into()).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "invite_not_found"));
    assert_eq!(app.count("app.memberships", Some(org.id)).await, 1);
}

#[tokio::test]
async fn an_invitation_code_allows_five_attempts() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let token = app.invite(&org.key, "c@example.com", "staff").await.body["token"].as_str().unwrap().to_string();
    app.call(None, Method::POST, "/v1/team-invites/accept/request", Some(json!({"token": token}))).await;
    let code = app.latest_code("c@example.com").await;
    let wrong = if code == "999999" { "000000" } else { "999999" };
    let verify = |code: String| {
        let app = &app;
        let token = token.clone();
        async move {
            app.call(None, Method::POST, "/v1/team-invites/accept/verify", Some(json!({"token": token, "code": code})))
                .await
        }
    };
    for _ in 0..5 {
        assert_eq!(verify(wrong.into()).await.field_code(), "invalid_code");
    }
    let right = verify(code).await;
    assert_eq!((right.status, right.code()), (StatusCode::GONE, "too_many_attempts"));
    // A new code can be asked for; it works.
    app.call(None, Method::POST, "/v1/team-invites/accept/request", Some(json!({"token": token}))).await;
    let fresh = verify(app.latest_code("c@example.com").await).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let me = app.member_id(&org.key, &owner_email(&app, &org).await).await;
    let demote =
        app.confirmed(&org.key, Method::PATCH, &format!("/v1/team-members/{me}"), Some(json!({"role": "admin"}))).await;
    assert_eq!((demote.status, demote.code()), (StatusCode::CONFLICT, "last_owner"), "{}", demote.body);
    let remove = app.delete_confirmed(&org.key, &format!("/v1/team-members/{me}")).await;
    assert_eq!((remove.status, remove.code()), (StatusCode::CONFLICT, "last_owner"));

    // With a second owner, the first may step down.
    let (admin_user, admin_key) = app.add_member(&org, "admin", None).await;
    let admin_member = app.member_id(&org.key, &email_of(&app, admin_user).await).await;
    let promoted = app
        .confirmed(&org.key, Method::PATCH, &format!("/v1/team-members/{admin_member}"), Some(json!({"role": "owner"})))
        .await;
    assert_eq!(promoted.body["role"], "owner", "{}", promoted.body);
    let stepped_down =
        app.confirmed(&org.key, Method::PATCH, &format!("/v1/team-members/{me}"), Some(json!({"role": "admin"}))).await;
    assert_eq!(stepped_down.body["role"], "admin", "{}", stepped_down.body);
    // The demoted owner's key follows the role at once: admins cannot touch owners.
    let back = app
        .confirmed(&org.key, Method::PATCH, &format!("/v1/team-members/{admin_member}"), Some(json!({"role": "staff"})))
        .await;
    assert_eq!((back.status, back.code()), (StatusCode::FORBIDDEN, "role_exceeds_caller"));
    assert_eq!(app.get(&admin_key, "/v1/organisation").await.status, StatusCode::OK);
}

#[tokio::test]
async fn managers_cannot_change_roles_and_admins_cannot_manage_owners() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (_, admin) = app.add_member(&org, "admin", None).await;
    let (_, manager) = app.add_member(&org, "manager", None).await;
    let (staff_user, _) = app.add_member(&org, "staff", None).await;
    let staff_member = app.member_id(&org.key, &email_of(&app, staff_user).await).await;
    let owner_member = app.member_id(&org.key, &owner_email(&app, &org).await).await;
    let by_manager = app
        .confirmed(
            &manager,
            Method::PATCH,
            &format!("/v1/team-members/{staff_member}"),
            Some(json!({"role": "manager"})),
        )
        .await;
    assert_eq!((by_manager.status, by_manager.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let on_owner = app.delete_confirmed(&admin, &format!("/v1/team-members/{owner_member}")).await;
    assert_eq!((on_owner.status, on_owner.code()), (StatusCode::FORBIDDEN, "role_exceeds_caller"));
    let to_admin = app
        .confirmed(&admin, Method::PATCH, &format!("/v1/team-members/{staff_member}"), Some(json!({"role": "admin"})))
        .await;
    assert_eq!((to_admin.status, to_admin.code()), (StatusCode::FORBIDDEN, "role_exceeds_caller"));
    let ok = app
        .confirmed(&admin, Method::PATCH, &format!("/v1/team-members/{staff_member}"), Some(json!({"role": "manager"})))
        .await;
    assert_eq!(ok.body["role"], "manager", "{}", ok.body);
}

#[tokio::test]
async fn removing_a_member_revokes_their_keys_on_the_next_request() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (user, key) = app.add_member(&org, "staff", None).await;
    let second = app.insert_key(&org, user, None, None).await;
    assert_eq!(app.get(&key, "/v1/customers").await.status, StatusCode::OK);
    let member = app.member_id(&org.key, &email_of(&app, user).await).await;
    // An agent is asked to confirm first; nothing happens until it does.
    let asked = app.delete(&org.key, &format!("/v1/team-members/{member}")).await;
    assert_eq!(asked.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(app.get(&key, "/v1/customers").await.status, StatusCode::OK);
    let removed = app.delete_confirmed(&org.key, &format!("/v1/team-members/{member}")).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(removed.body["status"], "removed");
    assert_eq!(removed.body["revokedKeys"], 2);
    for key in [&key, &second] {
        let res = app.get(key, "/v1/customers").await;
        assert_eq!((res.status, res.code()), (StatusCode::UNAUTHORIZED, "invalid_api_key"));
    }
    let listed = app.get(&org.key, "/v1/team-members").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_removed_member_can_come_back_by_a_new_invitation() {
    let app = TestApp::spawn().await;
    let owner = app.signup("olu@example.com", "Olu Hair", None).await;
    app.invite(&owner.key, "kim@example.com", "staff").await;
    let kim = app.join("kim@example.com", "Kim").await;
    let member = kim["memberId"].as_str().unwrap();
    app.delete_confirmed(&owner.key, &format!("/v1/team-members/{member}")).await;
    app.invite(&owner.key, "kim@example.com", "manager").await;
    let back = app.join("kim@example.com", "Kim Lee").await;
    assert_eq!(back["memberId"], member, "the same membership returns");
    assert_eq!(back["role"], "manager");
    assert_eq!(app.get(back["apiKey"].as_str().unwrap(), "/v1/team-members").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_person_in_two_organisations_lists_both() {
    let app = TestApp::spawn().await;
    let first = app.signup("mo@example.com", "Mo Yoga", None).await;
    let second = app.signup("zed@example.com", "Zed Pilates", None).await;
    app.invite(&second.key, "mo@example.com", "admin").await;
    let joined = app.join("mo@example.com", "Mo").await;
    let listed = app.get(joined["apiKey"].as_str().unwrap(), "/v1/me/organisations").await;
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", listed.body);
    let current: Vec<&Value> = items.iter().filter(|i| i["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["name"], "Zed Pilates");
    assert_eq!(current[0]["role"], "admin");
    let from_first = app.get(&first.key, "/v1/me/organisations").await;
    assert_eq!(from_first.body["items"].as_array().unwrap().len(), 2);
    let other = app.get(&second.key, "/v1/me/organisations").await;
    assert_eq!(other.body["items"].as_array().unwrap().len(), 1, "only the caller's own memberships");
}

#[tokio::test]
async fn rotating_a_key_replaces_it_now_or_after_a_grace_period() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let make = |name: &'static str| {
        let app = &app;
        let key = org.key.clone();
        async move {
            let res = app.post(&key, "/v1/api-keys", json!({"name": name, "toolsets": ["customers"]})).await;
            (res.body["id"].as_str().unwrap().to_string(), res.body["apiKey"].as_str().unwrap().to_string())
        }
    };
    let (id, old) = make("website").await;
    let rotated = app.confirmed(&org.key, Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(json!({}))).await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    let new = rotated.body["apiKey"].as_str().unwrap();
    assert_eq!(rotated.body["name"], "website");
    assert_eq!(rotated.body["toolsets"], json!(["customers"]));
    assert_eq!(rotated.body["previousKey"]["status"], "revoked");
    assert_eq!(rotated.body["previousKey"]["replacedById"], rotated.body["id"]);
    assert_eq!(app.get(&old, "/v1/customers").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(new, "/v1/customers").await.status, StatusCode::OK);
    let twice = app.confirmed(&org.key, Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(json!({}))).await;
    assert_eq!((twice.status, twice.code()), (StatusCode::CONFLICT, "key_not_active"));

    let (id, old) = make("backend").await;
    let graceful = app
        .confirmed(
            &org.key,
            Method::POST,
            &format!("/v1/api-keys/{id}/rotate"),
            Some(json!({"gracePeriodMinutes": 60})),
        )
        .await;
    assert_eq!(graceful.body["previousKey"]["status"], "active");
    assert!(graceful.body["previousKey"]["expiresAt"].is_string());
    assert_eq!(
        app.get(&old, "/v1/customers").await.status,
        StatusCode::OK,
        "the old key works during the grace period"
    );

    // Nobody rotates someone else's key: the new secret would act as them.
    let (_, admin) = app.add_member(&org, "admin", None).await;
    let theirs = app.confirmed(&admin, Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(json!({}))).await;
    assert_eq!((theirs.status, theirs.code()), (StatusCode::FORBIDDEN, "not_key_holder"));
}

async fn owner_email(app: &TestApp, org: &Org) -> String {
    email_of(app, org.owner_id).await
}

async fn email_of(app: &TestApp, user: uuid::Uuid) -> String {
    app.admin().await.query_one("select email from app.users where id = $1", &[&user]).await.unwrap().get(0)
}
