//! One error type for every boundary, and the one table that maps PostgreSQL errors to it.
//!
//! SQL raises with a stable SQLSTATE, puts the machine code in HINT and the field at fault in
//! COLUMN (`raise exception using errcode = …, hint = 'code', column = 'field'`). The table in
//! [`SQLSTATE_MAP`] is the only place that turns those into HTTP statuses; `sql/README.md`
//! lists it for people. How an error becomes an HTTP response is the web layer's business
//! (`crate::web::problem`); here it is only a status, a code and a body.

use http::StatusCode;
use serde::Serialize;
use tokio_postgres::error::{DbError, SqlState};

/// A field-level problem, as in `errors[]` of a problem body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub detail: String,
}

/// An error a client sees: status, stable code, detail and field errors.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Extra response headers (e.g. `WWW-Authenticate`).
    pub headers: Vec<(&'static str, String)>,
    /// Extra members of the problem body (e.g. a confirmation token and preview).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
            extra: Default::default(),
        }
    }

    pub fn field(mut self, field: impl Into<String>, code: impl Into<String>, detail: impl Into<String>) -> Self {
        self.errors.push(FieldError { field: field.into(), code: code.into(), detail: detail.into() });
        self
    }

    /// An extra member of the problem body.
    pub fn extra(mut self, name: &str, value: serde_json::Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// 429 `rate_limited`: when to come back, as `Retry-After` and `retryAfterSeconds`.
    pub fn rate_limited(detail: impl Into<String>, retry_after_seconds: u64) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail).retry_after(retry_after_seconds)
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("retry-after"));
        self.extra.insert("retryAfterSeconds".into(), seconds.into());
        self.header("Retry-After", seconds.to_string())
    }

    /// 422 with one field at fault.
    pub fn invalid(field: impl Into<String>, code: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", detail.clone()).field(field, code, detail)
    }

    pub fn unauthorized(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail).header("WWW-Authenticate", r#"Bearer realm="favcrm""#)
    }

    /// An unexpected failure. The cause goes to the log; the client gets an opaque body.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side; the request id in the log has the cause.",
        )
    }

    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "database unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The database is not reachable right now; try again shortly.",
        )
        .header("Retry-After", "1")
    }

    /// The RFC 9457 body.
    pub fn body(&self, request_id: Option<&str>) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": format!("urn:favcrm:error:{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            body["errors"] = serde_json::to_value(&self.errors).unwrap_or_default();
        }
        if let Some(id) = request_id {
            body["requestId"] = id.into();
        }
        for (k, v) in &self.extra {
            body[k] = v.clone();
        }
        body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

/// How one SQLSTATE maps to a response: status, and the code used when SQL named none.
pub struct SqlStateRule {
    pub sqlstate: &'static str,
    pub status: u16,
    pub default_code: &'static str,
    pub meaning: &'static str,
}

/// The SQLSTATE → HTTP table. Keep `sql/README.md` in step (a test checks it).
pub const SQLSTATE_MAP: &[SqlStateRule] = &[
    SqlStateRule {
        sqlstate: "P0002",
        status: 404,
        default_code: "not_found",
        meaning: "no_data_found: the row does not exist in the caller's organisation",
    },
    SqlStateRule {
        sqlstate: "28000",
        status: 401,
        default_code: "invalid_api_key",
        meaning: "invalid_authorization_specification: unknown, revoked or expired key",
    },
    SqlStateRule {
        sqlstate: "42501",
        status: 403,
        default_code: "forbidden",
        meaning: "insufficient_privilege: missing scope or role, or an RLS WITH CHECK refusal",
    },
    SqlStateRule { sqlstate: "23505", status: 409, default_code: "conflict", meaning: "unique_violation" },
    SqlStateRule {
        sqlstate: "23P01",
        status: 409,
        default_code: "conflict",
        meaning: "exclusion_violation (e.g. slot_taken)",
    },
    SqlStateRule {
        sqlstate: "55000",
        status: 409,
        default_code: "invalid_state",
        meaning: "object_not_in_prerequisite_state: the row is not in a state that allows this",
    },
    SqlStateRule {
        sqlstate: "40001",
        status: 409,
        default_code: "concurrent_update",
        meaning: "serialization_failure: retry the request",
    },
    SqlStateRule {
        sqlstate: "40P01",
        status: 409,
        default_code: "concurrent_update",
        meaning: "deadlock_detected: retry the request",
    },
    SqlStateRule {
        sqlstate: "22023",
        status: 422,
        default_code: "invalid_value",
        meaning: "invalid_parameter_value: a business validation",
    },
    SqlStateRule {
        sqlstate: "23514",
        status: 422,
        default_code: "invalid_value",
        meaning: "check_violation: a value a table constraint refuses",
    },
    SqlStateRule {
        sqlstate: "23502",
        status: 422,
        default_code: "required",
        meaning: "not_null_violation: a required value is missing",
    },
    SqlStateRule {
        sqlstate: "23503",
        status: 422,
        default_code: "invalid_reference",
        meaning: "foreign_key_violation: the referenced row does not exist in the organisation",
    },
    SqlStateRule {
        sqlstate: "22P02",
        status: 422,
        default_code: "invalid_value",
        meaning: "invalid_text_representation: a value of the wrong form (uuid, number)",
    },
    SqlStateRule { sqlstate: "22007", status: 422, default_code: "invalid_value", meaning: "invalid_datetime_format" },
    SqlStateRule { sqlstate: "22008", status: 422, default_code: "invalid_value", meaning: "datetime_field_overflow" },
    SqlStateRule { sqlstate: "22001", status: 422, default_code: "too_long", meaning: "string_data_right_truncation" },
    SqlStateRule {
        sqlstate: "22003",
        status: 422,
        default_code: "out_of_range",
        meaning: "numeric_value_out_of_range",
    },
    SqlStateRule {
        sqlstate: "FV410",
        status: 410,
        default_code: "gone",
        meaning: "favcrm: a code, request or invitation expired, was used up or was replaced",
    },
    SqlStateRule {
        sqlstate: "FV428",
        status: 428,
        default_code: "confirmation_required",
        meaning: "favcrm: an agent key needs a confirmation token for this operation and these arguments",
    },
    SqlStateRule {
        sqlstate: "FV429",
        status: 429,
        default_code: "rate_limited",
        meaning: "favcrm: a limit kept in the database was reached; DETAIL holds the seconds to wait",
    },
    SqlStateRule {
        sqlstate: "57014",
        status: 503,
        default_code: "timeout",
        meaning: "query_canceled: the statement timeout was reached",
    },
];

/// Maps a database error to an [`ApiError`]. Errors that are not in the table are internal:
/// their text stays in the log.
pub fn from_db_error(err: &tokio_postgres::Error) -> ApiError {
    let Some(db) = err.as_db_error() else {
        return if err.is_closed() { ApiError::unavailable(err) } else { ApiError::internal(err) };
    };
    from_db(db)
}

pub fn from_db(db: &DbError) -> ApiError {
    let code = db.code().code();
    let Some(rule) = SQLSTATE_MAP.iter().find(|r| r.sqlstate == code) else {
        return ApiError::internal(format!("{code}: {}", db.message()));
    };
    let status = StatusCode::from_u16(rule.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // SQL that raises on purpose names its code in HINT; constraint errors from PostgreSQL
    // itself carry their own hint text, which we do not show.
    let own = db.hint().filter(|h| is_code(h));
    let code_text = own.unwrap_or(rule.default_code).to_string();
    let field = db.column().map(str::to_string).or_else(|| field_from_constraint(db));
    let detail = if own.is_some() || *db.code() == SqlState::INSUFFICIENT_PRIVILEGE {
        db.message().to_string()
    } else {
        generic_detail(rule, db)
    };
    let mut error = ApiError::new(status, code_text.clone(), detail.clone());
    if status == StatusCode::UNAUTHORIZED {
        error = error.header("WWW-Authenticate", r#"Bearer realm="favcrm", error="invalid_token""#);
    }
    // SQL may hand over extra members of the problem body as a JSON object in DETAIL (for
    // example nearbySlots on slot_taken).
    if let Some(serde_json::Value::Object(members)) =
        db.detail().filter(|d| d.starts_with('{')).and_then(|d| serde_json::from_str(d).ok())
    {
        error.extra.extend(members);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let seconds = db.detail().and_then(|d| d.trim().parse::<u64>().ok()).unwrap_or(60);
        error = error.retry_after(seconds);
    }
    if let Some(field) = field {
        // One rule for codes: `validation_failed` is input the operation's schema refuses (or a
        // table constraint that stands for it); an operation's own refusal of well-formed input
        // (`not_on_slot_grid`, `range_too_long`, `too_soon`, …) is its own code, at the top as
        // in errors[].
        if status == StatusCode::UNPROCESSABLE_ENTITY && own.is_none() {
            error.code = "validation_failed".into();
        }
        error = error.field(camel(&field), code_text, detail);
    }
    error
}

fn is_code(hint: &str) -> bool {
    !hint.is_empty()
        && hint.len() <= 64
        && hint.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

/// `customers_email_check` → `email`; PostgreSQL names column constraints `<table>_<column>_<kind>`.
fn field_from_constraint(db: &DbError) -> Option<String> {
    let constraint = db.constraint()?;
    let table = db.table()?;
    let rest = constraint.strip_prefix(table)?.strip_prefix('_')?;
    let column = ["_check", "_key", "_fkey", "_not_null"].iter().find_map(|s| rest.strip_suffix(s))?;
    Some(column.trim_start_matches("org_id_").to_string())
}

fn generic_detail(rule: &SqlStateRule, db: &DbError) -> String {
    match rule.sqlstate {
        "23502" => format!("{} is required.", db.column().map(camel).unwrap_or_else(|| "A value".into())),
        "23514" | "22P02" | "22007" | "22008" | "22001" | "22003" => "A value is not valid for this field.".into(),
        "23505" => "That value is already taken in this organisation.".into(),
        "23503" => "A referenced record does not exist in this organisation.".into(),
        "40001" | "40P01" => "The request ran into a concurrent change; retry it.".into(),
        "57014" => "The request took too long and was cancelled.".into(),
        _ => rule.meaning.to_string(),
    }
}

/// snake_case → camelCase, for SQL column names shown as JSON fields.
pub fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_turns_sql_columns_into_json_fields() {
        assert_eq!(camel("lifecycle_stage"), "lifecycleStage");
        assert_eq!(camel("email"), "email");
        assert_eq!(camel("marketingConsent.email"), "marketingConsent.email");
    }

    #[test]
    fn sqlstate_table_has_no_duplicates() {
        let mut seen = std::collections::HashSet::new();
        for rule in SQLSTATE_MAP {
            assert!(seen.insert(rule.sqlstate), "{} listed twice", rule.sqlstate);
        }
    }
}
