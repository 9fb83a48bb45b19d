//! Loyalty: the programme an organisation sets once, and points and stamps earned from real
//! events (payments, completed bookings) on an append-only ledger, exactly once per event.
//! Toolset `loyalty`; scopes `loyalty:read` and `loyalty:write`. Every member reads; owners and
//! admins set the programme; managers and above adjust points. The rules are written once, at
//! the top of `sql/operations/loyalty.sql`.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bookings::Money;
use super::commerce::PriceInput;
use super::subscriptions::NonZeroCredits;
use super::types::{Cursor, Id, Int, Limit, Text};
use super::{Effect, Method, Operation, Page, Preview, Spec};

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
    /// Credit the customer got on their balance for a paid invoice.
    CreditNote,
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

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RewardGives {
    /// Credit on the customer's balance (amount): a discount on an invoice they pay with it
    /// (record_payment method credit_balance).
    BalanceCredit,
    /// A free session of a service (serviceId): a credit bookings spend with payWith credits.
    ServiceCredit,
    /// A product (productId), as a free order that reserves its stock.
    Product,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateReward {
    pub name: Text<1, 200>,
    pub description: Option<Text<0, 2000>>,
    /// What it costs in points …
    pub cost_points: Option<Int<1, 10_000_000>>,
    /// … or true: a full stamp card.
    pub cost_stamp_card: Option<bool>,
    pub gives: RewardGives,
    /// For balance_credit.
    pub amount: Option<PriceInput>,
    /// For service_credit.
    pub service_id: Option<Id>,
    /// For product.
    pub product_id: Option<Id>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListRewards {
    /// true to list archived rewards too.
    pub include_archived: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RewardRef {
    /// The reward's id.
    pub reward_id: Id,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RewardStatus {
    Active,
    Archived,
}

/// A reward of the catalogue.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reward {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub cost_points: Option<i64>,
    pub cost_stamp_card: bool,
    pub gives: RewardGives,
    pub amount: Option<Money>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub service_id: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub product_id: Option<String>,
    pub status: RewardStatus,
    pub created_at: String,
    pub archived_at: Option<String>,
}

/// Rewards.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Rewards {
    pub items: Vec<Reward>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RedeemReward {
    pub customer_id: Id,
    pub reward_id: Id,
    pub reason: Option<Text<1, 500>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReverseRedemption {
    pub redemption_id: Id,
    pub reason: Option<Text<1, 500>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RedemptionStatus {
    Redeemed,
    Reversed,
}

/// A reward as a redemption names it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RewardSummary {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub gives: RewardGives,
    pub amount: Option<Money>,
}

/// A reward a customer took.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Redemption {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    #[schemars(with = "uuid::Uuid")]
    pub reward_id: String,
    pub reward: Option<RewardSummary>,
    pub status: RedemptionStatus,
    pub unit: LoyaltyUnit,
    /// What it cost, in the unit.
    pub cost: i64,
    /// The free session's credit (service_credit).
    #[schemars(with = "Option<uuid::Uuid>")]
    pub credit_grant_id: Option<String>,
    /// The free order (product).
    #[schemars(with = "Option<uuid::Uuid>")]
    pub order_id: Option<String>,
    pub reason: Option<String>,
    pub created_at: String,
    pub reversed_at: Option<String>,
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
    use Effect::{Destructive, Read, Write};
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
        Operation::new::<CreateReward, Reward>(spec(
            "create_reward",
            "Create a reward",
            "Add a reward to the catalogue (managers and above): its cost in points (costPoints) or a full stamp \
             card (costStampCard), and what it gives: balance_credit (an amount on the customer's credit balance, \
             a discount on an invoice they pay with it), service_credit (a free session of serviceId) or product \
             (productId, as a free order).",
            Post,
            "/v1/rewards",
            Write,
            false,
            201,
        )),
        Operation::new::<ListRewards, Rewards>(spec(
            "list_rewards",
            "List rewards",
            "The rewards catalogue by name, with what each costs and gives (active ones unless includeArchived).",
            Get,
            "/v1/rewards",
            Read,
            true,
            200,
        )),
        Operation::new::<RewardRef, Reward>(spec(
            "archive_reward",
            "Archive a reward",
            "Take a reward out of the catalogue (managers and above); redemptions made stay. Archiving twice changes \
             nothing.",
            Post,
            "/v1/rewards/{rewardId}/archive",
            Write,
            true,
            200,
        )),
        Operation::new::<RedeemReward, Redemption>(Spec {
            preview: Some(Preview::Target("get_loyalty_balance")),
            ..spec(
                "redeem_reward",
                "Redeem a reward",
                "Spend a customer's points (or a full stamp card) on a reward (managers and above) and give it: credit \
                 on their balance, a free session, or a product as a free order (that needs commerce:write too). \
                 Checked under the customer's lock: 409 insufficient_points with available and cost. Agents confirm \
                 first: the preview is the customer's balance.",
                Post,
                "/v1/loyalty-redemptions",
                Destructive,
                false,
                201,
            )
        }),
        Operation::new::<ReverseRedemption, Redemption>(spec(
            "reverse_redemption",
            "Reverse a redemption",
            "Take a redemption back (managers and above): what the reward gave first (409 reward_used when it was \
             spent, booked or handed over), then the points or stamps, to the lots they came from (points of a lot \
             that expired meanwhile stay expired). Reversing twice changes nothing.",
            Post,
            "/v1/loyalty-redemptions/{redemptionId}/reverse",
            Destructive,
            true,
            200,
        )),
    ]
}
