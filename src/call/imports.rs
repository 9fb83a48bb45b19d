//! The customer import's preview: a file read row by row into the database and decided there.
//!
//! ```text
//! one transaction as the caller:
//!   app.open_customer_import(options)               → an import, status staging
//!   read the file (a CSV body as it arrives, or the input's csv or rows), 1,000 rows at a time:
//!     app.stage_customer_import_rows(id, first, rows)
//!   auth.claim_idempotency_key(key, digest of options and rows)   (with an idempotency key)
//!   api.preview_customer_import(options + id + columns)          → the rows decided (SQL)
//! ```
//!
//! Memory holds one batch, whatever the file's size; the rules are in
//! `sql/operations/imports.sql`. The commit is an ordinary call (`api.commit_customer_import`).

use std::collections::HashSet;

use futures_util::StreamExt;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncRead;

use crate::db::tx::{Body, Call, IMPORT_STATEMENT_TIMEOUT, Outcome, Session};
use crate::error::ApiError;
use crate::render::csv::unneutralise;

/// The most rows one import holds.
pub const MAX_ROWS: usize = 100_000;
/// The largest CSV body `POST /v1/customer-imports` reads (`text/csv`).
pub const MAX_CSV_BYTES: usize = 64 << 20;
const MAX_COLUMNS: usize = 200;
const BATCH: usize = 1_000;

/// Where the rows come from: the input (`csv` text or `rows`), or a CSV body being read.
pub enum Source {
    Input,
    Csv(Box<dyn AsyncRead + Unpin + Send>),
}

/// Runs `preview_customer_import` for `call`, reading the file from `source`.
pub async fn preview(pool: &deadpool_postgres::Pool, call: Call<'_>, source: Source) -> Result<Outcome, ApiError> {
    let mut options = call.input.as_object().cloned().unwrap_or_default();
    let csv_text = options.remove("csv");
    let rows = options.remove("rows");
    let (format, field) = match (&source, &csv_text, &rows) {
        (Source::Csv(_), None, None) => ("csv", "csv"),
        (Source::Input, Some(_), None) => ("csv", "csv"),
        (Source::Input, None, Some(_)) => ("json", "rows"),
        (Source::Input, None, None) => {
            return Err(ApiError::invalid(
                "rows",
                "missing_rows",
                "Send the file: csv (the CSV text with its header row) or rows (objects of column → value). A large \
                 CSV file can be sent as the body of POST /v1/customer-imports with Content-Type: text/csv.",
            ));
        }
        _ => return Err(ApiError::invalid("csv", "one_source", "Send either csv or rows, not both.")),
    };
    options.insert("format".into(), format.into());
    let session = Session::begin(pool, &call, IMPORT_STATEMENT_TIMEOUT).await?;
    let opened = session
        .json("select pg_catalog.to_jsonb(app.open_customer_import($1::jsonb))", &[&Value::Object(options.clone())])
        .await?;
    let import_id: uuid::Uuid = serde_json::from_value(opened).map_err(ApiError::internal)?;

    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(&options).map_err(ApiError::internal)?);
    let mut stager = Stager { session: &session, import_id, batch: String::new(), rows: 0, staged: 0, hasher };
    let columns = match (source, csv_text, rows) {
        (Source::Csv(reader), _, _) => read_csv(reader, &mut stager).await?,
        (Source::Input, Some(Value::String(text)), _) => {
            read_csv(Box::new(std::io::Cursor::new(text.into_bytes())), &mut stager).await?
        }
        (Source::Input, _, Some(Value::Array(rows))) => read_rows(rows, &mut stager).await?,
        _ => return Err(ApiError::invalid(field, "invalid_type", "csv is text; rows is an array of objects.")),
    };
    stager.flush().await?;
    let digest: [u8; 32] = stager.hasher.finalize().into();

    if let Some(key) = call.idempotency_key {
        let digest: &[u8] = &digest;
        let claimed =
            session.json("select auth.claim_idempotency_key($1, $2, $3)", &[&key, &call.op.name, &digest]).await?;
        if !claimed.is_null() {
            session.rollback().await?;
            let status =
                claimed["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(call.op.success_status);
            return Ok(Outcome { status, body: Body::Value(claimed["body"].clone()), principal: None, replayed: true });
        }
    }
    let mut input = options;
    input.insert("importId".into(), import_id.to_string().into());
    input.insert("columns".into(), columns.into());
    let mut body = session.json("select api.preview_customer_import($1::jsonb)", &[&Value::Object(input)]).await?;
    if let Some(key) = call.idempotency_key {
        let status = i32::from(call.op.success_status);
        body = session.json("select auth.store_idempotent_response($1, $2, $3)", &[&key, &status, &body]).await?;
    }
    session.commit().await?;
    Ok(Outcome { status: call.op.success_status, body: Body::Value(body), principal: None, replayed: false })
}

/// Rows on their way into the database, a batch at a time: each row is written as JSON text as
/// it is read, so a batch holds its rows' text and nothing more.
struct Stager<'a> {
    session: &'a Session,
    import_id: uuid::Uuid,
    batch: String,
    rows: usize,
    staged: usize,
    hasher: Sha256,
}

impl Stager<'_> {
    async fn push(&mut self, row: &Map<String, Value>, field: &str) -> Result<(), ApiError> {
        if self.staged + self.rows >= MAX_ROWS {
            return Err(ApiError::invalid(
                field,
                "too_many_rows",
                format!("An import holds at most {MAX_ROWS} rows: split the file."),
            ));
        }
        self.batch.push(if self.rows == 0 { '[' } else { ',' });
        self.batch.push_str(&serde_json::to_string(row).map_err(ApiError::internal)?);
        self.rows += 1;
        if self.rows == BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ApiError> {
        if self.rows == 0 {
            return Ok(());
        }
        self.batch.push(']');
        self.hasher.update(self.batch.as_bytes());
        let first = i32::try_from(self.staged + 1).map_err(ApiError::internal)?;
        self.session
            .json(
                "select pg_catalog.to_jsonb(app.stage_customer_import_rows($1, $2, $3::text::jsonb))",
                &[&self.import_id, &first, &self.batch],
            )
            .await?;
        self.staged += self.rows;
        self.rows = 0;
        self.batch.clear();
        Ok(())
    }
}

/// Reads CSV (RFC 4180, UTF-8, a header row naming the columns) row by row into the stager;
/// returns the columns. A cell the export protected from spreadsheets (`'=…`) is read back as
/// it was.
async fn read_csv(reader: Box<dyn AsyncRead + Unpin + Send>, stager: &mut Stager<'_>) -> Result<Vec<String>, ApiError> {
    let mut csv = csv_async::AsyncReaderBuilder::new().flexible(true).create_reader(reader);
    let bad = |e: csv_async::Error| {
        let at = e.position().map(|p| format!(" (line {})", p.line())).unwrap_or_default();
        match e.kind() {
            csv_async::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::FileTooLarge => {
                ApiError::new(http::StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The file is too large.")
            }
            csv_async::ErrorKind::Io(io) => ApiError::new(
                http::StatusCode::BAD_REQUEST,
                "unreadable_body",
                format!("The file could not be read: {io}"),
            ),
            csv_async::ErrorKind::Utf8 { .. } => ApiError::invalid(
                "csv",
                "invalid_encoding",
                format!("The file is not UTF-8 text{at}: save it as CSV UTF-8."),
            ),
            _ => ApiError::invalid("csv", "invalid_csv", format!("The file is not valid CSV{at}: {e}")),
        }
    };
    let header = csv.headers().await.map_err(bad)?.clone();
    let mut columns = Vec::with_capacity(header.len());
    let mut seen = HashSet::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}').trim();
        let name = if name.is_empty() { format!("column {}", i + 1) } else { name.to_string() };
        if !seen.insert(name.clone()) {
            return Err(ApiError::invalid("csv", "duplicate_column", format!("Two columns are named {name}.")));
        }
        columns.push(name);
    }
    if columns.is_empty() || columns.len() > MAX_COLUMNS {
        return Err(ApiError::invalid(
            "csv",
            "invalid_header",
            format!("The first line names the columns: 1 to {MAX_COLUMNS} of them."),
        ));
    }
    let mut records = csv.into_records();
    let mut line = 0usize;
    while let Some(record) = records.next().await {
        let record = record.map_err(bad)?;
        line += 1;
        if record.len() > columns.len() && record.iter().skip(columns.len()).any(|c| !c.trim().is_empty()) {
            return Err(ApiError::invalid(
                "csv",
                "extra_cells",
                format!("Row {line} has {} cells but the header names {} columns.", record.len(), columns.len()),
            ));
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            line -= 1; // A blank line is not a row.
            continue;
        }
        let row: Map<String, Value> = columns
            .iter()
            .zip(record.iter())
            .map(|(c, v)| (c.clone(), Value::String(unneutralise(v).to_string())))
            .collect();
        stager.push(&row, "csv").await?;
    }
    Ok(columns)
}

/// Reads JSON rows (objects of column → value) into the stager; returns the columns, in the
/// order they first appear.
async fn read_rows(rows: Vec<Value>, stager: &mut Stager<'_>) -> Result<Vec<String>, ApiError> {
    let mut columns: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for (i, row) in rows.into_iter().enumerate() {
        let Value::Object(row) = row else {
            return Err(ApiError::invalid(
                format!("rows[{i}]"),
                "invalid_type",
                "Each row is an object of column → value.",
            ));
        };
        for name in row.keys() {
            if seen.insert(name.clone()) {
                columns.push(name.clone());
            }
        }
        if columns.len() > MAX_COLUMNS {
            return Err(ApiError::invalid(
                "rows",
                "too_many_columns",
                format!("Rows have at most {MAX_COLUMNS} columns."),
            ));
        }
        stager.push(&row, "rows").await?;
    }
    Ok(columns)
}
