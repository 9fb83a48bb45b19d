//! Customer import: a file previewed (every row mapped, checked and matched; nothing changes),
//! then committed by the preview's id — exactly what was previewed, or nothing. Toolset
//! `customers`, managers and above. The preview's reading is `crate::call::imports`; the rules
//! are at the top of `sql/operations/imports.sql`.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::types::{Cursor, Id, Limit, Tag, Text};
use super::{Effect, Method, Operation, Page, Spec};

/// What to do with a row that matches an existing customer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnExisting {
    /// Fill in the cells given (blank cells change nothing), add tags, merge custom fields.
    Update,
    /// Leave the customer as it is.
    Skip,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PreviewCustomerImport {
    /// The file as CSV text: RFC 4180, a header row naming the columns. For a large file, send it
    /// as the body of POST /v1/customer-imports with Content-Type: text/csv instead (up to
    /// 100,000 rows; these options go in the query string, mapping as JSON).
    #[schemars(length(max = 1000000))]
    pub csv: Option<String>,
    /// The file as rows: objects of column → value (text, or an array for tags, true/false for
    /// consent). Send csv or rows.
    #[schemars(length(max = 10000))]
    pub rows: Option<Vec<BTreeMap<String, Value>>>,
    /// Column → customer field: name, firstName, lastName, email, phone, lifecycleStage, source,
    /// tags (split on ; or ,), consent.email, consent.sms, consent.whatsapp (yes/no), or
    /// customFields.<key>; null ignores the column. Left out, columns named like a field (Email,
    /// Phone number, First name, list_customers' CSV export columns …) map themselves.
    pub mapping: Option<BTreeMap<String, Option<Text<1, 77>>>>,
    /// A row matching an existing customer (by email, else phone): update (the default) or skip.
    pub on_existing: Option<OnExisting>,
    /// Tags added to every customer the import creates or updates (e.g. "imported-2026-12").
    #[schemars(length(max = 50))]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImportRef {
    /// The import's id, from preview_customer_import.
    pub import_id: Id,
}

/// What a row does when committed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportAction {
    Create,
    Update,
    Skip,
    Error,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListCustomerImportRows {
    /// The import's id.
    pub import_id: Id,
    /// Only rows with this action (error: the rows to fix).
    pub action: Option<ImportAction>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Previewed; commit_customer_import applies it.
    Previewed,
    /// Applied.
    Committed,
    /// Not committed within 24 hours: preview the file again.
    Expired,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ImportCounts {
    pub create: i64,
    pub update: i64,
    pub skip: i64,
    pub error: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ImportProblem {
    /// The customer field at fault.
    pub field: String,
    /// A stable code: required, invalid_email, invalid_phone, invalid_lifecycle_stage,
    /// invalid_tag, too_many_tags, invalid_consent, too_long, too_large, ambiguous_match.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ImportRowErrors {
    /// The row's number among the file's data rows (1: the first after the header).
    pub row: i64,
    pub errors: Vec<ImportProblem>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerImport {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub status: ImportStatus,
    /// csv or json.
    pub format: String,
    /// The file's columns, in order.
    pub columns: Vec<String>,
    /// The mapping used: column → field (columns left out were ignored).
    pub mapping: BTreeMap<String, String>,
    pub on_existing: OnExisting,
    pub tags: Vec<String>,
    /// How many rows the file has.
    pub row_count: i64,
    /// How many rows the commit creates, updates, skips, and how many are in error (never
    /// imported; fix them and import those rows again).
    pub counts: ImportCounts,
    pub created_at: String,
    pub previewed_at: Option<String>,
    /// Until when it can be committed (null once committed).
    pub expires_at: Option<String>,
    pub committed_at: Option<String>,
    /// (preview only) The first 20 rows in error; list_customer_import_rows with action error
    /// has them all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_errors: Option<Vec<ImportRowErrors>>,
}

/// A customer as a row of an import will leave it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportedCustomer {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: BTreeMap<String, Value>,
    /// Consent the row records, per channel, with source import.
    pub marketing_consent: BTreeMap<String, Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerImportRow {
    /// The row's number among the file's data rows (1: the first after the header).
    pub row: i64,
    pub action: ImportAction,
    /// Why a row is skipped: duplicate_in_file, already_exists (onExisting skip), unchanged.
    pub reason: Option<String>,
    /// Why a row is in error, field by field.
    pub errors: Vec<ImportProblem>,
    /// The earlier row this one repeats (same email, phone or customer).
    pub duplicate_of_row: Option<i64>,
    /// The customer it creates (its id once committed) or updates.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub customer_id: Option<String>,
    /// The fields an update changes.
    pub changes: Vec<String>,
    /// The customer as the row leaves it (create and update rows).
    pub customer: Option<ImportedCustomer>,
    /// The row's cells as the file had them.
    pub cells: BTreeMap<String, Value>,
}

#[allow(clippy::too_many_arguments)]
fn spec(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    method: Method,
    path: &'static str,
    effect: Effect,
    idempotent: bool,
    success_status: u16,
) -> Spec {
    super::toolset_spec(
        "customers",
        ("customers:read", "customers:write"),
        name,
        title,
        description,
        method,
        path,
        effect,
        idempotent,
        success_status,
    )
}

pub fn operations() -> Vec<Operation> {
    use Effect::{Read, Write};
    use Method::{Get, Post};
    vec![
        Operation::new::<PreviewCustomerImport, CustomerImport>(spec(
            "preview_customer_import",
            "Preview a customer import",
            "First step of importing customers from a file (CSV text, or rows as objects): maps its columns to \
             customer fields (mapping, or by their names), checks every row, finds duplicates within the file and \
             existing customers (by email, else phone), and answers how many rows would be created, updated, \
             skipped and are in error, with the first errors. Nothing changes yet: show the counts to the person, \
             then commit_customer_import with the id. Rows: list_customer_import_rows. Consent from the file is \
             recorded with source import. Managers and above.",
            Post,
            "/v1/customer-imports",
            Write,
            false,
            201,
        )),
        Operation::new::<ImportRef, CustomerImport>(spec(
            "commit_customer_import",
            "Commit a customer import",
            "Applies a previewed import exactly as previewed: every create and update row, or nothing — 409 \
             import_stale when a customer it relies on changed since the preview, or import_expired after 24 hours \
             (preview again). Rows in error or skipped are not imported. Committing again changes \
             nothing. Managers and above.",
            Post,
            "/v1/customer-imports/{importId}/commit",
            Write,
            true,
            200,
        )),
        Operation::new::<ImportRef, CustomerImport>(spec(
            "get_customer_import",
            "Get a customer import",
            "One import: status (previewed, committed, expired), mapping, and how many rows it creates, updates, \
             skips and has in error. Managers and above.",
            Get,
            "/v1/customer-imports/{importId}",
            Read,
            true,
            200,
        )),
        Operation::new::<ListCustomerImportRows, Page<CustomerImportRow>>(spec(
            "list_customer_import_rows",
            "List an import's rows",
            "The rows of an import in file order, optionally only those with one action (error: what to fix; \
             skip: duplicates and unchanged): each with its errors field by field, the row it duplicates, the \
             customer it creates or updates and the fields it changes. Managers and above.",
            Get,
            "/v1/customer-imports/{importId}/rows",
            Read,
            true,
            200,
        )),
    ]
}
