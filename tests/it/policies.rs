//! RLS: the SQL policy tests, the audit of the live schema, and the policy file list.

use favcrm::db::operations;
use favcrm::db::policies;

use crate::common::TestApp;

#[tokio::test]
async fn the_sql_policy_tests_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/tests");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "expected policy tests in {dir}");
    let app = TestApp::spawn().await;
    for file in files {
        let sql = std::fs::read_to_string(&file).unwrap();
        let admin = app.admin().await;
        if let Err(e) = admin.batch_execute(&sql).await {
            let detail = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string());
            panic!("{}: {detail}", file.display());
        }
    }
}

#[tokio::test]
async fn the_audit_finds_no_breach_in_the_real_schema() {
    let app = TestApp::spawn().await;
    let report = policies::audit(&app.admin().await).await.unwrap();
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    let tables: Vec<&str> = report.tables.iter().map(|t| t.table.as_str()).collect();
    for table in ["app.customers", "app.api_keys", "audit.event", "app.organisations"] {
        assert!(tables.contains(&table), "{table} missing from the report");
    }
    assert!(report.tables.iter().all(|t| t.rls_enabled && t.rls_forced && t.owner == "favcrm_owner"));
    // On a cluster distributed by organisation, the tables without one are reference tables.
    let reference: Vec<&str> =
        report.tables.iter().filter(|t| t.distribution.starts_with("reference")).map(|t| t.table.as_str()).collect();
    assert_eq!(
        reference,
        ["app.account_mail", "app.oauth_clients", "app.signup_requests", "app.users", "app.web_sessions"]
    );
}

#[tokio::test]
async fn the_audit_reports_each_planted_breach() {
    let plants = [
        ("alter table app.customers no force row level security", 2, "app.customers"),
        ("alter table app.customer_notes disable row level security", 2, "app.customer_notes"),
        ("create policy \"everyone\" on app.customers for all using (true)", 2, "app.customers: policy \"everyone\""),
        (
            "create policy \"subquery\" on app.customers for select to favcrm_member using (org_id in (select org_id from app.memberships))",
            3,
            "app.customers: policy \"subquery\"",
        ),
        ("create unique index leaky on app.customers (phone)", 1, "app.customers"),
        (
            "create policy \"everything\" on app.customer_notes for select to favcrm_member using (true)",
            2,
            "app.customer_notes: policy \"everything\"",
        ),
        ("grant truncate on app.customers to favcrm_member", 4, "favcrm_member"),
        ("grant usage on schema search to favcrm_member", 4, "favcrm_member"),
        ("grant select on search.customers to favcrm_anon", 4, "favcrm_anon"),
        ("create function auth.oops() returns int language sql security definer as 'select 1'", 5, "auth.oops()"),
        ("drop function api.get_customer(jsonb)", 9, "get_customer"),
        ("create function api.stray(p jsonb) returns jsonb language sql as 'select p'", 9, "api.stray"),
        ("create function app.by_hand() returns int language sql as 'select 1'", 9, "app.by_hand"),
        (
            "drop function api.get_customer(jsonb); \
             create function api.get_customer(p jsonb) returns text language sql as 'select p::text'",
            9,
            "api.get_customer(jsonb)",
        ),
        ("comment on function api.get_customer(jsonb) is null", 8, "api.get_customer(jsonb)"),
        (
            "create table app.loose (id uuid primary key, organisation_id uuid references app.organisations (id))",
            10,
            "app.loose",
        ),
        (
            "create or replace function api.list_customers(p jsonb) returns json language sql \
             as 'select json_agg(c) from app.customers c'",
            10,
            "api.list_customers",
        ),
        (
            "create function app.switch_org(p uuid) returns void language sql \
             as $$ select pg_catalog.set_config('request.claims', pg_catalog.jsonb_build_object('org_id', p)::text, true) $$",
            11,
            "app.switch_org(p uuid)",
        ),
    ];
    for (sql, rule, object) in plants {
        let app = TestApp::spawn().await;
        let admin = app.admin().await;
        admin.batch_execute(sql).await.unwrap();
        let report = policies::audit(&admin).await.unwrap();
        assert!(
            report.breaches.iter().any(|b| b.rule == rule && b.object == object),
            "planting `{sql}` was not reported as rule {rule} on {object}: {:#?}",
            report.breaches
        );
    }
}

#[tokio::test]
async fn the_audit_reports_a_function_defined_twice() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut files: Vec<(&str, &str)> = operations::FILES.to_vec();
    let get_customer = "create function api.get_customer(p jsonb) returns jsonb language sql as 'select p';";
    files.push(("elsewhere.sql", get_customer));
    let migrations = favcrm::db::embedded_migrations();
    let twice = operations::Inventory::read(migrations.iter().map(|(n, s)| (n.clone(), s.as_str())), files);
    let mut breaches = Vec::new();
    policies::check_functions(&admin, &twice, &mut |rule, object: &str, problem| {
        breaches.push((rule, object.to_string(), problem))
    })
    .await
    .unwrap();
    assert!(
        breaches.iter().any(|(rule, object, problem)| *rule == 9
            && object == "api.get_customer"
            && problem.contains("sql/operations/customers.sql")
            && problem.contains("sql/operations/elsewhere.sql")),
        "{breaches:#?}"
    );

    let mut once = Vec::new();
    policies::check_functions(&admin, &operations::Inventory::embedded(), &mut |rule, object: &str, _| {
        once.push((rule, object.to_string()))
    })
    .await
    .unwrap();
    assert!(once.is_empty(), "{once:?}");
}

/// The `.sql` files directly in a folder of the repository, sorted, beside the names a list holds.
fn listed_and_on_disk(folder: &str, files: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = files.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    (listed, on_disk)
}

#[test]
fn every_policy_file_is_applied() {
    let (listed, on_disk) = listed_and_on_disk("policies", policies::FILES);
    assert_eq!(listed, on_disk);
}

#[test]
fn every_operations_file_is_applied() {
    let (listed, on_disk) = listed_and_on_disk("sql/operations", operations::FILES);
    assert_eq!(listed, on_disk);
}
