//! CSV (RFC 4180, UTF-8, one header row) of what operations answer: the rows of a report's
//! table or the items of a list. The columns come from the operation's output schema, so an
//! empty answer still has its header and every row has the same columns, in the order the
//! output type declares its fields.
//!
//! A nested object with known fields becomes one column per field, named by its path
//! (`total.amount`, `total.currency`). An array of plain values becomes one cell, its values
//! joined by `;` (tags). Anything else nested (custom fields, an array of objects) is written
//! as its JSON text.
//!
//! Text a spreadsheet would run as a formula (starting with `=`, `@`, a tab or a carriage
//! return, or with `+` or `-` when it is not a number) is written with a leading `'`, as OWASP
//! advises; the customer import strips it again.

use serde_json::Value;

/// One column: its header and where its value sits in a row.
#[derive(Debug, Clone)]
pub struct Column {
    pub header: String,
    path: Vec<String>,
}

/// The columns of rows described by the object schema `schema`, `$ref`s resolved in `root`
/// (the output schema holding the `$defs`).
pub fn columns(schema: &Value, root: &Value) -> Vec<Column> {
    let mut out = Vec::new();
    collect(schema, root, &mut Vec::new(), &mut out);
    out
}

fn collect(schema: &Value, root: &Value, prefix: &mut Vec<String>, out: &mut Vec<Column>) {
    let schema = resolve(schema, root);
    let Some(properties) = schema["properties"].as_object() else { return };
    for (name, property) in properties {
        prefix.push(name.clone());
        let resolved = resolve(property, root);
        if resolved["properties"].as_object().is_some_and(|p| !p.is_empty()) {
            collect(resolved, root, prefix, out);
        } else {
            out.push(Column { header: prefix.join("."), path: prefix.clone() });
        }
        prefix.pop();
    }
    // `#[serde(flatten)]` fields appear as allOf parts.
    for part in schema["allOf"].as_array().into_iter().flatten() {
        collect(part, root, prefix, out);
    }
}

/// A schema with its `$ref` followed and an optional (`anyOf`/`oneOf` with null) unwrapped.
pub fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let target =
            reference.strip_prefix('#').map_or(&Value::Null, |pointer| root.pointer(pointer).unwrap_or(&Value::Null));
        return resolve(target, root);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(variants) = schema[key].as_array() {
            let real: Vec<&Value> = variants.iter().filter(|v| v["type"] != "null").collect();
            if let [only] = real.as_slice() {
                return resolve(only, root);
            }
        }
    }
    schema
}

/// The cells of one row.
pub fn cells<'a>(columns: &'a [Column], row: &'a Value) -> impl Iterator<Item = String> + 'a {
    columns.iter().map(move |column| {
        let value = column.path.iter().try_fold(row, |v, key| v.get(key)).unwrap_or(&Value::Null);
        cell(value)
    })
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => neutralise(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) if items.iter().all(|i| i.is_string() || i.is_number()) => neutralise(
            &items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(";"),
        ),
        other => other.to_string(),
    }
}

/// Text as a spreadsheet will not run it.
fn neutralise(text: &str) -> String {
    let risky = match text.as_bytes().first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => !looks_like_number(text),
        _ => false,
    };
    if risky { format!("'{text}") } else { text.to_string() }
}

/// A number or phone number as people write them: digits with spaces, dots, dashes and brackets.
fn looks_like_number(text: &str) -> bool {
    let rest = &text[1..];
    rest.bytes().any(|b| b.is_ascii_digit()) && rest.bytes().all(|b| b.is_ascii_digit() || b" .-()".contains(&b))
}

/// Undoes [`neutralise`] for a cell read back (the customer import).
pub fn unneutralise(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if matches!(rest.as_bytes().first(), Some(b'=' | b'@' | b'\t' | b'\r' | b'+' | b'-')) => rest,
        _ => text,
    }
}

/// A CSV writer whose output is taken and sent every so often (a page at a time).
pub struct Sheet {
    writer: Option<csv::Writer<Vec<u8>>>,
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new())
}

impl Sheet {
    /// A sheet that starts with the header row.
    pub fn new(columns: &[Column]) -> Self {
        let mut writer = writer();
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(columns.iter().map(|c| c.header.as_str()));
        Sheet { writer: Some(writer) }
    }

    pub fn row(&mut self, columns: &[Column], row: &Value) {
        let _ = self.writer.get_or_insert_with(writer).write_record(cells(columns, row));
    }

    /// The bytes written since the last take.
    pub fn take(&mut self) -> Vec<u8> {
        self.writer.take().and_then(|w| w.into_inner().ok()).unwrap_or_default()
    }
}

/// The whole CSV of `rows` at once (reports: a few hundred rows at most).
pub fn sheet(columns: &[Column], rows: &[Value]) -> Vec<u8> {
    let mut sheet = Sheet::new(columns);
    rows.iter().for_each(|row| sheet.row(columns, row));
    sheet.take()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_objects_become_columns_and_formulas_are_defused() {
        let schema = json!({
            "properties": {
                "name": {"type": "string"},
                "total": {"$ref": "#/$defs/Money"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "extra": {"anyOf": [{"$ref": "#/$defs/Money"}, {"type": "null"}]},
            },
            "$defs": {"Money": {"properties": {"amount": {"type": "integer"}, "currency": {"type": "string"}}}}
        });
        let cols = columns(&schema, &schema);
        let headers: Vec<_> = cols.iter().map(|c| c.header.as_str()).collect();
        assert_eq!(headers, ["name", "total.amount", "total.currency", "tags", "extra.amount", "extra.currency"]);
        let row = json!({"name": "=HYPERLINK(\"x\")", "total": {"amount": -5, "currency": "GBP"}, "tags": ["a", "b"]});
        let text = String::from_utf8(sheet(&cols, &[row])).unwrap();
        assert_eq!(
            text,
            "name,total.amount,total.currency,tags,extra.amount,extra.currency\r\n\"'=HYPERLINK(\"\"x\"\")\",-5,GBP,a;b,,\r\n"
        );
        assert_eq!(neutralise("+44 7700 900123"), "+44 7700 900123");
        assert_eq!(neutralise("-2+3+cmd|' /C calc'!A0"), "'-2+3+cmd|' /C calc'!A0");
        assert_eq!(unneutralise(&neutralise("@SUM(A1)")), "@SUM(A1)");
        assert_eq!(unneutralise("'quoted"), "'quoted");
    }
}
