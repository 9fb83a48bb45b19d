//! What operations answer, shown another way: as CSV ([`csv`]) and, for reports, as SVG charts
//! ([`chart`]). Both read a *table* of an answer — the items of a list, or one array of a
//! report (its periods by default) — with columns taken from the operation's output schema.
//! Nothing here touches the database or HTTP: the web layer calls an operation as usual and
//! hands its answer here.

pub mod chart;
pub mod csv;

use serde_json::Value;

use crate::catalog::Operation;
use crate::error::ApiError;

/// One table of an answer: its rows and their columns.
pub struct Table<'a> {
    pub path: String,
    pub rows: &'a [Value],
    pub columns: Vec<csv::Column>,
}

impl Table<'_> {
    pub fn has_column(&self, header: &str) -> bool {
        self.columns.iter().any(|c| c.header == header)
    }
}

/// A report (`report_*`): a table of figures to export or draw.
pub fn is_report(op: &Operation) -> bool {
    op.name.starts_with("report_")
}

/// Answers as CSV too (`?format=csv`): reports, and lists (every page).
pub fn has_csv(op: &Operation) -> bool {
    op.method == crate::catalog::Method::Get && (is_report(op) || list_columns(op).is_some())
}

/// The table a report shows unless asked for another (in CSV; a chart may show another).
pub fn default_table(op: &Operation) -> &'static str {
    match op.name {
        "report_overdue_invoices" => "invoices",
        "report_campaigns" => "campaigns",
        "report_subscriptions" => "currencies",
        _ => "periods",
    }
}

/// The tables of a report: its arrays of objects, by dotted path (`periods`, `breakdown.items`).
pub fn tables(op: &Operation) -> Vec<String> {
    let mut out = Vec::new();
    find_tables(&op.output_schema, &op.output_schema, &mut Vec::new(), &mut out);
    out
}

fn find_tables(schema: &Value, root: &Value, prefix: &mut Vec<String>, out: &mut Vec<String>) {
    let schema = csv::resolve(schema, root);
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        prefix.push(name.clone());
        let property = csv::resolve(property, root);
        if property["type"] == "array" && csv::resolve(&property["items"], root)["properties"].is_object() {
            out.push(prefix.join("."));
        } else if property["properties"].is_object() {
            find_tables(property, root, prefix, out);
        }
        prefix.pop();
    }
}

/// The table at `path` of a report's answer (dotted; a number picks an element of an array, as
/// in `currencies.0.buckets`). An unknown path is a 400 naming the tables there are.
pub fn report_table<'a>(op: &Operation, answer: &'a Value, path: &str) -> Result<Table<'a>, ApiError> {
    let unknown = || {
        ApiError::invalid(
            "table",
            "unknown_table",
            format!("{} has no table {path:?}; its tables are: {}.", op.name, tables(op).join(", ")),
        )
    };
    let root = &op.output_schema;
    let mut schema = csv::resolve(root, root);
    let mut value = answer;
    for segment in path.split('.') {
        if let Ok(index) = segment.parse::<usize>() {
            if schema["type"] != "array" {
                return Err(unknown());
            }
            schema = csv::resolve(&schema["items"], root);
            value = value.get(index).unwrap_or(&Value::Null);
        } else {
            schema = csv::resolve(schema["properties"].get(segment).ok_or_else(unknown)?, root);
            value = value.get(segment).unwrap_or(&Value::Null);
        }
    }
    if schema["type"] != "array" {
        return Err(unknown());
    }
    let items = csv::resolve(&schema["items"], root);
    if !items["properties"].is_object() {
        return Err(unknown());
    }
    let rows = value.as_array().map_or(&[][..], Vec::as_slice);
    Ok(Table { path: path.to_string(), rows, columns: csv::columns(items, root) })
}

/// The columns of a list operation's items (`{items, nextCursor}` answers), or None when the
/// operation does not answer with a page.
pub fn list_columns(op: &Operation) -> Option<Vec<csv::Column>> {
    let root = &op.output_schema;
    let page = csv::resolve(root, root);
    page["properties"].get("nextCursor")?;
    let items = csv::resolve(page["properties"].get("items")?, root);
    let item = csv::resolve(&items["items"], root);
    item["properties"].is_object().then(|| csv::columns(item, root))
}
