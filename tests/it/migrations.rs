//! Migrating a database again: the operations files are the whole truth of the functions, and
//! the rewritten V1 to V7 are accepted in their old form only.

use favcrm::db::{self, Database, Reapply};

use crate::common::{admin_config, fresh_database, runtime_config};

async fn migrate(dbname: &str) -> anyhow::Result<()> {
    migrate_with(dbname, Reapply::Always).await
}

async fn migrate_with(dbname: &str, reapply: Reapply) -> anyhow::Result<()> {
    Database::from_configs(admin_config(dbname), runtime_config(dbname), 1)?.migrate(None, reapply).await
}

async fn exists(admin: &tokio_postgres::Client, function: &str) -> bool {
    admin.query_one("select to_regprocedure($1) is not null", &[&function]).await.unwrap().get(0)
}

#[tokio::test]
async fn migrating_again_rebuilds_the_operations_and_drops_functions_no_file_defines() {
    let dbname = fresh_database().await;
    let admin = db::connect(&admin_config(&dbname)).await.unwrap();
    admin
        .batch_execute(
            "set role favcrm_owner;
             create function app.left_behind() returns int language sql as 'select 1';
             create or replace function api.get_customer(p jsonb) returns jsonb language sql as 'select p';
             reset role;",
        )
        .await
        .unwrap();
    migrate(&dbname).await.unwrap();
    assert!(!exists(&admin, "app.left_behind()").await, "a helper no file defines is dropped");
    let body: String = admin
        .query_one("select prosrc from pg_proc where oid = 'api.get_customer(jsonb)'::regprocedure", &[])
        .await
        .unwrap()
        .get(0);
    assert!(body.contains("customers:read"), "the file's definition is back: {body}");
    // What data uses stays: the audit trigger's function and the claim readers.
    assert!(exists(&admin, "audit.record_change()").await);
    assert!(exists(&admin, "auth.org_id()").await);
}

#[tokio::test]
async fn a_database_that_ran_the_old_forms_of_v1_to_v7_migrates_and_any_other_difference_stops_it() {
    let dbname = fresh_database().await;
    let admin = db::connect(&admin_config(&dbname)).await.unwrap();
    // refinery's checksums of V1 and V6 as they were before their functions moved out.
    admin
        .batch_execute(
            "update refinery_schema_history set checksum = '10035303110791845114' where version = 1;
             update refinery_schema_history set checksum = '542832360046010653' where version = 6;",
        )
        .await
        .unwrap();
    migrate(&dbname).await.unwrap();
    let checksums: Vec<String> = admin
        .query("select checksum from refinery_schema_history where version in (1, 6) order by version", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!checksums.contains(&"10035303110791845114".to_string()), "{checksums:?}");
    assert!(!checksums.contains(&"542832360046010653".to_string()), "{checksums:?}");

    admin.batch_execute("update refinery_schema_history set checksum = '12345' where version = 3").await.unwrap();
    let error = migrate(&dbname).await.unwrap_err();
    assert!(format!("{error:#}").contains("divergent") || format!("{error:#}").contains("V3"), "{error:#}");
}

#[tokio::test]
async fn a_server_keeps_answering_while_favcrm_migrate_rebuilds_the_operations_and_policies() {
    let settings = favcrm::web::ServerSettings { key_requests_per_minute: 0, ..crate::common::relaxed() };
    let app = std::sync::Arc::new(crate::common::TestApp::spawn_with(settings).await);
    let org = app.create_org("Rebuilt Studio").await;
    app.customer(&org, serde_json::json!({ "name": "Ada" })).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut callers = Vec::new();
    for _ in 0..4 {
        let (app, key, stop) = (app.clone(), org.key.clone(), stop.clone());
        callers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let res = app.get(&key, "/v1/customers?limit=5").await;
                answers.push((res.status.as_u16(), res.body.to_string()));
            }
            answers
        }));
    }
    // `favcrm migrate` beside a serving server: the api schema is dropped and created again and
    // every policy too (which locks every table), in one transaction, while this one serves. A
    // deadlock with a request is tried again on both sides.
    for _ in 0..3 {
        migrate(&app.dbname).await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut count = 0;
    for caller in callers {
        for (status, body) in caller.await.unwrap() {
            count += 1;
            assert_eq!(status, 200, "{body}");
        }
    }
    assert!(count > 0);
}

/// The digest of the policies the database last applied, and when.
async fn applied(admin: &tokio_postgres::Client) -> (String, String) {
    let row = admin
        .query_one("select digest, applied_at::text from public.favcrm_applied where part = 'policies'", &[])
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_server_start_re_applies_the_policies_only_when_they_changed_and_favcrm_migrate_always() {
    let dbname = fresh_database().await;
    let admin = db::connect(&admin_config(&dbname)).await.unwrap();
    let (digest, first) = applied(&admin).await;
    assert_eq!(digest, favcrm::db::policies::digest());

    migrate_with(&dbname, Reapply::WhenChanged).await.unwrap();
    assert_eq!(applied(&admin).await.1, first, "same files: the tables were not touched");

    admin
        .batch_execute("update public.favcrm_applied set digest = 'older files' where part = 'policies'")
        .await
        .unwrap();
    migrate_with(&dbname, Reapply::WhenChanged).await.unwrap();
    let (digest, second) = applied(&admin).await;
    assert_eq!(digest, favcrm::db::policies::digest());
    assert_ne!(second, first, "changed files are applied");

    migrate_with(&dbname, Reapply::Always).await.unwrap();
    assert_ne!(applied(&admin).await.1, second, "favcrm migrate always applies");
}

/// V17 gives the billing scopes, V18 the commerce ones, V19 the subscriptions ones, V20 the
/// loyalty ones, V21 the messaging and webhooks ones and V23 the approvals ones, to keys that held everything their holder's role allowed, so that an owner's key made before reaches them; a key narrowed on
/// purpose stays as it is. The migrations' own statements (between their `keys:` markers) run
/// here, in order, on keys put back to what they held before, as the owner that runs
/// migrations.
#[tokio::test]
async fn v17_to_v23_give_new_scopes_to_keys_that_had_their_roles_every_scope_and_only_to_those() {
    let app = crate::common::TestApp::spawn().await;
    let org = app.create_org("Old").await;
    let (_, staff_key) = app.add_member(&org, "staff", None).await;
    let (_, narrow_key) = app.add_member(&org, "manager", Some(&["customers:read"])).await;
    let admin = app.admin().await;
    let digest = |key: &str| <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()).to_vec();
    let old_owner = "{audit:read,bookings:read,bookings:write,customers:read,customers:write,keys:read,keys:write,organisation:read,organisation:write,team:read,team:write}";
    let old_staff = "{bookings:read,bookings:write,customers:read,customers:write,organisation:read,team:read}";
    for (key, scopes) in [(&org.key, old_owner), (&staff_key, old_staff)] {
        // Past the audit trigger, as the keys were written before.
        admin
            .batch_execute(&format!(
                "set session_replication_role = replica;
                 update app.api_keys set scopes = '{scopes}', claims = null where key_digest = '\\x{}';
                 set session_replication_role = origin;",
                hex::encode(digest(key))
            ))
            .await
            .unwrap();
    }
    for migration in [
        include_str!("../../sql/V17__create_billing.sql"),
        include_str!("../../sql/V18__create_products_stock_and_orders.sql"),
        include_str!("../../sql/V19__create_plans_subscriptions_and_credits.sql"),
        include_str!("../../sql/V20__create_loyalty.sql"),
        include_str!("../../sql/V21__create_outbox_and_webhooks.sql"),
        include_str!("../../sql/V23__create_approvals.sql"),
    ] {
        let block = migration.split("-- keys: begin").nth(1).unwrap().split("-- keys: end").next().unwrap();
        admin.batch_execute(&format!("begin; set local role favcrm_owner; {block} commit;")).await.unwrap();
    }
    let scopes = |key: String| {
        let admin = &admin;
        async move {
            let row = admin
                .query_one("select scopes from app.api_keys where key_digest = $1", &[&digest(&key)])
                .await
                .unwrap();
            row.get::<_, Vec<String>>(0)
        }
    };
    let owner = scopes(org.key.clone()).await;
    for scope in [
        "billing:read",
        "billing:write",
        "commerce:read",
        "commerce:write",
        "subscriptions:read",
        "subscriptions:write",
        "loyalty:read",
        "loyalty:write",
        "messaging:read",
        "messaging:write",
        "webhooks:read",
        "webhooks:write",
        "approvals:read",
        "approvals:decide",
    ] {
        assert!(owner.contains(&scope.to_string()), "{scope}: {owner:?}");
    }
    let staff = scopes(staff_key.clone()).await;
    for (scope, held) in [
        ("billing:read", true),
        ("billing:write", false),
        ("commerce:read", true),
        ("commerce:write", false),
        ("subscriptions:read", true),
        ("subscriptions:write", false),
        ("loyalty:read", true),
        ("loyalty:write", false),
        ("messaging:read", true),
        ("messaging:write", false),
        ("webhooks:read", false),
        ("approvals:read", false),
    ] {
        assert_eq!(staff.contains(&scope.to_string()), held, "{scope}: {staff:?}");
    }
    assert_eq!(scopes(narrow_key).await, ["customers:read"]);
    let audited: i64 = admin
        .query_one("select count(*) from audit.event where org_id = $1 and via = 'migration'", &[&org.id])
        .await
        .unwrap()
        .get(0);
    // The owner's key five times and once more for approvals; the staff key five times.
    assert_eq!(audited, 11, "each key changed is in the audit log, once per migration");
    // And the owner's key now reaches billing.
    for path in ["/v1/invoices", "/v1/products", "/v1/plans"] {
        let res = app.get(&org.key, path).await;
        assert_eq!(res.status, reqwest::StatusCode::OK, "{path}: {}", res.body);
    }
}
