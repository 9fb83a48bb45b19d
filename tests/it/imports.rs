//! Customer import: a file with bad rows and duplicates previewed row by row, committed exactly
//! as previewed (twice changes nothing), refused whole when what it relied on changed, kept to
//! managers of the organisation, and 100,000 rows read in bounded memory.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Org, Res, TestApp};

async fn upload(app: &TestApp, key: &str, query: &str, csv: impl Into<reqwest::Body>) -> Res {
    let res = app
        .http
        .post(format!("{}/v1/customer-imports{query}", app.base))
        .bearer_auth(key)
        .header("Content-Type", "text/csv; charset=utf-8")
        .body(csv)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body: Value = res.json().await.unwrap();
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    Res { status, headers, body }
}

async fn rows(app: &TestApp, key: &str, import: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let res = app.get(key, &format!("/v1/customer-imports/{import}/rows?limit=4{cursor}")).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        all.extend(res.body["items"].as_array().unwrap().iter().cloned());
        match res.body["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return all,
        }
    }
}

/// Every customer of the organisation, deleted ones too, in a stable order.
async fn customers(app: &TestApp, org: &Org) -> Vec<Value> {
    let admin = app.admin().await;
    let rows = admin
        .query(
            "select to_jsonb(c) - 'org_id' from app.customers c where org_id = $1 order by created_at, id",
            &[&org.id],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

async fn customer(app: &TestApp, org: &Org, body: Value) -> String {
    let res = app.post(&org.key, "/v1/customers", body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body["id"].as_str().unwrap().to_string()
}

const FILE: &str = "\u{feff}Full name,E-mail,Mobile,Stage,Tags,Email consent,Member no,Notes\r\n\
Ann Lee,ANN@Example.com,,vip,yoga;Morning,yes,M-1,first visit 2019\r\n\
Bob Brown,bob@example.com,+44 7700 900002,,,no,M-2,\r\n\
\"Brown, Bob\",bob@example.com,,,,,,duplicate of row 2 by email\r\n\
Pat Moss,,+447700900009,,,,,\r\n\
\"Zoë \"\"Zed\"\" Ng\",zoe@example.com,,,,,,\"two\nlines\"\r\n\
Wrong Mail,not-an-email,12,boss,,maybe,,\r\n\
,nobody@example.com,,,,,,no name\r\n\
Иван Петров,,+44 7700 900002,,,,,duplicate of row 2 by phone\r\n\
王小明,wang@example.com,,lead,,,,\r\n\
'=Hyde,hyde@example.com,,,,,,\r\n\
\r\n";

#[tokio::test]
async fn a_file_with_bad_rows_and_duplicates_is_previewed_row_by_row_and_committed_exactly_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Import Studio").await;
    let ann = customer(&app, &org, json!({"name": "Ann", "email": "ann@example.com", "tags": ["old"]})).await;
    let pat = customer(&app, &org, json!({"name": "Pat Moss", "phone": "+447700900009", "source": "walk_in"})).await;
    let before = customers(&app, &org).await;

    let mapping = r#"{"Full name":"name","E-mail":"email","Mobile":"phone","Stage":"lifecycleStage","Tags":"tags","Email consent":"consent.email","Member no":"customFields.memberNo","Notes":null}"#;
    let query = format!("?tags=imported&mapping={}", urlencode(mapping));
    let res = upload(&app, &org.key, &query, FILE).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let preview = res.body.clone();
    let id = preview["id"].as_str().unwrap().to_string();
    assert_eq!(preview["status"], "previewed");
    assert_eq!(preview["rowCount"], 10, "the blank line is not a row: {preview}");
    assert_eq!(preview["columns"][0], "Full name", "the byte-order mark is not part of the first name");
    assert_eq!(preview["counts"], json!({"create": 4, "update": 2, "skip": 2, "error": 2}), "{preview}");
    assert_eq!(preview["firstErrors"].as_array().unwrap().len(), 2);
    // Nothing changed yet.
    assert_eq!(customers(&app, &org).await, before);

    let rows = rows(&app, &org.key, &id).await;
    assert_eq!(rows.len(), 10, "every row, page after page");
    let by_row = |n: usize| &rows[n - 1];
    let decided: Vec<(i64, &str, Option<&str>)> = rows
        .iter()
        .map(|r| (r["row"].as_i64().unwrap(), r["action"].as_str().unwrap(), r["reason"].as_str()))
        .collect();
    assert_eq!(
        decided,
        vec![
            (1, "update", None),
            (2, "create", None),
            (3, "skip", Some("duplicate_in_file")),
            (4, "update", None),
            (5, "create", None),
            (6, "error", None),
            (7, "error", None),
            (8, "skip", Some("duplicate_in_file")),
            (9, "create", None),
            (10, "create", None),
        ]
    );
    assert_eq!(by_row(1)["customerId"], ann.as_str(), "matched by email, whatever its case");
    assert_eq!(by_row(1)["changes"], json!(["name", "lifecycleStage", "tags", "customFields", "marketingConsent"]));
    assert_eq!(by_row(4)["customerId"], pat.as_str(), "matched by phone: the row has no email");
    assert_eq!(by_row(4)["changes"], json!(["tags"]), "the import's tag; blank cells change nothing");
    assert_eq!((by_row(3)["duplicateOfRow"].as_i64(), by_row(8)["duplicateOfRow"].as_i64()), (Some(2), Some(2)));
    let problems = |n: usize| -> Vec<(String, String)> {
        by_row(n)["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap().into(), e["code"].as_str().unwrap().into()))
            .collect()
    };
    let pair = |f: &str, c: &str| (f.to_string(), c.to_string());
    assert_eq!(
        problems(6),
        vec![
            pair("email", "invalid_email"),
            pair("phone", "invalid_phone"),
            pair("lifecycleStage", "invalid_lifecycle_stage"),
            pair("consent.email", "invalid_consent")
        ]
    );
    assert_eq!(problems(7), vec![pair("name", "required")]);
    assert_eq!(by_row(5)["customer"]["name"], "Zoë \"Zed\" Ng");
    assert_eq!(by_row(5)["cells"]["Notes"], "two\nlines", "cells as the file had them");
    assert_eq!(by_row(10)["customer"]["name"], "=Hyde", "the export's guard against formulas is undone");
    let bob = &by_row(2)["customer"];
    assert_eq!(
        (bob["phone"].as_str(), bob["source"].as_str(), bob["customFields"].clone(), bob["marketingConsent"].clone()),
        (
            Some("+447700900002"),
            Some("import"),
            json!({"memberNo": "M-2"}),
            json!({"email": {"granted": false, "source": "import"}})
        )
    );

    // Committed: exactly the preview.
    let res = app.post(&org.key, &format!("/v1/customer-imports/{id}/commit"), json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["status"], "committed");
    let committed = res.body.clone();
    let after = customers(&app, &org).await;
    assert_eq!(after.len(), before.len() + 4, "the four create rows");
    for row in rows.iter().filter(|r| r["action"] == "create" || r["action"] == "update") {
        let id = row["customerId"].as_str().unwrap();
        let got = app.get(&org.key, &format!("/v1/customers/{id}")).await.body;
        let want = &row["customer"];
        for field in ["name", "email", "phone", "lifecycleStage", "source", "tags", "customFields"] {
            assert_eq!(got[field], want[field], "row {}: {field}", row["row"]);
        }
        for (channel, consent) in want["marketingConsent"].as_object().unwrap() {
            assert_eq!(got["marketingConsent"][channel]["granted"], consent["granted"]);
            assert_eq!(got["marketingConsent"][channel]["source"], "import");
        }
    }
    let ann_now = app.get(&org.key, &format!("/v1/customers/{ann}")).await.body;
    assert_eq!(ann_now["tags"], json!(["imported", "morning", "old", "yoga"]), "tags are added, not replaced");
    assert_eq!(ann_now["lifecycleStage"], "vip");
    let pat_now = app.get(&org.key, &format!("/v1/customers/{pat}")).await.body;
    assert_eq!((pat_now["source"].as_str(), pat_now["tags"].clone()), (Some("walk_in"), json!(["imported"])));
    let errors = app.get(&org.key, "/v1/customers?q=nobody").await.body;
    assert_eq!(errors["items"], json!([]), "rows in error are not imported");

    // Twice changes nothing.
    let again = app.post(&org.key, &format!("/v1/customer-imports/{id}/commit"), json!({})).await;
    assert_eq!((again.status, &again.body), (StatusCode::OK, &committed));
    assert_eq!(customers(&app, &org).await, after);
    let got = app.get(&org.key, &format!("/v1/customer-imports/{id}")).await;
    assert_eq!(got.body, committed);
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn a_commit_is_refused_whole_when_what_the_preview_relied_on_changed() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Stale").await;
    let ann = customer(&app, &org, json!({"name": "Ann", "email": "ann@example.com"})).await;
    let file = json!({
        "rows": [
            {"first": "Ann", "last": "Lee", "mail": "ann@example.com", "labels": ["a", "b"], "sms": true},
            {"first": "New", "last": "Person", "mail": "new@example.com"}
        ],
        "mapping": {"first": "firstName", "last": "lastName", "mail": "email", "labels": "tags", "sms": "consent.sms"}
    });
    let preview = app.post(&org.key, "/v1/customer-imports", file.clone()).await;
    assert_eq!(preview.status, StatusCode::CREATED, "{}", preview.body);
    assert_eq!(preview.body["counts"], json!({"create": 1, "update": 1, "skip": 0, "error": 0}));
    assert_eq!(preview.body["format"], "json");
    let id = preview.body["id"].as_str().unwrap();

    // Ann changes after the preview: the whole commit is refused, the new person too.
    let res = app.patch(&org.key, &format!("/v1/customers/{ann}"), json!({"phone": "+447700900100"})).await;
    assert_eq!(res.status, StatusCode::OK);
    let before = customers(&app, &org).await;
    let res = app.post(&org.key, &format!("/v1/customer-imports/{id}/commit"), json!({})).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "import_stale"), "{}", res.body);
    assert_eq!(customers(&app, &org).await, before, "nothing was imported");

    // Previewed again, and meanwhile someone takes the new email: refused again.
    let preview = app.post(&org.key, "/v1/customer-imports", file.clone()).await;
    let id = preview.body["id"].as_str().unwrap();
    customer(&app, &org, json!({"name": "Quick", "email": "new@example.com"})).await;
    let res = app.post(&org.key, &format!("/v1/customer-imports/{id}/commit"), json!({})).await;
    assert_eq!((res.status, res.code()), (StatusCode::CONFLICT, "import_stale"), "{}", res.body);

    // A preview not committed in time expires.
    let preview = app.post(&org.key, "/v1/customer-imports", file).await;
    let id = preview.body["id"].as_str().unwrap();
    let admin = app.admin().await;
    admin.batch_execute("set session_replication_role = replica").await.unwrap();
    admin
        .execute(
            "update app.customer_imports set expires_at = now() - interval '1 second' where id = $1",
            &[&id.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(app.get(&org.key, &format!("/v1/customer-imports/{id}")).await.body["status"], "expired");
    let res = app.post(&org.key, &format!("/v1/customer-imports/{id}/commit"), json!({})).await;
    assert_eq!((res.status.as_u16(), res.code()), (409, "import_expired"), "{}", res.body);
    admin.batch_execute("set session_replication_role = origin").await.unwrap();
    let purged: Value = admin.query_one("select auth.purge_expired()", &[]).await.unwrap().get(0);
    assert_eq!(purged["customerImports"], 1, "{purged}");
    assert_eq!(app.get(&org.key, &format!("/v1/customer-imports/{id}")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_preview_with_an_idempotency_key_is_made_once_and_bad_files_are_refused_with_the_field_at_fault() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Careful").await;
    let file = "name,email\nAnn,ann@example.com\n";
    let send = |key: &'static str, body: &'static str| {
        let app = &app;
        let org = &org;
        async move {
            app.http
                .post(format!("{}/v1/customer-imports", app.base))
                .bearer_auth(&org.key)
                .header("Content-Type", "text/csv")
                .header("Idempotency-Key", key)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let first = send("k-1", file).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = send("k-1", file).await;
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.json::<Value>().await.unwrap()["id"], first["id"], "the same preview");
    let other = send("k-1", "name\nBob\n").await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.json::<Value>().await.unwrap()["code"], "idempotency_key_reused");

    for (query, body, field, code) in [
        ("", "name,email\nAnn,a@b.c,extra\n", "csv", "extra_cells"),
        ("", "name,name\nAnn,Bob\n", "csv", "duplicate_column"),
        ("", "name\n", "csv", "empty_file"),
        ("", "colour\nblue\n", "mapping", "nothing_to_match"),
        ("?mapping=%7B%22Nme%22%3A%22name%22%7D", "name\nAnn\n", "mapping.Nme", "unknown_column"),
        ("?mapping=%7B%22name%22%3A%22nickname%22%7D", "name\nAnn\n", "mapping.name", "unknown_field"),
        ("?mapping=nope", "name\nAnn\n", "mapping", "invalid_mapping"),
        ("?onExisting=merge", "name\nAnn\n", "onExisting", "invalid_value"),
    ] {
        let res = upload(&app, &org.key, query, body).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{query} {body}: {}", res.body);
        assert_eq!((res.field(), res.field_code()), (field, code), "{query} {body}: {}", res.body);
    }
    let res = upload(&app, &org.key, "", b"name\n\xff\xfe\n".to_vec()).await;
    assert_eq!((res.field(), res.field_code()), ("csv", "invalid_encoding"), "{}", res.body);
    let res =
        app.post(&org.key, "/v1/customer-imports", json!({"csv": "name\nAnn\n", "rows": [{"name": "Ann"}]})).await;
    assert_eq!((res.status.as_u16(), res.field_code()), (422, "one_source"), "{}", res.body);
    let res = app.post(&org.key, "/v1/customer-imports", json!({})).await;
    assert_eq!((res.status.as_u16(), res.field_code()), (422, "missing_rows"), "{}", res.body);
    assert_eq!(customers(&app, &org).await, Vec::<Value>::new(), "previews and bad files changed nothing");
    let admin = app.admin().await;
    let staged: i64 = admin.query_one("select count(*) from app.customer_imports", &[]).await.unwrap().get(0);
    assert_eq!(staged, 1, "a refused file leaves no import behind");

    // Committed, the same file again changes nothing: its row is unchanged.
    let res =
        app.post(&org.key, &format!("/v1/customer-imports/{}/commit", first["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = upload(&app, &org.key, "", file).await;
    assert_eq!(res.body["counts"], json!({"create": 0, "update": 0, "skip": 1, "error": 0}), "{}", res.body);
    let id = res.body["id"].as_str().unwrap();
    let row = &rows(&app, &org.key, id).await[0];
    assert_eq!((row["action"].as_str(), row["reason"].as_str()), (Some("skip"), Some("unchanged")), "{row}");
}

#[tokio::test]
async fn importing_is_for_managers_and_an_import_stays_in_its_organisation() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Mine").await;
    let other = app.create_org("Theirs").await;
    let (_, staff) = app.add_member(&org, "staff", None).await;
    let (_, manager) = app.add_member(&org, "manager", None).await;
    let file = json!({"csv": "name,email\nAnn,ann@example.com\n"});
    let res = app.post(&staff, "/v1/customer-imports", file.clone()).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let res = app.post(&manager, "/v1/customer-imports", file).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let id = res.body["id"].as_str().unwrap();
    for path in [format!("/v1/customer-imports/{id}"), format!("/v1/customer-imports/{id}/rows")] {
        assert_eq!(app.get(&staff, &path).await.status, StatusCode::FORBIDDEN, "staff see no import");
        assert_eq!(app.get(&other.key, &path).await.status, StatusCode::NOT_FOUND, "nor does another organisation");
    }
    let res = app.post(&other.key, &format!("/v1/customer-imports/{id}/commit"), json!({})).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app.post(&staff, &format!("/v1/customer-imports/{id}/commit"), json!({})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(customers(&app, &org).await.len(), 0);
    let res = app.post(&org.key, &format!("/v1/customer-imports/{id}/commit"), json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "the owner commits the manager's preview: {}", res.body);
    assert_eq!(customers(&app, &other).await.len(), 0);
}

fn big_file(rows: usize) -> Vec<u8> {
    let mut file = String::from("Full name,Email,Phone,Tags,Email consent\n");
    for i in 0..rows {
        file.push_str(&format!(
            "Customer number {i} of the big salon import,customer{i}@big-salon-import.example,+4478{i:08},batch-{};imported,{}\n",
            i % 7,
            if i % 2 == 0 { "yes" } else { "no" }
        ));
    }
    file.into_bytes()
}

#[tokio::test]
async fn a_hundred_thousand_row_csv_is_previewed_in_bounded_memory_and_committed() {
    let setup = TestApp::spawn().await;
    let org = setup.create_org("Big Import").await;
    let dir = std::env::temp_dir().join(format!("favcrm-import-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = crate::processes::serve(&setup.dbname, &dir).await;
    let app = &server.app;
    // Warm up (pools, buffers, prepared statements) with a small file, then note the peak.
    let res = upload(app, &org.key, "", big_file(10)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let before = crate::exports::peak_kib(server.child.id());
    let file = big_file(100_000);
    let bytes = file.len();
    let res = upload(app, &org.key, "", file).await;
    let after = crate::exports::peak_kib(server.child.id());
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["counts"], json!({"create": 100_000, "update": 0, "skip": 0, "error": 0}));
    let grew = after.saturating_sub(before) * 1024;
    eprintln!("previewed {bytes} bytes of CSV; the server's peak memory grew by {grew} bytes");
    assert!(bytes > 10_000_000, "{bytes}");
    assert!(grew < bytes as u64 / 4, "the file was held in memory: peak grew {grew} bytes for {bytes}");

    let id = res.body["id"].as_str().unwrap();
    let res = app.post(&org.key, &format!("/v1/customer-imports/{id}/commit"), json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let admin = setup.admin().await;
    let count: i64 = admin
        .query_one("select count(*) from app.customers where org_id = $1 and 'imported' = any(tags)", &[&org.id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 100_000);

    // One row more than an import holds is refused, and nothing is left staged.
    let res = upload(app, &org.key, "", big_file(100_001)).await;
    assert_eq!((res.status.as_u16(), res.field_code()), (422, "too_many_rows"), "{}", res.body);
    let imports: i64 = admin.query_one("select count(*) from app.customer_imports", &[]).await.unwrap().get(0);
    assert_eq!(imports, 2, "the warm-up and the big one");
}

/// A previewed, uncommitted import of one new customer, for the tests that call every operation.
pub async fn import_fixture(app: &TestApp, org: &Org) -> String {
    let file = json!({"csv": "Name,Email,Tags\nIvy Import,ivy@example.com,imported\n"});
    let res = app.post(&org.key, "/v1/customer-imports", file).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body["id"].as_str().unwrap().to_string()
}

pub fn import_sample(op: &str, import: &str) -> Option<Value> {
    Some(match op {
        "preview_customer_import" => {
            json!({"rows": [{"name": "Rowan Row", "email": "rowan@example.com"}], "tags": ["imported"]})
        }
        "commit_customer_import" | "get_customer_import" => json!({"importId": import}),
        "list_customer_import_rows" => json!({"importId": import, "action": "create"}),
        _ => return None,
    })
}
