use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::TestApp;

#[tokio::test]
async fn a_customer_can_be_created_searched_tagged_deleted_and_restored() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow Studio").await;
    let created = app
        .post(
            &org.key,
            "/v1/customers",
            json!({
                "name": "  Amy Chan ",
                "email": "Amy.Chan@Example.com",
                "phone": "+852 9123-4567",
                "tags": ["VIP", "facial", "vip"],
                "customFields": {"skinType": "dry"},
                "marketingConsent": {"email": {"granted": true, "source": "front_desk"}}
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let c = &created.body;
    assert_eq!(c["name"], "Amy Chan");
    assert_eq!(c["email"], "amy.chan@example.com");
    assert_eq!(c["phone"], "+85291234567");
    assert_eq!(c["tags"], json!(["facial", "vip"]));
    assert_eq!(c["lifecycleStage"], "customer");
    assert_eq!(c["marketingConsent"]["email"]["granted"], true);
    assert_eq!(c["marketingConsent"]["email"]["source"], "front_desk");
    assert!(c["marketingConsent"]["email"]["at"].as_str().unwrap().ends_with('Z'));
    let id = c["id"].as_str().unwrap().to_string();
    app.customer(&org, json!({"name": "Ben Lee", "phone": "+44 20 7946 0958", "lifecycleStage": "lead"})).await;

    let found = app.get(&org.key, "/v1/customers?q=chan").await;
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(found.body["items"][0]["id"], id.as_str());
    let by_phone = app.get(&org.key, "/v1/customers?q=2079").await;
    assert_eq!(by_phone.body["items"][0]["name"], "Ben Lee");
    let by_tag = app.get(&org.key, "/v1/customers?tag=VIP").await;
    assert_eq!(by_tag.body["items"].as_array().unwrap().len(), 1);
    let leads = app.get(&org.key, "/v1/customers?lifecycleStage=lead").await;
    assert_eq!(leads.body["items"][0]["name"], "Ben Lee");

    let tagged = app.post(&org.key, &format!("/v1/customers/{id}/tags"), json!({"tags": ["Regular"]})).await;
    assert_eq!(tagged.status, StatusCode::OK);
    assert_eq!(tagged.body["tags"], json!(["facial", "regular", "vip"]));
    let untagged = app
        .call(
            Some(&org.key),
            reqwest::Method::DELETE,
            &format!("/v1/customers/{id}/tags"),
            Some(json!({"tags": ["vip", "absent"]})),
        )
        .await;
    assert_eq!(untagged.body["tags"], json!(["facial", "regular"]));

    let deleted = app.delete_confirmed(&org.key, &format!("/v1/customers/{id}")).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.body["deletedAt"].is_string());
    let listed = app.get(&org.key, "/v1/customers").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "deleted customers leave the list");
    let trash = app.get(&org.key, "/v1/customers?deleted=true").await;
    assert_eq!(trash.body["items"][0]["id"], id.as_str());
    let still_there = app.get(&org.key, &format!("/v1/customers/{id}")).await;
    assert_eq!(still_there.status, StatusCode::OK);
    let blocked = app.patch(&org.key, &format!("/v1/customers/{id}"), json!({"name": "X"})).await;
    assert_eq!((blocked.status, blocked.code()), (StatusCode::CONFLICT, "customer_deleted"));

    let restored = app.post(&org.key, &format!("/v1/customers/{id}/restore"), json!({})).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.body);
    assert!(restored.body["deletedAt"].is_null());
    assert_eq!(app.get(&org.key, "/v1/customers").await.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_second_customer_with_the_same_email_is_a_conflict_until_the_first_is_deleted() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let first = app.customer(&org, json!({"name": "Amy", "email": "amy@example.com"})).await;
    let dup = app.post(&org.key, "/v1/customers", json!({"name": "Amy 2", "email": "AMY@example.com"})).await;
    assert_eq!((dup.status, dup.code(), dup.field()), (StatusCode::CONFLICT, "customer_email_taken", "email"));
    app.delete_confirmed(&org.key, &format!("/v1/customers/{first}")).await;
    let second = app.post(&org.key, "/v1/customers", json!({"name": "Amy 2", "email": "amy@example.com"})).await;
    assert_eq!(second.status, StatusCode::CREATED);
    let restore = app.post(&org.key, &format!("/v1/customers/{first}/restore"), json!({})).await;
    assert_eq!((restore.status, restore.code()), (StatusCode::CONFLICT, "customer_email_taken"));
}

#[tokio::test]
async fn update_changes_only_the_fields_given_and_null_clears_optional_ones() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let id = app
        .customer(
            &org,
            json!({"name": "Amy", "email": "amy@example.com", "phone": "12345678", "customFields": {"a": 1, "b": 2}}),
        )
        .await;
    let res = app
        .patch(
            &org.key,
            &format!("/v1/customers/{id}"),
            json!({"phone": null, "customFields": {"b": null, "c": 3}, "lifecycleStage": "vip"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["name"], "Amy");
    assert_eq!(res.body["email"], "amy@example.com");
    assert!(res.body["phone"].is_null());
    assert_eq!(res.body["customFields"], json!({"a": 1, "c": 3}));
    assert_eq!(res.body["lifecycleStage"], "vip");
    let no_name = app.patch(&org.key, &format!("/v1/customers/{id}"), json!({"name": null})).await;
    assert_eq!((no_name.status, no_name.field()), (StatusCode::UNPROCESSABLE_ENTITY, "name"));
}

#[tokio::test]
async fn consent_records_when_and_where_each_channel_changed() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let id = app
        .customer(&org, json!({"name": "Amy", "marketingConsent": {"sms": {"granted": true, "source": "web"}}}))
        .await;
    let res = app
        .patch(&org.key, &format!("/v1/customers/{id}"), json!({"marketingConsent": {"sms": {"granted": false, "source": "reply_stop"}, "email": {"granted": true}}}))
        .await;
    let consent = &res.body["marketingConsent"];
    assert_eq!(consent["sms"]["granted"], false);
    assert_eq!(consent["sms"]["source"], "reply_stop");
    assert_eq!(consent["email"]["granted"], true);
    assert!(consent["whatsapp"].is_null());
}

#[tokio::test]
async fn notes_are_listed_newest_first_with_cursor_pagination_and_mark_activity() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let id = app.customer(&org, json!({"name": "Amy"})).await;
    for i in 0..5 {
        let res = app.post(&org.key, &format!("/v1/customers/{id}/notes"), json!({"body": format!("note {i}")})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        assert_eq!(res.body["authorUserId"], org.owner_id.to_string());
    }
    let first = app.get(&org.key, &format!("/v1/customers/{id}/notes?limit=2")).await;
    let bodies: Vec<&str> =
        first.body["items"].as_array().unwrap().iter().map(|n| n["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["note 4", "note 3"]);
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let mut seen = 2;
    let mut cursor = cursor.to_string();
    loop {
        let page = app.get(&org.key, &format!("/v1/customers/{id}/notes?limit=2&cursor={cursor}")).await;
        seen += page.body["items"].as_array().unwrap().len();
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, 5);
    let customer = app.get(&org.key, &format!("/v1/customers/{id}")).await;
    assert!(customer.body["lastActivityAt"].is_string());
}

#[tokio::test]
async fn inactive_days_finds_customers_without_recent_activity() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let old = app.customer(&org, json!({"name": "Old"})).await;
    let active = app.customer(&org, json!({"name": "Active"})).await;
    let mut admin = app.admin().await;
    let tx = admin.transaction().await.unwrap();
    tx.batch_execute("set local session_replication_role = replica").await.unwrap();
    tx.execute(
        "update app.customers set created_at = now() - interval '90 days' where id = any($1)",
        &[&vec![old, active]],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.post(&org.key, &format!("/v1/customers/{active}/notes"), json!({"body": "came in today"})).await;
    let res = app.get(&org.key, "/v1/customers?inactiveDays=60").await;
    let names: Vec<&str> = res.body["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Old"]);
}

#[tokio::test]
async fn list_pages_do_not_overlap_and_end_with_a_null_cursor() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    for i in 0..7 {
        app.customer(&org, json!({"name": format!("C{i}")})).await;
    }
    let mut names = Vec::new();
    let mut path = "/v1/customers?limit=3".to_string();
    loop {
        let page = app.get(&org.key, &path).await;
        names.extend(page.body["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()));
        match page.body["nextCursor"].as_str() {
            Some(c) => path = format!("/v1/customers?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(names, ["C6", "C5", "C4", "C3", "C2", "C1", "C0"]);
}

#[tokio::test]
async fn every_change_is_in_the_audit_log_with_actor_surface_and_operation() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let id = app.customer(&org, json!({"name": "Amy"})).await;
    app.patch(&org.key, &format!("/v1/customers/{id}"), json!({"name": "Amy Chan"})).await;
    app.delete_confirmed(&org.key, &format!("/v1/customers/{id}")).await;
    let events = app.get(&org.key, &format!("/v1/audit-events?rowId={id}")).await;
    let items = events.body["items"].as_array().unwrap();
    let ops: Vec<&str> = items.iter().map(|e| e["operation"].as_str().unwrap()).collect();
    assert_eq!(ops, ["delete_customer", "update_customer", "create_customer"]);
    assert_eq!(items[1]["before"]["name"], "Amy");
    assert_eq!(items[1]["after"]["name"], "Amy Chan");
    assert_eq!(items[0]["via"], "rest");
    assert_eq!(items[0]["actorUserId"], org.owner_id.to_string());
    assert!(items[0]["actorKeyId"].is_string());
    let org_events = app.get(&org.key, "/v1/audit-events?tableName=organisations").await;
    assert_eq!(org_events.body["items"][0]["operation"], "bootstrap_organisation");
    // The whole log a page of two at a time, unfiltered and filtered: the same events in the
    // same order as in one page, and each as the filtered list has it.
    let all = app.get(&org.key, "/v1/audit-events?limit=100").await;
    let all = all.body["items"].as_array().unwrap().clone();
    assert!(all.len() >= 5, "{all:?}");
    for filter in ["", &format!("&rowId={id}")] {
        let mut paged = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = app.get(&org.key, &format!("/v1/audit-events?limit=2{filter}{cursor}")).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            paged.extend(page.body["items"].as_array().unwrap().iter().cloned());
            match page.body["nextCursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        let expected: Vec<Value> =
            all.iter().filter(|e| filter.is_empty() || e["rowId"] == id.to_string()).cloned().collect();
        assert_eq!(paged, expected, "paging with filter {filter:?}");
    }
    assert_eq!(items.to_vec(), all.iter().filter(|e| e["rowId"] == id.to_string()).cloned().collect::<Vec<_>>());
}

#[tokio::test]
async fn the_organisation_can_be_read_and_changed_by_its_owner() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let got = app.get(&org.key, "/v1/organisation").await;
    assert_eq!(got.body["name"], "Glow");
    assert_eq!(got.body["timezone"], "Europe/London");
    let changed = app
        .patch(
            &org.key,
            "/v1/organisation",
            json!({"timezone": "Asia/Hong_Kong", "defaultCurrency": "hkd", "country": "hk", "industry": "beauty"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["defaultCurrency"], "HKD");
    assert_eq!(changed.body["country"], "HK");
    let bad = app.patch(&org.key, "/v1/organisation", json!({"timezone": "Mars/Olympus"})).await;
    assert_eq!(
        (bad.status, bad.field(), bad.field_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "timezone", "invalid_timezone")
    );
}

/// Values travel to PostgreSQL as quoted literals in one Query message (src/db/tx.rs): quotes,
/// backslashes and dollar quotes in input come back as they went in, and a search term's LIKE
/// wildcards match literally.
#[tokio::test]
async fn quotes_backslashes_and_wildcards_in_input_are_only_text() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let tricky = r#"O'Brien \ $$x$$ "quoted" ';--"#;
    let created =
        app.post(&org.key, "/v1/customers", json!({"name": tricky, "customFields": {"note": "it's \\n 'fine'"}})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["name"], tricky);
    assert_eq!(created.body["customFields"]["note"], "it's \\n 'fine'");
    app.customer(&org, json!({"name": "100% _real_"})).await;
    app.customer(&org, json!({"name": "Plain"})).await;

    let names = |body: &serde_json::Value| -> Vec<String> {
        body["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
    };
    let found = app.get(&org.key, "/v1/customers?q=o%27brien%20%5C%20%24%24").await;
    assert_eq!(names(&found.body), [tricky], "{}", found.body);
    for wildcard in ["%25", "_"] {
        let found = app.get(&org.key, &format!("/v1/customers?q={wildcard}")).await;
        assert_eq!(names(&found.body), ["100% _real_"], "q={wildcard}: {}", found.body);
    }
    let all = app.get(&org.key, "/v1/customers").await;
    assert_eq!(names(&all.body), ["Plain", "100% _real_", tricky]);
}

/// A page that is exactly full ends the list (no cursor to an empty page), with a filter (the
/// page planned for its values) and without one (the generic plan).
#[tokio::test]
async fn the_last_page_is_the_last_full_one_with_and_without_a_filter() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    for i in 0..6 {
        app.customer(&org, json!({"name": format!("T{i}"), "tags": ["regular"]})).await;
    }
    app.customer(&org, json!({"name": "Untagged"})).await;
    for (filter, expected) in [
        ("tag=regular&", vec!["T5", "T4", "T3", "T2", "T1", "T0"]),
        ("q=t&", vec!["Untagged", "T5", "T4", "T3", "T2", "T1", "T0"]),
        ("", vec!["Untagged", "T5", "T4", "T3", "T2", "T1", "T0"]),
    ] {
        let limit = if filter.starts_with("tag") { 3 } else { 7 };
        let mut names = Vec::new();
        let mut pages = 0;
        let mut path = format!("/v1/customers?{filter}limit={limit}");
        loop {
            let page = app.get(&org.key, &path).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            pages += 1;
            names
                .extend(page.body["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()));
            match page.body["nextCursor"].as_str() {
                Some(c) => path = format!("/v1/customers?{filter}limit={limit}&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(names, expected, "filter {filter:?}");
        assert_eq!(pages, expected.len() / limit, "filter {filter:?}: every page full, none empty");
    }
}
