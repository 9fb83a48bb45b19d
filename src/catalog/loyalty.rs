//! Loyalty: the programme an organisation sets once, and points and stamps earned from real
//! events (payments, completed bookings) on an append-only ledger, exactly once per event.
//! Toolset `loyalty`; scopes `loyalty:read` and `loyalty:write`. Every member reads; owners and
//! admins set the programme; managers and above adjust points. The rules are written once, at
//! the top of `sql/operations/loyalty.sql`.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::subscriptions::NonZeroCredits;
use super::types::{Cursor, Id, Int, Limit, Text};
use super::{Effect, Method, Operation, Page, Spec};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    Down,
    Nearest,
    Up,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BookingPointsOverride {
    pub service_id: Id,
    /// Points a completed booking of this service earns instead of pointsPerBooking.
    pub points: Int<0, 100_000>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TierInput {
    pub name: Text<1, 50>,
    /// Points earned in a rolling 12 months that reach this tier.
    pub threshold: Int<0, 100_000_000>,
    /// Earning multiplier in basis points: 10000 is ×1 (default), 15000 is ×1.5.
    pub multiplier_bp: Option<Int<10_000, 100_000>>,
    /// Members of the tier get this discount on services billed to them (a booking's price, a
    /// service line), in basis points; a plan's discount applies instead when it is larger.
    pub discount_bp: Option<Int<0, 10_000>>,
}

/// Fields left out stay as they are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateLoyaltyProgramme {
    /// Off: nothing is earned (what was earned stays).
    pub enabled: Option<bool>,
    /// Points per currency unit paid (1 = a point per pound, dollar or 100 yen … per major unit).
    #[schemars(range(min = 0, max = 10000))]
    pub points_per_unit: Option<f64>,
    /// How points for a payment are rounded: down (default), nearest or up.
    pub rounding: Option<Rounding>,
    /// Points a completed booking earns (default 0).
    pub points_per_booking: Option<Int<0, 100_000>>,
    /// Services that earn another number of points per booking (replaces the list).
    #[schemars(length(max = 200))]
    pub booking_points_overrides: Option<Vec<BookingPointsOverride>>,
    /// Points expire this many months after they were earned; null: never.
    pub expiry_months: Option<Int<1, 120>>,
    /// Stamps for a full card; null: no stamp cards.
    pub stamps_per_card: Option<Int<2, 100>>,
    /// Services whose completed bookings earn a stamp; null: every service.
    #[schemars(length(min = 1, max = 100))]
    pub stamp_service_ids: Option<Vec<Id>>,
    /// Tiers by points earned in a rolling 12 months (replaces the list).
    #[schemars(length(max = 10))]
    pub tiers: Option<Vec<TierInput>>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingPoints {
    #[schemars(with = "uuid::Uuid")]
    pub service_id: String,
    pub points: i64,
}

/// A loyalty tier.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tier {
    pub name: String,
    pub threshold: i64,
    pub multiplier_bp: i64,
    pub discount_bp: i64,
}

/// The organisation's loyalty programme.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyProgramme {
    pub enabled: bool,
    pub points_per_unit: f64,
    pub rounding: Rounding,
    pub points_per_booking: i64,
    pub booking_points_overrides: Vec<BookingPoints>,
    pub expiry_months: Option<i64>,
    pub stamps_per_card: Option<i64>,
    #[schemars(with = "Option<Vec<uuid::Uuid>>")]
    pub stamp_service_ids: Option<Vec<String>>,
    pub tiers: Vec<Tier>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CustomerRef {
    /// The customer's id.
    pub customer_id: Id,
}

/// Points expiring on a date.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Expiring {
    pub points: i64,
    pub expires_at: String,
}

/// A customer's loyalty now.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyBalance {
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    /// Points usable now (expired ones do not count).
    pub points: i64,
    pub stamps: i64,
    pub stamps_per_card: Option<i64>,
    pub full_cards: i64,
    /// What tiers are measured by.
    pub points_earned12_months: i64,
    pub tier: Option<Tier>,
    /// Points expiring in the next 30 days.
    pub expiring_soon: Vec<Expiring>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListLoyaltyLedger {
    pub customer_id: Id,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoyaltyUnit {
    Points,
    Stamps,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoyaltyEntryKind {
    Earn,
    Redeem,
    Expire,
    Adjust,
    /// Taken back by a refund.
    Reverse,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoyaltySource {
    Payment,
    Booking,
    Refund,
    Adjustment,
    Redemption,
    Expiry,
}

/// A line of the loyalty ledger.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyEntry {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub unit: LoyaltyUnit,
    pub kind: LoyaltyEntryKind,
    /// Positive in, negative out.
    pub quantity: i64,
    /// The lot (an earning or a positive adjustment) it belongs to: itself for a lot.
    #[schemars(with = "uuid::Uuid")]
    pub lot_id: String,
    pub source: LoyaltySource,
    #[schemars(with = "uuid::Uuid")]
    pub source_id: String,
    /// For a lot: when its points expire.
    pub expires_at: Option<String>,
    pub note: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub created_by_user_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdjustPoints {
    pub customer_id: Id,
    /// Positive: a new lot of this many. Negative: taken from the lots that expire first.
    pub quantity: NonZeroCredits,
    /// Why, kept in the ledger.
    pub reason: Text<1, 500>,
    /// points (default) or stamps.
    pub unit: Option<LoyaltyUnit>,
}

const READ: &str = "loyalty:read";
const WRITE: &str = "loyalty:write";

/// A spec of this toolset with the usual defaults.
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
        "loyalty",
        (READ, WRITE),
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
    use Method::{Get, Patch, Post};
    vec![
        Operation::new::<super::NoInput, LoyaltyProgramme>(spec(
            "get_loyalty_programme",
            "Get the loyalty programme",
            "The organisation's loyalty rules: points per currency unit paid and per completed booking (with \
             per-service overrides), rounding, expiry, stamp cards and tiers. Off until set.",
            Get,
            "/v1/loyalty-programme",
            Read,
            true,
            200,
        )),
        Operation::new::<UpdateLoyaltyProgramme, LoyaltyProgramme>(spec(
            "update_loyalty_programme",
            "Update the loyalty programme",
            "Set the loyalty rules (owners and admins); fields left out stay as they are. Changes apply to payments \
             and bookings from now on: what was earned stays. Each payment and each completed booking earns once.",
            Patch,
            "/v1/loyalty-programme",
            Write,
            true,
            200,
        )),
        Operation::new::<CustomerRef, LoyaltyBalance>(spec(
            "get_loyalty_balance",
            "Get a customer's loyalty",
            "A customer's points usable now (expired points do not count), stamps and full cards, points earned in \
             the last 12 months and the tier they reach, and points expiring in the next 30 days.",
            Get,
            "/v1/customers/{customerId}/loyalty",
            Read,
            true,
            200,
        )),
        Operation::new::<ListLoyaltyLedger, Page<LoyaltyEntry>>(spec(
            "list_loyalty_ledger",
            "List a customer's loyalty ledger",
            "Every change to a customer's points and stamps, newest first: earnings (from payments and completed \
             bookings), reversals by refunds, redemptions, expiries and adjustments, each with its lot and source. \
             The balance is the sum of the entries of the lots not expired.",
            Get,
            "/v1/customers/{customerId}/loyalty-ledger",
            Read,
            true,
            200,
        )),
        Operation::new::<AdjustPoints, LoyaltyBalance>(spec(
            "adjust_points",
            "Adjust a customer's points",
            "Correct a customer's points or stamps with a reason (managers and above): a positive quantity is a new \
             lot, expiring as earned points do; a negative one is taken from the lots that expire first (409 \
             insufficient_points beyond the balance). Returns the balance.",
            Post,
            "/v1/customers/{customerId}/loyalty-adjustments",
            Write,
            false,
            200,
        )),
    ]
}
