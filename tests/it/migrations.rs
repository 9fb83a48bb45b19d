//! Migrating a database again: the operations files are the whole truth of the functions, and
//! the rewritten V1 to V7 are accepted in their old form only.

use favcrm::db::{self, Database};

use crate::common::{admin_config, fresh_database, runtime_config};

async fn migrate(dbname: &str) -> anyhow::Result<()> {
    Database::from_configs(admin_config(dbname), runtime_config(dbname), 1)?.migrate(None).await
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
async fn a_server_keeps_answering_while_another_one_starts_and_rebuilds_the_operations() {
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
    // Another server starting on the same database migrates: the api schema is dropped and
    // created again, in one transaction, while this one serves.
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
