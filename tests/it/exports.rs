//! CSV exports (`?format=csv` on lists and reports) and reports drawn as SVG charts, looked at
//! in headless Chromium.

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::billing::{draft, open_invoice};
use crate::common::{Org, TestApp};

/// A CSV answer, parsed: its header and rows.
fn parse(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    (header, rows)
}

async fn csv(app: &TestApp, key: &str, path: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let res = app.http.get(format!("{}{path}", app.base)).bearer_auth(key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename="));
    parse(&res.text().await.unwrap())
}

/// Every item of a list, page after page, as JSON.
async fn all_items(app: &TestApp, key: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = match &cursor {
            Some(c) => format!("{path}?limit=100&cursor={c}"),
            None => format!("{path}?limit=100"),
        };
        let res = app.get(key, &page).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        items.extend(res.body["items"].as_array().unwrap().iter().cloned());
        match res.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
}

async fn bulk_customers(app: &TestApp, org: &Org, n: i32) {
    // Loaded as the load tests load them: past the audit trigger, in the test's own database.
    let mut admin = app.admin().await;
    let tx = admin.transaction().await.unwrap();
    tx.batch_execute("alter table app.customers disable trigger audit_change").await.unwrap();
    tx.execute(
        "insert into app.customers (org_id, name, email, tags, source)
         select $1, 'Bulk ' || i, 'bulk' || i || '@example.com', array['bulk', 'batch-' || (i % 7)], 'import'
           from generate_series(1, $2) i",
        &[&org.id, &n],
    )
    .await
    .unwrap();
    tx.batch_execute("alter table app.customers enable trigger audit_change").await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_list_exports_every_page_as_csv_and_names_with_commas_quotes_newlines_and_other_scripts_survive() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let other = app.create_org("Elsewhere").await;
    let names = [
        "Zoë \"Z\" O'Brien, Jr.",
        "李小龍",
        "Анна\nвторая строка",
        "=HYPERLINK(\"http://evil.example\")",
        "  spaced  ",
    ];
    for (i, name) in names.iter().enumerate() {
        app.customer(
            &org,
            json!({"name": name, "email": format!("p{i}@example.com"), "phone": "+447700900123",
                   "tags": ["vip", "a;b"], "customFields": {"note": "x,y"}}),
        )
        .await;
    }
    bulk_customers(&app, &org, 150).await;
    app.customer(&other, json!({"name": "Not theirs"})).await;

    let (header, rows) = csv(&app, &org.key, "/v1/customers?format=csv").await;
    assert_eq!(&header[..5], ["id", "name", "email", "phone", "lifecycleStage"]);
    assert!(header.contains(&"customFields".to_string()) && header.contains(&"createdAt".to_string()), "{header:?}");
    let items = all_items(&app, &org.key, "/v1/customers").await;
    assert_eq!(rows.len(), 155, "every page, nothing twice");
    assert_eq!(rows.len(), items.len());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (row, item) in rows.iter().zip(&items) {
        assert_eq!(row[col("id")], item["id"].as_str().unwrap(), "the list's order");
        // Formulas come back with a leading quote, which the import strips.
        assert_eq!(favcrm::render::csv::unneutralise(&row[col("name")]), item["name"].as_str().unwrap());
        assert_eq!(row[col("email")], item["email"].as_str().unwrap());
        let tags: Vec<&str> = item["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        assert_eq!(row[col("tags")], tags.join(";"));
        assert_eq!(serde_json::from_str::<Value>(&row[col("customFields")]).unwrap(), item["customFields"]);
    }
    let phones: Vec<&String> = rows.iter().map(|r| &r[col("phone")]).filter(|p| !p.is_empty()).collect();
    assert_eq!(phones, vec!["+447700900123"; 5], "a phone number is not taken for a formula");
    let formula = rows.iter().find(|r| r[col("email")] == "p3@example.com").unwrap();
    assert_eq!(formula[col("name")], format!("'{}", names[3]), "a formula is not run");
    let cyrillic = rows.iter().find(|r| r[col("email")] == "p2@example.com").unwrap();
    assert_eq!(cyrillic[col("name")], names[2], "a newline inside a quoted cell");

    // The list's own filters apply; another organisation sees only its own.
    let (_, vip) = csv(&app, &org.key, "/v1/customers?format=csv&tag=vip").await;
    assert_eq!(vip.len(), 5);
    let (header_other, theirs) = csv(&app, &other.key, "/v1/customers?format=csv").await;
    assert_eq!(header_other, header);
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0][1], "Not theirs");

    // Paging is the export's business; bad formats and refusals are problems, not files.
    let res = app.get(&org.key, "/v1/customers?format=csv&limit=5").await;
    assert_eq!(
        (res.status, res.field(), res.field_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "limit", "not_with_csv")
    );
    let res = app.get(&org.key, "/v1/customers?format=xml").await;
    assert_eq!((res.status, res.field_code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_format"), "{}", res.body);
    let res = app.get("fav_mcp_nonsense", "/v1/customers?format=csv").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    let (_, staff) = app.add_member(&org, "staff", None).await;
    let res = app.get(&staff, "/v1/invoices?format=csv").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(res.headers["content-type"], "application/problem+json");
}

#[tokio::test]
async fn bookings_invoices_and_payments_export_as_csv_with_money_in_columns() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy"})).await.to_string();
    let invoice = open_invoice(&app, &org, &amy, 12_345).await;
    let res =
        app.post(&org.key, "/v1/payments", json!({"invoiceId": invoice, "amount": 2_345, "method": "cash"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let (header, rows) = csv(&app, &org.key, "/v1/invoices?format=csv").await;
    assert_eq!(rows.len(), 1);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name} in {header:?}"));
    assert_eq!(rows[0][col("id")], invoice);
    assert_eq!(rows[0][col("total.amount")], "12345");
    assert_eq!(rows[0][col("total.currency")], rows[0][col("currency")]);
    let (header, rows) = csv(&app, &org.key, "/v1/payments?format=csv").await;
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name} in {header:?}"));
    assert_eq!((rows.len(), rows[0][col("amount.amount")].as_str()), (1, "2345"));
    let (header, rows) = csv(&app, &org.key, "/v1/bookings?format=csv").await;
    assert!(header.contains(&"startsAt".to_string()), "{header:?}");
    assert!(rows.is_empty(), "an empty export still has its header");
}

#[tokio::test]
async fn a_report_exports_its_periods_or_another_of_its_tables_as_csv() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let (header, rows) = csv(&app, &org.key, "/v1/reports/revenue?from=2030-03-01&to=2030-03-03&format=csv").await;
    assert_eq!(&header[..4], ["start", "end", "invoiced.amount", "invoiced.currency"]);
    assert!(header.contains(&"net.amount".to_string()), "{header:?}");
    let starts: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(starts, ["2030-03-01", "2030-03-02", "2030-03-03"]);
    assert!(rows.iter().all(|r| r[2] == "0"));
    let (header, rows) =
        csv(&app, &org.key, "/v1/reports/bookings?from=2030-03-01&to=2030-03-03&format=csv&table=utilisation.staff")
            .await;
    assert_eq!(&header[..2], ["staffId", "name"]);
    assert!(rows.is_empty());
    let (header, _) = csv(&app, &org.key, "/v1/reports/overdue-invoices?asOf=2030-03-01&format=csv").await;
    assert!(header.starts_with(&["invoiceId".to_string(), "number".to_string()]), "{header:?}");
    let res = app.get(&org.key, "/v1/reports/revenue?format=csv&table=nope").await;
    assert_eq!(
        (res.status, res.field(), res.field_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "table", "unknown_table")
    );
    assert!(res.body["detail"].as_str().unwrap().contains("periods, "), "{}", res.body);
}

/// Peak resident memory of a process, from /proc (VmHWM, in KiB).
pub fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_hundred_thousand_row_export_streams_in_bounded_memory() {
    let setup = TestApp::spawn().await;
    let org = setup.create_org("Big").await;
    bulk_customers(&setup, &org, 100_000).await;
    let mail_dir = tempdir();
    let server = crate::processes::serve(&setup.dbname, &mail_dir).await;
    let app = &server.app;
    // Warm up (pools, page buffers) with a small export, then note the peak.
    let (_, few) = csv(app, &org.key, "/v1/customers?format=csv&tag=batch-0&q=Bulk%2010").await;
    assert!(!few.is_empty());
    let before = peak_kib(server.child.id());
    let res = app.http.get(format!("{}/v1/customers?format=csv", app.base)).bearer_auth(&org.key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Read as it comes, counting lines, holding nothing.
    let (mut bytes, mut newlines) = (0usize, 0usize);
    let mut res = res;
    while let Some(chunk) = res.chunk().await.unwrap() {
        bytes += chunk.len();
        newlines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let after = peak_kib(server.child.id());
    assert_eq!(newlines, 100_001, "a header and every customer");
    let grew = after.saturating_sub(before) * 1024;
    eprintln!("exported {bytes} bytes; the server's peak memory grew by {grew} bytes");
    assert!(bytes > 15_000_000, "{bytes}");
    assert!(grew < bytes as u64 / 4, "the export was held in memory: peak grew {grew} bytes for {bytes}");
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("favcrm-export-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Loads `page` in headless Chromium and returns what its script left in `<pre id="result">`.
fn chromium_result(page: &Path) -> Value {
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=5000"])
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("Debian's chromium (apt-get install chromium; .ci/run installs it)");
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom
        .find("<pre id=\"result\">")
        .unwrap_or_else(|| panic!("no result: {dom}\n{}", String::from_utf8_lossy(&out.stderr)));
    let rest = &dom[start + "<pre id=\"result\">".len()..];
    let json = &rest[..rest.find("</pre>").unwrap()];
    serde_json::from_str(&json.replace("&quot;", "\"").replace("&amp;", "&")).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[tokio::test]
async fn every_report_draws_as_an_svg_chart_that_chromium_renders_with_a_bar_or_point_per_row() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let amy = app.customer(&org, json!({"name": "Amy <script>alert(1)</script>"})).await.to_string();
    let inv = draft(&app, &org, &amy, "JPY", json!([{"description": "Session", "unitAmount": 120_000}])).await;
    let invoice = inv.body["id"].as_str().unwrap().to_string();
    let res = app.post(&org.key, &format!("/v1/invoices/{invoice}/finalize"), json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica; update app.invoices set due_date = '2030-01-01' where id = '{invoice}'"
        ))
        .await
        .unwrap();
    // (report path and query, chart kind, bars or points expected). 2030-03-01 is a Friday and
    // weeks start on Monday: a range's first and last weeks are cut to it.
    let charts = [
        ("revenue", "from=2030-03-01&to=2030-03-14&groupBy=day", "bar", 14),
        ("revenue", "from=2030-03-01&to=2030-03-14&groupBy=week&chart=line&metric=invoiced.amount", "line", 3),
        ("bookings", "from=2030-03-01&to=2030-03-21&groupBy=week", "bar", 4),
        ("customers", "from=2030-01-01&to=2030-03-31&groupBy=month&chart=line", "line", 3),
        ("loyalty", "from=2030-03-01&to=2030-03-05", "bar", 5),
        ("overdue-invoices", "asOf=2030-03-15", "bar", 4),
        ("campaigns", "from=2030-03-01&to=2030-03-05", "bar", 0),
        ("subscriptions", "from=2030-03-01&to=2030-03-05", "bar", 0),
    ];
    let dir = tempdir();
    let mut page = String::from("<!doctype html><html><body>");
    for (i, (report, query, _, _)) in charts.iter().enumerate() {
        let res = app
            .http
            .get(format!("{}/v1/reports/{report}.svg?{query}", app.base))
            .bearer_auth(&org.key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{report}?{query}");
        assert_eq!(res.headers()["content-type"], "image/svg+xml");
        let svg = res.text().await.unwrap();
        assert!(!svg.contains("<script>"), "text is escaped");
        std::fs::write(dir.join(format!("{i}.svg")), &svg).unwrap();
        page.push_str(&format!("<div class=\"inline\" data-i=\"{i}\">{svg}</div><img data-i=\"{i}\" src=\"{i}.svg\">"));
    }
    // The overdue chart's money is in yen, which has no minor unit.
    let res = app.get(&org.key, "/v1/reports/overdue-invoices.svg?asOf=2030-03-15").await;
    let svg = res.body.as_str().unwrap();
    assert!(svg.contains("¥20,000") && svg.contains("Amount due (JPY)"), "{svg}");
    page.push_str(
        "<pre id=\"result\"></pre><script>
        window.addEventListener('load', () => {
          const series = 'rgb(37, 99, 235)';
          const out = [...document.querySelectorAll('div.inline')].map(div => {
            const svg = div.querySelector('svg');
            const box = svg.getBoundingClientRect();
            const filled = sel => [...svg.querySelectorAll(sel)].filter(e => getComputedStyle(e).fill === series);
            const img = document.querySelector(`img[data-i=\"${div.dataset.i}\"]`);
            return { width: box.width, height: box.height, bars: filled('rect').length,
                     points: filled('circle').length, texts: svg.querySelectorAll('text').length,
                     image: img.complete ? img.naturalWidth : -1 };
          });
          document.getElementById('result').textContent = JSON.stringify(out);
        });
        </script></body></html>",
    );
    let page_path = dir.join("charts.html");
    std::fs::write(&page_path, page).unwrap();
    let result = chromium_result(&page_path);
    for (i, (report, query, kind, expected)) in charts.iter().enumerate() {
        let r = &result[i];
        assert!(r["width"].as_f64().unwrap() > 800.0 && r["height"].as_f64().unwrap() > 400.0, "{report}: {r}");
        assert!(r["image"].as_f64().unwrap() > 800.0, "{report}?{query} loads as an image: {r}");
        assert!(r["texts"].as_i64().unwrap() >= 3, "a caption and labelled axes: {r}");
        let drawn = if *kind == "bar" { &r["bars"] } else { &r["points"] };
        assert_eq!(drawn.as_i64(), Some(*expected), "{report}?{query}: {r}");
    }
    // Asking for what a report has not is a problem.
    let res = app.get(&org.key, "/v1/reports/revenue.svg?metric=nope").await;
    assert_eq!((res.status, res.field_code()), (StatusCode::UNPROCESSABLE_ENTITY, "unknown_metric"), "{}", res.body);
    let res = app.get(&org.key, "/v1/reports/revenue.svg?chart=pie").await;
    assert_eq!((res.status, res.field_code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_chart"), "{}", res.body);
    let res = app.call(None, reqwest::Method::GET, "/v1/reports/revenue.svg", None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}
