//! Input value types: parse, don't validate. Each type's deserialiser refuses bad values
//! with a message that starts with a stable code in brackets (`[invalid_email] …`), which
//! the REST and MCP layers turn into field errors. Their JSON Schemas carry the same bounds.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};

/// A trimmed string of MIN to MAX characters.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Text<const MIN: usize, const MAX: usize>(pub String);

impl<'de, const MIN: usize, const MAX: usize> Deserialize<'de> for Text<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let n = s.trim().chars().count();
        if n < MIN || n > MAX {
            let code = if n > MAX {
                "too_long"
            } else if n == 0 {
                "required"
            } else {
                "too_short"
            };
            return Err(D::Error::custom(format!("[{code}] must be {MIN} to {MAX} characters (got {n})")));
        }
        Ok(Self(s))
    }
}

impl<const MIN: usize, const MAX: usize> JsonSchema for Text<MIN, MAX> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("Text{MIN}to{MAX}").into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "minLength": MIN, "maxLength": MAX })
    }
}

/// An integer from MIN to MAX.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(transparent)]
pub struct Int<const MIN: i64, const MAX: i64>(pub i64);

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Int<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        if n < MIN || n > MAX {
            return Err(D::Error::custom(format!("[out_of_range] must be between {MIN} and {MAX} (got {n})")));
        }
        Ok(Self(n))
    }
}

impl<const MIN: i64, const MAX: i64> JsonSchema for Int<MIN, MAX> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("Int{MIN}to{MAX}").into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": MIN, "maximum": MAX })
    }
}

/// Page size for list operations.
pub type Limit = Int<1, 100>;

/// A UUID (the id of a record).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(transparent)]
pub struct Id(pub uuid::Uuid);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map(Self)
            .map_err(|_| D::Error::custom("[invalid_uuid] must be a UUID such as 0192f5e4-8c1a-7b3e-9d2f-5a6b7c8d9e0f"))
    }
}

impl JsonSchema for Id {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Id".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "uuid" })
    }
}

/// An email address.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Email(pub String);

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let trimmed = s.trim();
        let valid = trimmed.len() <= 254
            && email_address::EmailAddress::parse_with_options(
                trimmed,
                email_address::Options::default().without_display_text(),
            )
            .is_ok_and(|e| e.domain().contains('.'));
        if !valid {
            return Err(D::Error::custom("[invalid_email] must be an email address such as amy@example.com"));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for Email {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Email".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "email", "maxLength": 254 })
    }
}

/// A phone number: digits with an optional leading +, spaces, dots, dashes and brackets.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Phone(pub String);

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = s.trim();
        let body = t.strip_prefix('+').unwrap_or(t);
        let digits = body.chars().filter(char::is_ascii_digit).count();
        let allowed = body.chars().all(|c| c.is_ascii_digit() || " .-()".contains(c));
        if !allowed || !(5..=20).contains(&digits) || t.len() > 32 {
            return Err(D::Error::custom(
                "[invalid_phone] must be a phone number of 5 to 20 digits, such as +852 9123 4567",
            ));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for Phone {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Phone".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^\\+?[0-9 ().-]{5,31}$", "maxLength": 32 })
    }
}

/// A phone number in international (E.164) form: `+`, a country code and up to 15 digits in all.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct E164(pub String);

impl<'de> Deserialize<'de> for E164 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let digits = s.strip_prefix('+').unwrap_or_default();
        let ok =
            (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0');
        if !ok {
            return Err(D::Error::custom(
                "[invalid_phone] must be a number in international form, such as +447700900123",
            ));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for E164 {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "E164".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^\\+[1-9][0-9]{6,14}$" })
    }
}

/// A string matched by a fixed pattern, upper-cased by the database (country, currency).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Letters<const N: usize>(pub String);

impl<'de, const N: usize> Deserialize<'de> for Letters<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() != N || !s.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(D::Error::custom(format!("[invalid_format] must be {N} letters (an ISO code)")));
        }
        Ok(Self(s))
    }
}

impl<const N: usize> JsonSchema for Letters<N> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("Letters{N}").into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": format!("^[A-Za-z]{{{N}}}$") })
    }
}

/// A timestamp in RFC 3339 (e.g. 2026-12-01T09:00:00Z).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Timestamp(pub String);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let time = chrono::DateTime::parse_from_rfc3339(&s).map_err(|_| {
            D::Error::custom("[invalid_timestamp] must be an RFC 3339 time such as 2026-12-01T09:00:00Z")
        })?;
        // RFC 3339 allows offsets up to ±23:59; no time zone uses more than −12:00 or +14:00,
        // and PostgreSQL refuses offsets from ±16:00.
        let offset = time.offset().local_minus_utc();
        if !(-12 * 3600..=14 * 3600).contains(&offset) {
            return Err(D::Error::custom(
                "[invalid_timestamp] the UTC offset must be between -12:00 and +14:00 (or Z)",
            ));
        }
        if !(1..=9999).contains(&chrono::Datelike::year(&time.naive_utc())) {
            return Err(D::Error::custom("[invalid_timestamp] the year must be between 1 and 9999 (in UTC)"));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for Timestamp {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// An opaque pagination cursor returned as `nextCursor`.
pub type Cursor = Text<1, 200>;
/// A customer tag (lower-cased by the database).
pub type Tag = Text<1, 50>;

/// A wall-clock time of day, `HH:MM` (24-hour; `24:00` ends a day).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct WallTime(pub String);

impl<'de> Deserialize<'de> for WallTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = s == "24:00" || chrono::NaiveTime::parse_from_str(&s, "%H:%M").is_ok() && s.len() == 5;
        if !ok {
            return Err(D::Error::custom("[invalid_time] must be a time of day HH:MM such as 09:30"));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for WallTime {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "WallTime".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$" })
    }
}

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Date(pub String);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let date = chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|_| D::Error::custom("[invalid_date] must be a date YYYY-MM-DD such as 2026-12-24"))?;
        if !(1..=9999).contains(&chrono::Datelike::year(&date)) {
            return Err(D::Error::custom("[invalid_date] the year must be between 1 and 9999"));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for Date {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Date".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date" })
    }
}

/// A staff member's id, or a word: `any` (whoever is free) or, when moving a booking, `same`.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct StaffChoice(pub String);

impl<'de> Deserialize<'de> for StaffChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s != "any" && s != "same" && uuid::Uuid::parse_str(&s).is_err() {
            return Err(D::Error::custom("[invalid_value] must be a staff id, \"any\" or \"same\""));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for StaffChoice {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "StaffChoice".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "anyOf": [{ "type": "string", "format": "uuid" }, { "type": "string", "enum": ["any", "same"] }] })
    }
}

/// A numbering series: 1 to 10 letters or digits, upper-cased by the database (INV, POS, CN).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Series(pub String);

impl<'de> Deserialize<'de> for Series {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(D::Error::custom("[invalid_format] must be 1 to 10 letters or digits, such as INV"));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for Series {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Series".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[A-Za-z0-9]{1,10}$" })
    }
}
