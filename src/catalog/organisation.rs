//! The caller's organisation.
#![allow(dead_code)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::{Int, Letters, Series, Text};
use super::{Effect, Method, NoInput, Operation, Spec};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Industry {
    Beauty,
    Fitness,
    Tutoring,
    Retail,
    Hospitality,
    Services,
    Other,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateOrganisation {
    pub name: Option<Text<1, 200>>,
    pub industry: Option<Industry>,
    /// ISO 3166-1 alpha-2 country code, e.g. HK, GB, US.
    pub country: Option<Letters<2>>,
    /// IANA time zone, e.g. Asia/Hong_Kong. Opening hours are read in this zone.
    pub timezone: Option<Text<1, 64>>,
    /// ISO 4217 currency code, e.g. HKD.
    pub default_currency: Option<Letters<3>>,
    /// How invoices are numbered and who sees them; fields left out stay as they are.
    pub billing: Option<BillingSettingsInput>,
    /// How reports count weeks and what staff see of them; fields left out stay as they are.
    pub reporting: Option<ReportingSettingsInput>,
}

/// What staff see of reports.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffReports {
    /// Only what concerns their own bookings and invoices.
    Own,
    /// Nothing.
    None,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReportingSettingsInput {
    /// The first day of the week, ISO: 1 Monday … 7 Sunday. Reports grouped by week start there.
    pub week_starts_on: Option<Int<1, 7>>,
    pub staff_reports: Option<StaffReports>,
    /// true emails the weekly digest (list_report_digests) to the owners once each week is over.
    pub digest_email: Option<bool>,
}

/// How reports count weeks and what staff see of them.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportingSettings {
    /// ISO: 1 Monday … 7 Sunday.
    pub week_starts_on: i64,
    pub staff_reports: StaffReports,
    /// Whether the weekly digest is emailed to the owners.
    pub digest_email: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BillingSettingsInput {
    /// The series new invoices are numbered in: INV gives INV-2027-0001.
    pub invoice_prefix: Option<Series>,
    /// The series credit notes are numbered in: CN gives CN-2027-0001.
    pub credit_note_prefix: Option<Series>,
    /// Days from finalisation to the due date when an invoice sets neither.
    pub payment_terms_days: Option<Int<0, 365>>,
    /// true lets staff read the invoices and payments of bookings assigned to them.
    pub staff_billing_access: Option<bool>,
}

/// How the organisation bills.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingSettings {
    pub invoice_prefix: String,
    pub credit_note_prefix: String,
    pub payment_terms_days: i64,
    pub staff_billing_access: bool,
}

/// An organisation (the business).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Organisation {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub industry: Industry,
    pub country: Option<String>,
    pub timezone: String,
    pub default_currency: String,
    /// True while the organisation has neither a country nor a time zone of its own and runs on
    /// the UTC and USD defaults: ask the person for their time zone before booking by wall-clock time.
    pub timezone_is_default: bool,
    pub billing: BillingSettings,
    pub reporting: ReportingSettings,
    /// The current time in the organisation's time zone, with its UTC offset
    /// (2026-12-02T22:21:00+08:00): what "today" and "next Tuesday at 10" are relative to.
    pub local_time: String,
    /// Today's date there.
    pub today: String,
    /// Today's weekday there (Monday … Sunday).
    pub weekday: String,
    pub created_at: String,
    pub updated_at: String,
}

pub fn operations() -> Vec<Operation> {
    vec![
        Operation::new::<NoInput, Organisation>(Spec {
            name: "get_organisation",
            title: "Get the organisation",
            description: "Return the caller's organisation: name, industry, country, time zone and default currency, \
                          and the current local time, date and weekday there. Call this first to learn the time zone \
                          that wall-clock times are in and what today is (for \"next Tuesday at 10\"). \
                          timezoneIsDefault true means nobody set a country or time zone yet: ask.",
            toolset: "organisation",
            scope: "organisation:read",
            method: Method::Get,
            path: "/v1/organisation",
            effect: Effect::Read,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<UpdateOrganisation, Organisation>(Spec {
            name: "update_organisation",
            title: "Update the organisation",
            description: "Change the organisation's name, industry, country, time zone, default currency or billing \
                          settings (invoice and credit-note prefixes, payment terms, whether staff see billing), or \
                          reporting settings (the first day of the week, what staff see of reports; owners and \
                          admins). Fields left out stay as they are.",
            toolset: "organisation",
            scope: "organisation:write",
            method: Method::Patch,
            path: "/v1/organisation",
            effect: Effect::Write,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
    ]
}
