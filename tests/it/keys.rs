//! API keys, roles and scopes.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestApp;

#[tokio::test]
async fn requests_without_a_valid_key_get_401_with_www_authenticate() {
    let app = TestApp::spawn().await;
    app.create_org("Glow").await;
    let none = app.call(None, reqwest::Method::GET, "/v1/customers", None).await;
    assert_eq!((none.status, none.code()), (StatusCode::UNAUTHORIZED, "missing_api_key"));
    assert!(none.headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let wrong = app.get("fav_mcp_not-a-real-key", "/v1/customers").await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "invalid_api_key"));
    assert!(wrong.headers.contains_key("www-authenticate"));
}

#[tokio::test]
async fn a_created_key_works_is_listed_without_its_secret_and_stops_on_the_next_request_after_revocation() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let created = app.post(&org.key, "/v1/api-keys", json!({"name": "Claude", "scopes": ["customers:read"]})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.body["apiKey"].as_str().unwrap().to_string();
    assert!(secret.starts_with("fav_mcp_") && secret.len() >= 40, "{secret}");
    assert_eq!(created.body["prefix"], &secret[..12]);
    let id = created.body["id"].as_str().unwrap().to_string();

    assert_eq!(app.get(&secret, "/v1/customers").await.status, StatusCode::OK);
    let listed = app.get(&org.key, "/v1/api-keys").await;
    let text = listed.body.to_string();
    assert!(!text.contains(&secret) && !text.contains("digest"), "{text}");
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);

    let revoked = app.delete_confirmed(&org.key, &format!("/v1/api-keys/{id}")).await;
    assert_eq!(revoked.body["status"], "revoked");
    let after = app.get(&secret, "/v1/customers").await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "invalid_api_key"));
    let still = app.get(&org.key, "/v1/api-keys?includeRevoked=true").await;
    assert_eq!(still.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(app.get(&org.key, "/v1/api-keys").await.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn last_used_time_is_recorded() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    app.get(&org.key, "/v1/organisation").await;
    let mut last_used = serde_json::Value::Null;
    for _ in 0..50 {
        last_used = app.get(&org.key, "/v1/api-keys").await.body["items"][0]["lastUsedAt"].clone();
        if last_used.is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(last_used.is_string());
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let key = app.insert_key(&org, org.owner_id, None, Some(-60)).await;
    let res = app.get(&key, "/v1/customers").await;
    assert_eq!((res.status, res.code()), (StatusCode::UNAUTHORIZED, "invalid_api_key"));
    let past = app.post(&org.key, "/v1/api-keys", json!({"name": "Old", "expiresAt": "2001-01-01T00:00:00Z"})).await;
    assert_eq!((past.status, past.field_code()), (StatusCode::UNPROCESSABLE_ENTITY, "must_be_future"));
}

#[tokio::test]
async fn staff_cannot_create_keys() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (_, staff) = app.add_member(&org, "staff", None).await;
    let before = app.count("app.api_keys", Some(org.id)).await;
    let res = app.post(&staff, "/v1/api-keys", json!({"name": "mine"})).await;
    assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "insufficient_scope"));
    // Even a key that lists keys:write is bounded by the staff role.
    let listed = app
        .insert_key(&org, app.insert_member(&org, "staff").await, Some(&["keys:write", "customers:read"]), None)
        .await;
    let res = app.post(&listed, "/v1/api-keys", json!({"name": "mine"})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("app.api_keys", Some(org.id)).await, before + 1);
}

#[tokio::test]
async fn a_read_only_key_cannot_create_a_customer() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let key = app.insert_key(&org, org.owner_id, Some(&["customers:read"]), None).await;
    let res = app.post(&key, "/v1/customers", json!({"name": "Amy"})).await;
    assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "insufficient_scope"));
    assert_eq!(app.count("app.customers", None).await, 0);
    assert_eq!(app.get(&key, "/v1/customers").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_key_cannot_be_minted_with_more_than_its_creator_holds() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (_, manager) = app.add_member(&org, "manager", None).await;
    let res = app.post(&manager, "/v1/api-keys", json!({"name": "x", "scopes": ["audit:read"]})).await;
    assert_eq!((res.status, res.code(), res.field()), (StatusCode::FORBIDDEN, "scope_exceeds_caller", "scopes"));
    let narrow =
        app.post(&org.key, "/v1/api-keys", json!({"name": "narrow", "scopes": ["keys:write", "customers:read"]})).await;
    let narrow = narrow.body["apiKey"].as_str().unwrap().to_string();
    let res = app.post(&narrow, "/v1/api-keys", json!({"name": "wider", "scopes": ["customers:write"]})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let inherited = app.post(&narrow, "/v1/api-keys", json!({"name": "same"})).await;
    assert_eq!(inherited.status, StatusCode::CREATED);
    assert_eq!(inherited.body["scopes"], json!(["customers:read", "keys:write"]));
    let unknown = app.post(&org.key, "/v1/api-keys", json!({"name": "x", "scopes": ["everything"]})).await;
    assert_eq!((unknown.status, unknown.field()), (StatusCode::UNPROCESSABLE_ENTITY, "scopes[0]"));
}

#[tokio::test]
async fn only_owners_and_admins_see_all_keys_and_the_audit_log() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (_, manager) = app.add_member(&org, "manager", None).await;
    let (_, staff) = app.add_member(&org, "staff", None).await;
    let (_, admin) = app.add_member(&org, "admin", None).await;
    let mine = app.get(&manager, "/v1/api-keys").await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1, "a manager sees only their own key");
    let all = app.get(&admin, "/v1/api-keys").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 4);
    // A manager cannot revoke the owner's key: it is invisible to them.
    let owner_key_id = app.get(&org.key, "/v1/api-keys").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["userId"] == org.owner_id.to_string())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app.delete(&manager, &format!("/v1/api-keys/{owner_key_id}")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    for key in [&manager, &staff] {
        let res = app.get(key, "/v1/audit-events").await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.get(&admin, "/v1/audit-events").await.status, StatusCode::OK);
    let res = app.patch(&manager, "/v1/organisation", json!({"name": "Mine now"})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&staff, "/v1/organisation").await.body["name"], "Glow");
}

/// auth.authenticate uses the claims auth.touch_api_key stored with a key (V15) only while they
/// still describe it: built for its holder's current role, since the definitions were last
/// applied, and with its own columns unchanged. Shown by forging the stored claims: the forgery
/// is obeyed while those hold, and ignored as soon as one does not.
#[tokio::test]
async fn stored_claims_are_used_only_while_they_still_describe_the_key() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let admin = app.admin().await;
    // The audit trigger records the changes below as made in this organisation (for the whole
    // session, so set as auth.set_claims would, but not local to a transaction).
    let claims = json!({"org_id": org.id}).to_string();
    admin
        .execute(
            "select pg_catalog.set_config('request.claims', $1, false), pg_catalog.set_config('request.org_id', $2, false)",
            &[&claims, &org.id.to_string()],
        )
        .await
        .unwrap();
    let by_digest = "where k.key_digest = pg_catalog.sha256(pg_catalog.convert_to($1, 'UTF8'))";
    let this_key = format!("from app.api_keys k {by_digest}");
    assert_eq!(app.get(&org.key, "/v1/audit-events").await.status, StatusCode::OK);
    // The request has the key touched, which stores its claims.
    let mut stored = false;
    for _ in 0..100 {
        let row = admin.query_one(&format!("select k.claims is not null {this_key}"), &[&org.key]).await.unwrap();
        stored = row.get(0);
        if stored {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(stored, "the key's claims were not stored");
    let row = admin
        .query_one(
            &format!("select k.claims_role, k.claims_generation = 'auth.key_claims'::regtype::oid {this_key}"),
            &[&org.key],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, String>(0), row.get::<_, bool>(1)), ("owner".to_string(), true));

    let update = |set: &str| format!("update app.api_keys k set {set} {by_digest}");
    let forge = update("claims = pg_catalog.jsonb_set(k.claims::jsonb, '{scopes}', '[\"customers:read\"]')::text");
    let audit = || app.get(&org.key, "/v1/audit-events");
    admin.execute(&forge, &[&org.key]).await.unwrap();
    assert_eq!(audit().await.status, StatusCode::FORBIDDEN, "the stored claims are what authenticates");
    assert_eq!(app.get(&org.key, "/v1/customers").await.status, StatusCode::OK);

    // The holder's role changes: the claims were built for another one.
    let set_role = "update app.memberships m set role = $2 where m.org_id = $1 and m.user_id = $3";
    admin.execute(set_role, &[&org.id, &"admin", &org.owner_id]).await.unwrap();
    assert_eq!(audit().await.status, StatusCode::OK, "claims built for the owner role were used for an admin");
    admin.execute(set_role, &[&org.id, &"owner", &org.owner_id]).await.unwrap();
    assert_eq!(audit().await.status, StatusCode::FORBIDDEN);

    // Claims built before the definitions were last applied (the type auth.key_claims is
    // created anew each time).
    admin.execute(&update("claims_generation = 1"), &[&org.key]).await.unwrap();
    assert_eq!(audit().await.status, StatusCode::OK, "claims built by older definitions were used");

    // A column they were built from changes: the trigger forgets them.
    admin.execute(&forge, &[&org.key]).await.unwrap();
    admin.execute(&update("claims_generation = 'auth.key_claims'::regtype::oid"), &[&org.key]).await.unwrap();
    assert_eq!(audit().await.status, StatusCode::FORBIDDEN);
    admin.execute(&update("toolsets = '{audit,customers}'"), &[&org.key]).await.unwrap();
    let row = admin.query_one(&format!("select k.claims is null {this_key}"), &[&org.key]).await.unwrap();
    assert!(row.get::<_, bool>(0), "changing the key's toolsets left its claims");
    assert_eq!(audit().await.status, StatusCode::OK);
    assert_eq!(app.get(&org.key, "/v1/services").await.status, StatusCode::FORBIDDEN, "the toolsets now apply");
}
