//! Reports: each one SQL function over the real tables, read-only, in the organisation's time
//! zone. Toolset `reports`; scope `reports:read` (every role: staff see only what concerns their
//! own bookings and invoices, or nothing, as the organisation says). The rules are written once,
//! at the top of `sql/operations/reports.sql`.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bookings::Money;
use super::types::{Date, Int, Letters, Limit};
use super::{Effect, Method, Operation, Spec};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OverdueInvoicesInput {
    /// The day to age invoices on, in the organisation's time zone. Default: today there.
    pub as_of: Option<Date>,
    /// An earlier day to compare with (default 30 days before `asOf`).
    pub compare_to: Option<Date>,
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
    /// The same at the earlier day, with what was owed then.
    pub comparison: OverdueEarlier,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverdueEarlier {
    pub as_of: String,
    pub count: i64,
    pub amount_due: Money,
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

/// How a report groups its figures.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Day,
    /// Weeks start on the organisation's first weekday (`reporting.weekStartsOn`).
    Week,
    Month,
}

/// What revenue is broken down by.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevenueBreakdownBy {
    Service,
    Product,
    Staff,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RevenueInput {
    /// First day, in the organisation's time zone. Default: six days before `to`.
    pub from: Option<Date>,
    /// Last day (included). Default: today there. At most 366 days after `from`.
    pub to: Option<Date>,
    /// Default: day.
    pub group_by: Option<GroupBy>,
    /// Also what was invoiced in the range by service, product or staff member.
    pub breakdown: Option<RevenueBreakdownBy>,
    /// ISO 4217 code: only money in this currency counts. Default: the organisation's.
    pub currency: Option<Letters<3>>,
}

/// The revenue figures of a period.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevenueFigures {
    /// Invoices finalised (and not voided), their totals.
    pub invoiced: Money,
    /// Credit notes issued.
    pub credited: Money,
    /// Payments received (not those paid from the customer's credit balance).
    pub collected: Money,
    /// Refunds that succeeded.
    pub refunded: Money,
    /// collected − refunded.
    pub net: Money,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevenuePeriod {
    /// First day of the period (cut to the range).
    pub start: String,
    /// Last day of the period (cut to the range).
    pub end: String,
    #[serde(flatten)]
    pub figures: RevenueFigures,
}

/// Change from the previous period, in percent (null when that was 0).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevenueChange {
    pub invoiced: Option<f64>,
    pub collected: Option<f64>,
    pub refunded: Option<f64>,
    pub net: Option<f64>,
}

/// The period of the same length just before.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevenueComparison {
    pub from: String,
    pub to: String,
    pub totals: RevenueFigures,
    pub change_percent: RevenueChange,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevenueBreakdownItem {
    /// The service, product or staff member's user id; null for lines without one.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub id: Option<String>,
    pub name: Option<String>,
    pub lines: i64,
    pub quantity: i64,
    pub invoiced: Money,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevenueBreakdown {
    pub by: RevenueBreakdownBy,
    /// Biggest first.
    pub items: Vec<RevenueBreakdownItem>,
}

/// Revenue over a range of days.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevenueReport {
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub group_by: GroupBy,
    pub currency: String,
    pub totals: RevenueFigures,
    pub periods: Vec<RevenuePeriod>,
    pub comparison: RevenueComparison,
    /// When asked for.
    pub breakdown: Option<RevenueBreakdown>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BookingsInput {
    /// First day, in the organisation's time zone. Default: six days before `to`.
    pub from: Option<Date>,
    /// Last day (included). Default: today there. At most 366 days after `from`.
    pub to: Option<Date>,
    /// Default: day.
    pub group_by: Option<GroupBy>,
}

/// Bookings by what became of them.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingsByStatus {
    pub pending: i64,
    pub confirmed: i64,
    pub checked_in: i64,
    pub completed: i64,
    pub no_show: i64,
    /// Cancelled (not moved), late ones included.
    pub cancelled: i64,
    /// Of the cancelled, those cancelled late under the service's policy.
    pub late_cancelled: i64,
    pub declined: i64,
    /// Moved to another time: the booking at the new time counts under its own status.
    pub rescheduled: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingFigures {
    /// Bookings starting in the period, not counting those moved away.
    pub bookings: i64,
    pub by_status: BookingsByStatus,
    /// No-shows ÷ bookings whose time came (completed, checked in, no-show); null when none.
    pub no_show_rate: Option<f64>,
    /// Late cancellations ÷ bookings neither declined nor moved; null when none.
    pub late_cancel_rate: Option<f64>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingsPeriod {
    pub start: String,
    pub end: String,
    #[serde(flatten)]
    pub figures: BookingFigures,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaffUtilisation {
    #[schemars(with = "uuid::Uuid")]
    pub staff_id: String,
    pub name: String,
    pub booked_minutes: i64,
    pub working_minutes: i64,
    /// booked ÷ working; null without working time.
    pub rate: Option<f64>,
}

/// Staff time booked against staff time worked, over the range.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Utilisation {
    /// Minutes of bookings not cancelled, declined or moved.
    pub booked_minutes: i64,
    /// Working hours as wall-clock time in the organisation's zone, less time off and closures.
    pub working_minutes: i64,
    pub rate: Option<f64>,
    /// Everyone who worked or was booked, by name.
    pub staff: Vec<StaffUtilisation>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingsComparison {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub figures: BookingFigures,
}

/// Bookings over a range of days.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingsReport {
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub group_by: GroupBy,
    pub totals: BookingFigures,
    pub periods: Vec<BookingsPeriod>,
    pub utilisation: Utilisation,
    /// The period of the same length just before.
    pub comparison: BookingsComparison,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CustomersInput {
    /// First day, in the organisation's time zone. Default: six days before `to`.
    pub from: Option<Date>,
    /// Last day (included). Default: today there. At most 366 days after `from`.
    pub to: Option<Date>,
    /// Default: day.
    pub group_by: Option<GroupBy>,
    /// A VIP with no visit in this many days up to `to` is inactive (default 60).
    pub inactive_days: Option<Int<1, 3650>>,
    /// How many inactive VIPs to list (default 50).
    pub limit: Option<Limit>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerFigures {
    /// Customers added (staff: not counted, 0).
    pub new_customers: i64,
    /// Customers who came: a completed or checked-in booking.
    pub visiting: i64,
    /// Of those, who had come before the period.
    pub returning: i64,
    /// Of those, who came for the first time.
    pub first_visits: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomersPeriod {
    pub start: String,
    pub end: String,
    #[serde(flatten)]
    pub figures: CustomerFigures,
}

/// Customers who came in the previous period and not in this one.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Churn {
    pub visited_before: i64,
    pub not_back: i64,
    /// not back ÷ visited before; null when nobody came before.
    pub rate: Option<f64>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InactiveVip {
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub name: String,
    pub lifecycle_stage: String,
    pub tier: Option<String>,
    /// null: never came.
    pub last_visit: Option<String>,
    pub days_since_visit: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InactiveVips {
    pub inactive_days: i64,
    /// The loyalty programme's top tier, whose members count as VIPs; null without tiers.
    pub top_tier: Option<String>,
    pub count: i64,
    /// Longest without a visit first.
    pub customers: Vec<InactiveVip>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomersComparison {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub figures: CustomerFigures,
}

/// Customers over a range of days.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomersReport {
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub group_by: GroupBy,
    pub totals: CustomerFigures,
    pub periods: Vec<CustomersPeriod>,
    pub churn: Churn,
    pub inactive_vips: InactiveVips,
    pub comparison: CustomersComparison,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RangeInput {
    /// First day, in the organisation's time zone. Default: six days before `to`.
    pub from: Option<Date>,
    /// Last day (included). Default: today there. At most 366 days after `from`.
    pub to: Option<Date>,
    /// Default: day.
    pub group_by: Option<GroupBy>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyFigures {
    /// Points earned, and added by hand.
    pub earned: i64,
    pub redeemed: i64,
    pub expired: i64,
    /// Points taken back (a refund or credit note of what earned them), and removed by hand.
    pub reversed: i64,
    pub stamps_earned: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyPeriod {
    pub start: String,
    pub end: String,
    #[serde(flatten)]
    pub figures: LoyaltyFigures,
}

/// What customers hold at the end of the range.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyOutstanding {
    pub as_of: String,
    pub points: i64,
    pub stamps: i64,
    /// Money per point at the best balance-credit reward; null without one.
    pub point_value: Option<f64>,
    /// The points' value as a liability at that rate (rounded down); null without such a reward.
    pub liability: Option<Money>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyComparison {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub figures: LoyaltyFigures,
}

/// Loyalty over a range of days.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyReport {
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub group_by: GroupBy,
    pub outstanding: LoyaltyOutstanding,
    pub totals: LoyaltyFigures,
    pub periods: Vec<LoyaltyPeriod>,
    pub comparison: LoyaltyComparison,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubscriptionsInput {
    /// First day, in the organisation's time zone. Default: 29 days before `to`.
    pub from: Option<Date>,
    /// Last day (included). Default: today there. At most 366 days after `from`.
    pub to: Option<Date>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionsNow {
    pub active: i64,
    pub trialing: i64,
    pub past_due: i64,
    pub paused: i64,
    /// Monthly recurring revenue: active and past-due subscriptions, each plan's price after its
    /// discount, per month.
    pub mrr: Money,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionsInRange {
    /// Running when the range began.
    pub running_at_start: i64,
    pub started: i64,
    pub ended: i64,
    /// ended ÷ running at the start; null when none ran.
    pub churn_rate: Option<f64>,
    /// The monthly revenue of those that ended.
    pub mrr_lost: Money,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionsInCurrency {
    pub currency: String,
    pub now: SubscriptionsNow,
    pub in_range: SubscriptionsInRange,
}

/// Subscriptions now and over a range of days.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionsReport {
    pub from: String,
    pub to: String,
    pub timezone: String,
    /// One entry per currency plans are priced in.
    pub currencies: Vec<SubscriptionsInCurrency>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CampaignsInput {
    /// First day campaigns were sent, in the organisation's time zone. Default: 29 days before `to`.
    pub from: Option<Date>,
    /// Last day (included). Default: today there.
    pub to: Option<Date>,
    /// Only this campaign, whenever it was sent.
    pub campaign_id: Option<super::types::Id>,
    /// Bookings, revenue, replies and opt-outs count within this many days of each message
    /// (default 7).
    pub attribution_days: Option<Int<1, 90>>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignFigures {
    #[schemars(with = "uuid::Uuid")]
    pub campaign_id: String,
    pub name: String,
    pub sent_at: String,
    /// One message per recipient.
    pub recipients: i64,
    /// Handed to the provider (delivered and read included).
    pub sent: i64,
    pub delivered: i64,
    pub read: i64,
    pub failed: i64,
    /// Scheduled or queued (quiet hours, retries).
    pub waiting: i64,
    pub cancelled: i64,
    /// Recipients who wrote back (not an opt-out keyword).
    pub replied: i64,
    /// Recipients who answered STOP or its kin.
    pub opted_out: i64,
    /// delivered ÷ (sent + failed); null before any went.
    pub delivery_rate: Option<f64>,
    /// Recipients who booked within the window.
    pub booked_customers: i64,
    pub bookings: i64,
    /// Paid by recipients within the window, net of refunds, in the organisation's currency.
    pub revenue: Money,
}

/// Campaigns and what they brought.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignsReport {
    pub from: String,
    pub to: String,
    pub timezone: String,
    pub attribution_days: i64,
    /// Newest first.
    pub campaigns: Vec<CampaignFigures>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListDigests {
    pub limit: Option<Limit>,
    pub cursor: Option<super::types::Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DigestRef {
    /// The digest's id.
    pub digest_id: super::types::Id,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DigestRevenue {
    pub currency: String,
    pub totals: RevenueFigures,
    /// The week before.
    pub previous: RevenueFigures,
    pub change_percent: RevenueChange,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DigestBookings {
    pub totals: BookingFigures,
    /// The week before.
    pub previous: BookingFigures,
    /// Booked ÷ working minutes of staff time, null when nobody worked.
    pub utilisation: Option<f64>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DigestOverdueCurrency {
    pub currency: String,
    pub count: i64,
    pub amount_due: Money,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DigestOverdue {
    /// What was overdue at the end of the week, per currency.
    pub currencies: Vec<DigestOverdueCurrency>,
    /// The five most overdue invoices.
    pub most_overdue: Vec<OverdueInvoice>,
}

/// A week summed up.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DigestSummary {
    pub revenue: DigestRevenue,
    pub bookings: DigestBookings,
    pub no_shows: i64,
    pub overdue: DigestOverdue,
    pub customers: CustomerFigures,
    /// VIPs with no visit in 60 days by the end of the week (up to ten listed).
    pub inactive_vips: InactiveVips,
}

/// The weekly digest of one week of the organisation's (its days in its time zone, from its first
/// weekday), made by the scheduler once the week is over.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportDigest {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub week_start: String,
    pub week_end: String,
    pub timezone: String,
    pub summary: DigestSummary,
    /// The owners it was emailed to (reporting.digestEmail), if any.
    pub emailed_to: Vec<String>,
    pub created_at: String,
}

const READ: &str = "reports:read";

fn spec(name: &'static str, title: &'static str, description: &'static str, path: &'static str) -> Spec {
    Spec {
        name,
        title,
        description,
        toolset: "reports",
        scope: READ,
        method: Method::Get,
        path,
        effect: Effect::Read,
        idempotent: true,
        confirm: false,
        preview: None,
        success_status: 200,
        open_world: false,
    }
}

pub fn operations() -> Vec<Operation> {
    vec![
        Operation::new::<RevenueInput, RevenueReport>(spec(
            "report_revenue",
            "Report revenue",
            "Revenue over a range of days in the organisation's time zone (default the last 7), per day, week or \
             month: invoiced, credited, collected, refunded and net, with the previous period of the same length \
             and the change in percent; optionally what was invoiced by service, product or staff member. One \
             currency at a time (default the organisation's). Managers and above see the organisation; staff \
             their own, if the organisation shows staff reports and billing.",
            "/v1/reports/revenue",
        )),
        Operation::new::<BookingsInput, BookingsReport>(spec(
            "report_bookings",
            "Report bookings",
            "Bookings over a range of days in the organisation's time zone (default the last 7), by the day they \
             start, per day, week or month: counts by status (a rescheduled booking is not a cancellation), the \
             no-show and late-cancellation rates, utilisation of staff time (booked ÷ working minutes, per staff \
             member), and the previous period of the same length. Managers and above see the organisation; \
             staff their own bookings, if the organisation shows staff reports.",
            "/v1/reports/bookings",
        )),
        Operation::new::<CustomersInput, CustomersReport>(spec(
            "report_customers",
            "Report customers",
            "Customers over a range of days in the organisation's time zone (default the last 7), per day, week \
             or month: new customers, who came (completed or checked-in bookings), returning and first visits; \
             churn against the previous period; and inactive VIPs (the vip stage or the top loyalty tier) with no \
             visit in inactiveDays days (default 60), longest first. Managers and above see the organisation; \
             staff the customers of their own bookings, if the organisation shows staff reports.",
            "/v1/reports/customers",
        )),
        Operation::new::<RangeInput, LoyaltyReport>(spec(
            "report_loyalty",
            "Report loyalty",
            "Loyalty over a range of days in the organisation's time zone (default the last 7), per day, week or \
             month: points earned, redeemed, expired and reversed, stamps earned; points and stamps outstanding at \
             the end of the range and their value as a liability (at the best balance-credit reward's rate); the \
             previous period. Managers and above.",
            "/v1/reports/loyalty",
        )),
        Operation::new::<SubscriptionsInput, SubscriptionsReport>(spec(
            "report_subscriptions",
            "Report subscriptions",
            "Subscriptions per currency: now, how many are active, trialing, past due and paused, and the monthly \
             recurring revenue; over a range of days (default the last 30), how many ran at its start, started \
             and ended, the churn rate and the monthly revenue lost. Managers and above.",
            "/v1/reports/subscriptions",
        )),
        Operation::new::<CampaignsInput, CampaignsReport>(spec(
            "report_campaigns",
            "Report campaigns",
            "Campaigns sent in a range of days (default the last 30) or one campaign: recipients, sent, delivered, \
             read, failed and waiting messages, replies and opt-outs, and the bookings and revenue from \
             recipients within attributionDays (default 7) of their message. Managers and above.",
            "/v1/reports/campaigns",
        )),
        Operation::new::<OverdueInvoicesInput, OverdueInvoicesReport>(spec(
            "report_overdue_invoices",
            "Report overdue invoices",
            "Invoices past their due date at the end of a day (today in the organisation's time zone unless \
             given), with what was owed then: count and amount due per currency in ageing buckets 1-30, 31-60, \
             61-90 and 90+ days, the same at an earlier day (compareTo, default 30 days before), and the most \
             overdue invoices with their customers. Managers and above see the organisation; staff \
             their own invoices, if the organisation shows staff reports and billing.",
            "/v1/reports/overdue-invoices",
        )),
        Operation::new::<ListDigests, super::Page<ReportDigest>>(spec(
            "list_report_digests",
            "List weekly digests",
            "The weekly digests, the latest week first: how each week went (revenue, bookings, no-shows, overdue \
             invoices, inactive VIPs, each beside the week before), made once the week is over in the \
             organisation's time zone. The first item answers \"how did last week go?\" in one call. Emailed to \
             the owners when reporting.digestEmail is on. Managers and above.",
            "/v1/reports/digests",
        )),
        Operation::new::<DigestRef, ReportDigest>(spec(
            "get_report_digest",
            "Get a weekly digest",
            "One weekly digest by its id: the week's revenue, bookings, no-shows, overdue invoices and inactive \
             VIPs, each beside the week before. Managers and above.",
            "/v1/reports/digests/{digestId}",
        )),
    ]
}
