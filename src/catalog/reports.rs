//! Reports: each one SQL function over the real tables, read-only, in the organisation's time
//! zone. Toolset `reports`; scope `reports:read` (every role: staff see only what concerns their
//! own bookings and invoices, or nothing, as the organisation says). The rules are written once,
//! at the top of `sql/operations/reports.sql`.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bookings::Money;
use super::types::{Date, Limit};
use super::{Effect, Method, Operation, Spec};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OverdueInvoicesInput {
    /// The day to age invoices on, in the organisation's time zone. Default: today there.
    pub as_of: Option<Date>,
    /// How many of the most overdue invoices to list (default 50).
    pub limit: Option<Limit>,
}

/// An ageing bucket: invoices so many days past their due date.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub enum AgeingBucket {
    #[serde(rename = "1-30")]
    UpTo30,
    #[serde(rename = "31-60")]
    UpTo60,
    #[serde(rename = "61-90")]
    UpTo90,
    #[serde(rename = "90+")]
    Over90,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    pub bucket: AgeingBucket,
    pub count: i64,
    pub amount_due: Money,
}

/// What is overdue in one currency.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverdueInCurrency {
    pub currency: String,
    pub count: i64,
    pub amount_due: Money,
    /// Always the four buckets, in order (1-30, 31-60, 61-90, 90+), empty ones with 0.
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverdueInvoice {
    #[schemars(with = "uuid::Uuid")]
    pub invoice_id: String,
    pub number: String,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub customer_name: String,
    pub due_date: String,
    pub days_overdue: i64,
    pub bucket: AgeingBucket,
    pub amount_due: Money,
}

/// Open invoices past their due date, aged.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverdueInvoicesReport {
    pub as_of: String,
    /// One entry per currency owed in, by currency code.
    pub currencies: Vec<OverdueInCurrency>,
    /// The most overdue first (then by number), up to `limit`.
    pub invoices: Vec<OverdueInvoice>,
    /// More overdue invoices than listed.
    pub more: bool,
}

const READ: &str = "reports:read";

pub fn operations() -> Vec<Operation> {
    vec![Operation::new::<OverdueInvoicesInput, OverdueInvoicesReport>(Spec {
        name: "report_overdue_invoices",
        title: "Report overdue invoices",
        description: "Open invoices past their due date as of a day (today in the organisation's time zone unless \
                      given): count and amount due per currency in ageing buckets 1-30, 31-60, 61-90 and 90+ days, \
                      and the most overdue invoices with their customers. Managers and above see the organisation; \
                      staff their own invoices, if the organisation shows staff reports and billing.",
        toolset: "reports",
        scope: READ,
        method: Method::Get,
        path: "/v1/reports/overdue-invoices",
        effect: Effect::Read,
        idempotent: true,
        confirm: false,
        preview: None,
        success_status: 200,
        open_world: false,
    })]
}
