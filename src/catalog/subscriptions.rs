//! Memberships and session packs: plans, subscriptions that the scheduler renews into invoices
//! (exactly once per period), and credits on an append-only ledger that bookings draw down
//! (`create_booking` with `payWith: "credits"`). Toolset `subscriptions`; scopes
//! `subscriptions:read` and `subscriptions:write`. Every member reads them; managers and above
//! sell and change them. The rules are written once, at the top of
//! `sql/operations/subscriptions.sql`.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::billing::Invoice;
use super::bookings::Money;
use super::commerce::{PriceInput, WebListing};
use super::types::{Cursor, Date, Id, Int, Limit, Text, Timestamp};
use super::{Effect, Method, Operation, Page, Preview, Spec};

// ---------------------------------------------------------------------------------------
// Plans
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanInterval {
    Week,
    Month,
    Year,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePlan {
    pub name: Text<1, 200>,
    pub description: Option<Text<0, 5000>>,
    /// The price of one period.
    pub price: PriceInput,
    /// week, month or year …
    pub interval: PlanInterval,
    /// … times this many (default 1): month × 3 is quarterly.
    pub interval_count: Option<Int<1, 52>>,
    /// Free days before the first paid period (default 0). The trial gets the plan's credits.
    pub trial_days: Option<Int<0, 365>>,
    /// The tax rate of its invoices.
    pub tax_rate_id: Option<Id>,
    /// Class credits granted each period, valid until the period ends (default 0).
    pub credits_per_period: Option<Int<0, 1000>>,
    /// The services those credits pay for; left out: every service.
    #[schemars(length(min = 1, max = 100))]
    pub credit_service_ids: Option<Vec<Id>>,
    /// A discount for members on services billed to them (a booking's price, a service line),
    /// in basis points (1000 is 10 %). Default 0.
    pub service_discount_bp: Option<Int<0, 10000>>,
    /// Days after a period starts that its invoice is due; unpaid after that, the subscription is
    /// past_due. Default 7.
    pub grace_days: Option<Int<0, 90>>,
    /// What web pages (publishable keys) see of it while active. Default listed.
    pub web_listing: Option<WebListing>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListPlans {
    /// true to list archived plans too.
    pub include_archived: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PlanRef {
    /// The plan's id.
    pub plan_id: Id,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Active,
    Archived,
}

/// A membership plan.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub price: Money,
    pub interval: PlanInterval,
    pub interval_count: i64,
    pub trial_days: i64,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub tax_rate_id: Option<String>,
    pub credits_per_period: i64,
    /// null: the credits pay for every service.
    #[schemars(with = "Option<Vec<uuid::Uuid>>")]
    pub credit_service_ids: Option<Vec<String>>,
    /// Members' discount on services, in basis points.
    pub service_discount_bp: i64,
    pub grace_days: i64,
    pub web_listing: WebListing,
    pub status: PlanStatus,
    pub created_at: String,
    pub archived_at: Option<String>,
}

/// Plans.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Plans {
    pub items: Vec<Plan>,
}

// ---------------------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Collection {
    /// Each period's invoice is issued; payments are recorded (or paid by a payment link).
    Invoice,
    /// As invoice, for an organisation with Stripe connected: pay each invoice by a payment link.
    Stripe,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateSubscription {
    pub customer_id: Id,
    /// An active plan.
    pub plan_id: Id,
    /// The first day, in the organisation's calendar: today (default) up to a year ahead.
    /// Starting today, the first period (or the trial) begins at once and is invoiced now.
    pub start_date: Option<Date>,
    /// Default invoice.
    pub collection: Option<Collection>,
    /// A promotion that applies to plans: its discount goes on the first paid period's invoice.
    pub promotion_code: Option<Text<1, 40>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubscriptionRef {
    /// The subscription's id.
    pub subscription_id: Id,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Starts on a later date.
    Scheduled,
    Trialing,
    Active,
    /// A period's invoice is unpaid after its due date.
    PastDue,
    Paused,
    Cancelled,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListSubscriptions {
    pub status: Option<SubscriptionStatus>,
    pub customer_id: Option<Id>,
    pub plan_id: Option<Id>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelWhen {
    /// Let the period run out and do not renew (default).
    PeriodEnd,
    /// End it now.
    Now,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CancelSubscription {
    pub subscription_id: Id,
    /// period_end (default) or now.
    pub when: Option<CancelWhen>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChangeSubscriptionPlan {
    pub subscription_id: Id,
    /// The plan from the next period; the current plan takes back a change not yet made.
    pub plan_id: Id,
}

/// A plan as a subscription names it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub price: Money,
    pub interval: PlanInterval,
    pub interval_count: i64,
}

/// A period a subscription ran.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPeriod {
    pub starts_at: String,
    pub ends_at: String,
    #[schemars(with = "uuid::Uuid")]
    pub plan_id: String,
    pub trial: bool,
    /// The period's invoice (none in a trial or for a free plan).
    #[schemars(with = "Option<uuid::Uuid>")]
    pub invoice_id: Option<String>,
    /// draft, open, paid, void or uncollectible; null when there is no invoice or the caller may
    /// not read billing.
    pub invoice_status: Option<String>,
    /// Where the customer pays the period's invoice online (collection stripe), once Stripe made
    /// the link; null otherwise or when the caller may not read billing.
    pub payment_link_url: Option<String>,
    /// The credits the period granted.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub credit_grant_id: Option<String>,
}

/// A customer's subscription to a plan.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    #[schemars(with = "uuid::Uuid")]
    pub plan_id: String,
    pub plan: Option<PlanSummary>,
    /// The plan from the next period (change_subscription_plan).
    #[schemars(with = "Option<uuid::Uuid>")]
    pub next_plan_id: Option<String>,
    pub status: SubscriptionStatus,
    pub collection: Collection,
    pub promotion_code: Option<String>,
    /// When its first period (or trial) began; null while scheduled.
    pub start_date: Option<String>,
    pub trial_ends_at: Option<String>,
    pub current_period_start: Option<String>,
    pub current_period_end: Option<String>,
    /// When the next period starts (and is invoiced); null when it will not renew.
    pub renews_at: Option<String>,
    pub cancel_at_period_end: bool,
    pub paused_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub ended_at: Option<String>,
    /// Why the scheduler could not renew it last time (it tries again at its next run).
    pub last_renewal_error: Option<String>,
    /// The latest 24 periods, newest first.
    pub periods: Vec<SubscriptionPeriod>,
    pub created_at: String,
    pub updated_at: String,
}

// ---------------------------------------------------------------------------------------
// Packs and credits
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SellPackage {
    pub customer_id: Id,
    /// A pack product (one with package.sessions): its name, price, tax, sessions, services
    /// and validity. Or describe the pack with name, sessions and price instead.
    pub product_id: Option<Id>,
    /// As the invoice and the ledger show it, e.g. "10-class pack".
    pub name: Option<Text<1, 200>>,
    /// How many sessions (credits) it holds.
    pub sessions: Option<Int<1, 1000>>,
    /// The services its credits pay for; left out: every service.
    #[schemars(length(min = 1, max = 100))]
    pub service_ids: Option<Vec<Id>>,
    /// Valid through this many days after today (in the organisation's calendar); left out: no
    /// expiry.
    pub validity_days: Option<Int<1, 3650>>,
    /// The pack's price, invoiced at once.
    pub price: Option<PriceInput>,
    pub tax_rate_id: Option<Id>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantSource {
    Package,
    Subscription,
    Adjustment,
}

/// Credits given to a customer at once.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditGrant {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub source: GrantSource,
    pub name: String,
    /// How many it gave.
    pub quantity: i64,
    /// How many are left now (0 once expired).
    pub remaining: i64,
    /// null: usable for every service.
    #[schemars(with = "Option<Vec<uuid::Uuid>>")]
    pub service_ids: Option<Vec<String>>,
    pub expires_at: Option<String>,
    pub expired: bool,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub invoice_id: Option<String>,
    pub created_at: String,
}

/// A pack sold: its credits and its invoice.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PackageSale {
    pub grant: CreditGrant,
    pub invoice: Invoice,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GetCreditBalance {
    pub customer_id: Id,
    /// Only the credits that pay for this service.
    pub service_id: Option<Id>,
}

/// A customer's credits usable now.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditBalance {
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub service_id: Option<String>,
    /// Credits usable now.
    pub available: i64,
    /// When the first of them expires.
    pub next_expiry: Option<String>,
    /// The grants with credits left, the first to be used first.
    pub grants: Vec<CreditGrant>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListCreditLedger {
    pub customer_id: Id,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditEntryKind {
    Grant,
    /// Spent on a booking.
    Use,
    /// Given back by a free cancellation.
    Return,
    /// What was left when the grant expired.
    Expire,
    Adjust,
}

/// A line of the credit ledger.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditEntry {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub grant_id: String,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub kind: CreditEntryKind,
    /// Positive in, negative out.
    pub quantity: i64,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub booking_id: Option<String>,
    pub note: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub created_by_user_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdjustCredits {
    pub customer_id: Id,
    /// Positive: a new grant of this many. Negative: taken from the grants that expire first.
    pub quantity: NonZeroCredits,
    /// Why, kept in the ledger.
    pub reason: Text<1, 500>,
    /// For a new grant: its name (default "Adjustment").
    pub name: Option<Text<1, 200>>,
    /// For a new grant: the services it pays for; left out: every service.
    #[schemars(length(min = 1, max = 100))]
    pub service_ids: Option<Vec<Id>>,
    /// For a new grant: when it expires; left out: never.
    pub expires_at: Option<Timestamp>,
}

/// A change of credits: −10,000 to 10,000, not 0.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(transparent)]
pub struct NonZeroCredits(pub i64);

impl<'de> Deserialize<'de> for NonZeroCredits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Int::<-10_000, 10_000>(n) = Int::deserialize(d)?;
        if n == 0 {
            return Err(serde::de::Error::custom("[out_of_range] must not be 0"));
        }
        Ok(Self(n))
    }
}

impl JsonSchema for NonZeroCredits {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NonZeroCredits".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "integer", "minimum": -10000, "maximum": 10000, "not": { "const": 0 } })
    }
}

// ---------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------

const READ: &str = "subscriptions:read";
const WRITE: &str = "subscriptions:write";

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
        "subscriptions",
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
    use Method::{Get, Post};
    vec![
        Operation::new::<CreatePlan, Plan>(spec(
            "create_plan",
            "Create a plan",
            "Create a membership plan (managers and above): a price every intervalCount weeks, months or years, \
             an optional free trial, class credits granted each period (for some or all services), the grace days \
             before an unpaid period makes a subscription past_due, and what web pages see of it.",
            Post,
            "/v1/plans",
            Write,
            false,
            201,
        )),
        Operation::new::<ListPlans, Plans>(spec(
            "list_plans",
            "List plans",
            "The organisation's plans by name (active ones unless includeArchived). With a publishable key (a web \
             page): {items: [{id, name, description, price, interval, intervalCount, trialDays, creditsPerPeriod}]} \
             of the active plans not unlisted, price null when hidden.",
            Get,
            "/v1/plans",
            Read,
            true,
            200,
        )),
        Operation::new::<PlanRef, Plan>(spec(
            "archive_plan",
            "Archive a plan",
            "Stop selling a plan (managers and above); its subscriptions carry on. Archiving twice changes nothing.",
            Post,
            "/v1/plans/{planId}/archive",
            Write,
            true,
            200,
        )),
        Operation::new::<CreateSubscription, Subscription>(spec(
            "create_subscription",
            "Start a subscription",
            "Put a customer on a plan (managers and above; needs billing:write too) from startDate (today by \
             default): the trial first if the plan has one, then each period invoiced (finalised, due graceDays \
             after it starts) with its credits, renewed by the scheduler exactly once per period. A promotionCode \
             that applies to plans discounts the first paid period.",
            Post,
            "/v1/subscriptions",
            Write,
            false,
            201,
        )),
        Operation::new::<SubscriptionRef, Subscription>(spec(
            "get_subscription",
            "Get a subscription",
            "Return one subscription: plan, status, current period, when it renews, and its latest periods with \
             their invoices and credit grants.",
            Get,
            "/v1/subscriptions/{subscriptionId}",
            Read,
            true,
            200,
        )),
        Operation::new::<ListSubscriptions, Page<Subscription>>(spec(
            "list_subscriptions",
            "List subscriptions",
            "Subscriptions, newest first, by status (scheduled, trialing, active, past_due, paused, cancelled), \
             customer or plan.",
            Get,
            "/v1/subscriptions",
            Read,
            true,
            200,
        )),
        Operation::new::<SubscriptionRef, Subscription>(spec(
            "pause_subscription",
            "Pause a subscription",
            "Pause a subscription (managers and above): it is not renewed (no invoice, no credits) until \
             resume_subscription. Pausing twice changes nothing.",
            Post,
            "/v1/subscriptions/{subscriptionId}/pause",
            Write,
            true,
            200,
        )),
        Operation::new::<SubscriptionRef, Subscription>(spec(
            "resume_subscription",
            "Resume a subscription",
            "Resume a paused subscription (managers and above): within its period it carries on; once the period \
             ran out, a new period starts today and is invoiced now. Also takes back a cancellation at period end.",
            Post,
            "/v1/subscriptions/{subscriptionId}/resume",
            Write,
            true,
            200,
        )),
        Operation::new::<CancelSubscription, Subscription>(Spec {
            preview: Some(Preview::Target("get_subscription")),
            ..spec(
                "cancel_subscription",
                "Cancel a subscription",
                "Cancel a subscription (managers and above): at the end of its period (default; it is not renewed) \
                 or now. Invoices already issued stand; credits already granted stay usable until they expire.",
                Post,
                "/v1/subscriptions/{subscriptionId}/cancel",
                Destructive,
                true,
                200,
            )
        }),
        Operation::new::<ChangeSubscriptionPlan, Subscription>(spec(
            "change_subscription_plan",
            "Change a subscription's plan",
            "Move a subscription to another plan from its next period (managers and above): no proration, the \
             current period stays as invoiced. Naming the current plan takes back a change not yet made.",
            Post,
            "/v1/subscriptions/{subscriptionId}/change-plan",
            Write,
            true,
            200,
        )),
        Operation::new::<SellPackage, PackageSale>(spec(
            "sell_package",
            "Sell a session pack",
            "Sell a customer a pack of sessions (managers and above; needs billing:write too): a pack product \
             (productId), or one described here (name, sessions, price, serviceIds, validityDays). Makes a \
             finalised invoice for its price and a grant of its credits; bookings spend them with payWith credits. \
             Then record_payment or create_payment_link on the invoice. Voiding the invoice withdraws the unused \
             credits.",
            Post,
            "/v1/packages",
            Write,
            false,
            201,
        )),
        Operation::new::<GetCreditBalance, CreditBalance>(spec(
            "get_credit_balance",
            "Get a customer's credits",
            "A customer's credits usable now (for one service with serviceId): the total, the next expiry and each \
             grant with credits left, the one used first first. Expired credits do not count.",
            Get,
            "/v1/customers/{customerId}/credits",
            Read,
            true,
            200,
        )),
        Operation::new::<ListCreditLedger, Page<CreditEntry>>(spec(
            "list_credit_ledger",
            "List a customer's credit ledger",
            "Every change to a customer's credits, newest first: grants, uses by bookings, returns from free \
             cancellations, expiries and adjustments. The balance is the sum of the entries of unexpired grants.",
            Get,
            "/v1/customers/{customerId}/credit-ledger",
            Read,
            true,
            200,
        )),
        Operation::new::<AdjustCredits, CreditBalance>(spec(
            "adjust_credits",
            "Adjust a customer's credits",
            "Correct a customer's credits with a reason (managers and above): a positive quantity is a new grant \
             (services, expiry); a negative one is taken from the grants that expire first (409 \
             insufficient_credits beyond what is usable). Returns the balance.",
            Post,
            "/v1/customers/{customerId}/credit-adjustments",
            Write,
            false,
            200,
        )),
    ]
}
