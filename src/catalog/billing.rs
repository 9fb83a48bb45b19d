//! Billing: tax rates, invoices with gapless numbers, payments, refunds and credit
//! notes. Toolset `billing`; scopes `billing:read` and `billing:write`. Managers and above bill
//! and record payments; owners and admins void, refund and credit; staff read the billing of
//! their own bookings only where the organisation allows it (row-level security). Money is
//! integer minor units; the rounding rule is written once, in `sql/operations/billing.sql`.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bookings::Money;
use super::types::{Cursor, Date, Id, Int, Letters, Limit, Series, Text};
use super::{Effect, Method, Operation, Page, Preview, Spec};

/// An amount in minor units (cents, pence, yen, fils), up to 10^11.
pub(super) type Amount = Int<0, 100_000_000_000>;

/// A positive amount in minor units.
type PositiveAmount = Int<1, 100_000_000_000>;

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateTaxRate {
    /// As it appears on invoices, e.g. "VAT 20%".
    pub name: Text<1, 100>,
    /// The rate in basis points: 2000 is 20 %, 825 is 8.25 %.
    pub percentage_bp: Int<0, 10000>,
    /// true: prices already include the tax; false (default): the tax is added on top.
    pub inclusive: Option<bool>,
    /// Default true.
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateTaxRate {
    /// The tax rate to change.
    pub tax_rate_id: Id,
    pub name: Option<Text<1, 100>>,
    /// false switches the rate off: no new line can use it (lines that have it keep it).
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListTaxRates {
    /// true to list switched-off rates too.
    pub include_inactive: Option<bool>,
}

/// One line of an invoice: a booking (its price, and the booking is linked to the invoice), a
/// service, a product, or a custom description with an amount.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LineInput {
    /// Bill this booking (the invoice's customer's): its price, its service's tax rate.
    pub booking_id: Option<Id>,
    /// Bill this service: its name, price and tax rate unless given.
    pub service_id: Option<Id>,
    /// Bill this product: its name, price and tax rate unless given.
    pub product_id: Option<Id>,
    /// Required for a custom line; otherwise replaces the booking's, service's or product's name.
    pub description: Option<Text<1, 500>>,
    /// Default 1.
    pub quantity: Option<Int<1, 1_000_000>>,
    /// Price of one unit in minor units of the invoice's currency. Required for a custom line.
    pub unit_amount: Option<Amount>,
    /// The tax rate; null for no tax. Default: the service's or product's rate.
    pub tax_rate_id: Option<Id>,
    /// A discount in basis points of quantity × unit amount (1000 is 10 %).
    pub discount_percent_bp: Option<Int<0, 10000>>,
    /// A discount in minor units off quantity × unit amount.
    pub discount_amount: Option<Amount>,
    /// With bookingId: bill the booking's late-cancellation or no-show fee instead of its price.
    pub fee: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateInvoice {
    /// Who is billed.
    pub customer_id: Id,
    /// ISO 4217. Default: the organisation's currency.
    pub currency: Option<Letters<3>>,
    /// The numbering series (default: the organisation's invoicePrefix, e.g. INV).
    pub series: Option<Series>,
    /// The due date. Default: finalisation date + paymentTermsDays.
    pub due_date: Option<Date>,
    /// Days from finalisation to the due date. Default: the organisation's.
    pub payment_terms_days: Option<Int<0, 365>>,
    /// Shown on the invoice.
    pub memo: Option<Text<0, 5000>>,
    #[schemars(length(max = 250))]
    pub lines: Option<Vec<LineInput>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InvoiceRef {
    /// The invoice's id.
    pub invoice_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateInvoice {
    /// The draft invoice to change.
    pub invoice_id: Id,
    pub memo: Option<Text<0, 5000>>,
    pub series: Option<Series>,
    /// Only while the invoice has no lines.
    pub currency: Option<Letters<3>>,
    /// Replaces paymentTermsDays.
    pub due_date: Option<Date>,
    /// Replaces dueDate.
    pub payment_terms_days: Option<Int<0, 365>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddInvoiceLine {
    /// The draft invoice.
    pub invoice_id: Id,
    /// Bill this booking (the invoice's customer's): its price, its service's tax rate.
    pub booking_id: Option<Id>,
    /// Bill this service: its name, price and tax rate unless given.
    pub service_id: Option<Id>,
    /// Bill this product: its name, price and tax rate unless given.
    pub product_id: Option<Id>,
    /// Required for a custom line; otherwise replaces the booking's, service's or product's name.
    pub description: Option<Text<1, 500>>,
    /// Default 1.
    pub quantity: Option<Int<1, 1_000_000>>,
    /// Price of one unit in minor units of the invoice's currency. Required for a custom line.
    pub unit_amount: Option<Amount>,
    /// The tax rate; null for no tax. Default: the service's or product's rate.
    pub tax_rate_id: Option<Id>,
    /// A discount in basis points of quantity × unit amount (1000 is 10 %).
    pub discount_percent_bp: Option<Int<0, 10000>>,
    /// A discount in minor units off quantity × unit amount.
    pub discount_amount: Option<Amount>,
    /// With bookingId: bill the booking's late-cancellation or no-show fee instead of its price.
    pub fee: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InvoiceBookingFees {
    /// Bookings of one customer with a late-cancellation or no-show fee.
    #[schemars(length(min = 1, max = 50))]
    pub booking_ids: Vec<Id>,
    pub memo: Option<Text<0, 5000>>,
    /// true: finalise the invoice at once (it gets its number).
    pub finalize: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemoveInvoiceLine {
    /// The draft invoice.
    pub invoice_id: Id,
    /// The line to remove.
    pub line_id: Id,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListInvoices {
    pub status: Option<InvoiceStatus>,
    pub customer_id: Option<Id>,
    /// true: only open invoices past their due date.
    pub overdue: Option<bool>,
    /// Only invoices due before this date.
    pub due_before: Option<Date>,
    /// Issued (finalised; a draft: created) on or after this date, in the organisation's time zone.
    pub from: Option<Date>,
    /// Issued on or before this date.
    pub to: Option<Date>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    CardTerminal,
    BankTransfer,
    Other,
    Stripe,
    CreditBalance,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ManualPaymentMethod {
    Cash,
    CardTerminal,
    BankTransfer,
    Other,
    /// From the customer's credit balance (get_customer_balance).
    CreditBalance,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecordPayment {
    /// The open (or uncollectible) invoice paid.
    pub invoice_id: Id,
    /// Minor units; at most the amount due.
    pub amount: PositiveAmount,
    /// Must be the invoice's currency when given.
    pub currency: Option<Letters<3>>,
    pub method: ManualPaymentMethod,
    /// When the money came in. Default: today in the organisation's time zone.
    pub received_on: Option<Date>,
    /// A receipt or transfer reference.
    pub reference: Option<Text<1, 200>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PaymentRef {
    /// The payment's id.
    pub payment_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListPayments {
    pub invoice_id: Option<Id>,
    pub customer_id: Option<Id>,
    pub method: Option<PaymentMethod>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefundPayment {
    /// The payment to refund from.
    pub payment_id: Id,
    /// Minor units. Default: all that the payment still holds.
    pub amount: Option<PositiveAmount>,
    pub reason: Option<Text<1, 500>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditReason {
    Duplicate,
    Fraudulent,
    OrderChange,
    ProductUnsatisfactory,
    Other,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreditLineInput {
    /// A line of the invoice.
    pub invoice_line_id: Id,
    /// Credit this much of the line (minor units, tax included) …
    pub amount: Option<PositiveAmount>,
    /// … or this many of its units.
    pub quantity: Option<Int<1, 1_000_000>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCreditNote {
    /// The open or paid invoice to credit.
    pub invoice_id: Id,
    /// Credit this amount (minor units, tax included; its tax is the invoice's share) …
    pub amount: Option<PositiveAmount>,
    /// … or these lines.
    #[schemars(length(min = 1, max = 250))]
    pub lines: Option<Vec<CreditLineInput>>,
    pub reason: Option<CreditReason>,
    pub memo: Option<Text<0, 5000>>,
    /// The credit first lowers what is still owed. What exceeds it is refunded from the
    /// invoice's payments when true, or goes to the customer's credit balance when false
    /// (default).
    pub refund_excess: Option<bool>,
}

/// A Stripe secret key: `sk_test_…`, `sk_live_…` or a restricted `rk_…` key.
#[derive(Debug, Clone)]
pub struct StripeSecretKey(pub String);

impl<'de> Deserialize<'de> for StripeSecretKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = (s.starts_with("sk_test_")
            || s.starts_with("sk_live_")
            || s.starts_with("rk_test_")
            || s.starts_with("rk_live_"))
            && (16..=255).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(serde::de::Error::custom(
                "[invalid_format] must be a Stripe secret key: sk_test_…, sk_live_… or a restricted rk_… key",
            ));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for StripeSecretKey {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StripeSecretKey".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^(sk|rk)_(test|live)_[A-Za-z0-9_]{8,247}$" })
    }
}

/// A Stripe webhook endpoint's signing secret: `whsec_…`.
#[derive(Debug, Clone)]
pub struct StripeWebhookSecret(pub String);

impl<'de> Deserialize<'de> for StripeWebhookSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = s.starts_with("whsec_")
            && (14..=255).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+/=".contains(&b));
        if !ok {
            return Err(serde::de::Error::custom("[invalid_format] must be a Stripe webhook signing secret: whsec_…"));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for StripeWebhookSecret {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StripeWebhookSecret".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^whsec_[A-Za-z0-9_+/=]{8,249}$" })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectStripe {
    /// The organisation's own Stripe secret key (Developers → API keys). Stored encrypted, never
    /// shown again.
    pub secret_key: StripeSecretKey,
    /// The signing secret of the webhook endpoint you add in Stripe for webhookPath (events
    /// checkout.session.completed and charge.refunded). Stored encrypted.
    pub webhook_secret: StripeWebhookSecret,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePaymentLink {
    /// The open invoice to be paid: the link asks for what it still owes.
    pub invoice_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CustomerRef {
    /// The customer's id.
    pub customer_id: Id,
}

// ---------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BalanceSource {
    CreditNote,
    Overpayment,
    FailedRefund,
    Payment,
    Refund,
}

/// A change of the customer's credit balance.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BalanceEntry {
    /// Positive: credit given; negative: credit spent.
    pub amount: Money,
    pub source: BalanceSource,
    #[schemars(with = "uuid::Uuid")]
    pub source_id: String,
    pub created_at: String,
}

/// What the business owes the customer as credit.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerBalance {
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    /// One per currency with a balance.
    pub balances: Vec<Money>,
    /// The latest 50 changes, newest first.
    pub entries: Vec<BalanceEntry>,
}

/// Whether Stripe is connected; never the secrets.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StripeConnection {
    pub connected: bool,
    /// The kind of key and its last four characters (sk_test_…4242).
    pub key_hint: Option<String>,
    /// true for a live key, false for a test key.
    pub livemode: Option<bool>,
    pub connected_at: Option<String>,
    /// Add a webhook endpoint in Stripe at this server's address + this path.
    pub webhook_path: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentLinkStatus {
    Creating,
    Open,
    Paid,
    Failed,
}

/// A Stripe Checkout page for what an invoice owes.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentLink {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub invoice_id: String,
    pub status: PaymentLinkStatus,
    pub amount: Money,
    /// Send this to the customer.
    pub url: Option<String>,
    pub provider_session_id: Option<String>,
    pub expires_at: Option<String>,
    pub created_at: String,
}

/// A tax rate.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaxRate {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    /// Basis points: 2000 is 20 %.
    pub percentage_bp: i64,
    /// Prices include it (true) or it is added on top (false).
    pub inclusive: bool,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// Tax rates.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaxRates {
    pub items: Vec<TaxRate>,
}

/// The tax rate a line carries, as it was when the line was written.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineTax {
    #[schemars(with = "uuid::Uuid")]
    pub tax_rate_id: String,
    pub name: String,
    pub percentage_bp: i64,
    pub inclusive: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Service,
    Product,
    Booking,
    Fee,
    Custom,
}

/// A line of an invoice.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceLine {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub kind: LineKind,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub service_id: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub product_id: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub booking_id: Option<String>,
    pub description: String,
    pub quantity: i64,
    pub unit_amount: Money,
    pub discount_percent_bp: Option<i64>,
    pub discount: Money,
    /// quantity × unit amount − discount (tax included when the rate is inclusive).
    pub amount: Money,
    pub tax: Option<LineTax>,
    pub tax_amount: Money,
    pub total_excluding_tax: Money,
    /// What the line adds to the invoice's total.
    pub total: Money,
}

/// Tax of one rate over the whole invoice.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaxTotal {
    #[schemars(with = "uuid::Uuid")]
    pub tax_rate_id: String,
    pub name: String,
    pub percentage_bp: i64,
    pub inclusive: bool,
    /// The lines' totals excluding this tax.
    pub taxable_amount: Money,
    pub amount: Money,
}

/// An invoice as lists show it (get_invoice adds lines, payments and credit notes).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceSummary {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    /// INV-2027-0001 once finalised; null while a draft.
    pub number: Option<String>,
    pub series: String,
    pub status: InvoiceStatus,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub currency: String,
    pub memo: Option<String>,
    pub due_date: Option<String>,
    pub payment_terms_days: Option<i64>,
    /// Open and past its due date (in the organisation's time zone).
    pub overdue: bool,
    /// Σ quantity × unit amount.
    pub subtotal: Money,
    pub discount: Money,
    pub total_excluding_tax: Money,
    pub tax: Money,
    pub taxes: Vec<TaxTotal>,
    pub total: Money,
    /// Received less refunded.
    pub amount_paid: Money,
    pub amount_credited: Money,
    pub amount_due: Money,
    pub finalized_at: Option<String>,
    pub paid_at: Option<String>,
    pub voided_at: Option<String>,
    pub marked_uncollectible_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

/// A refund from a payment.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub amount: Money,
    pub reason: Option<String>,
    /// pending while Stripe has not answered; failed when it refused (the amount is back on the
    /// payment, or for a credit note on the customer's credit balance).
    pub status: RefundStatus,
    pub failure_reason: Option<String>,
    /// Stripe's id of the refund (re_…).
    pub provider_refund_id: Option<String>,
    /// The credit note that gave it back, if one did.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub credit_note_id: Option<String>,
    pub created_at: String,
}

/// Money received for an invoice.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub invoice_id: String,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub method: PaymentMethod,
    pub amount: Money,
    pub amount_refunded: Money,
    pub received_on: String,
    pub reference: Option<String>,
    pub refunds: Vec<Refund>,
    pub created_at: String,
}

/// A line of a credit note.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditNoteLine {
    #[schemars(with = "uuid::Uuid")]
    pub invoice_line_id: String,
    pub description: String,
    /// Credited, tax included.
    pub amount: Money,
    pub tax: Money,
}

/// A credit note: a correction of a finalised invoice.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditNote {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    /// CN-2027-0001.
    pub number: String,
    #[schemars(with = "uuid::Uuid")]
    pub invoice_id: String,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub reason: Option<CreditReason>,
    pub memo: Option<String>,
    /// Credited, tax included.
    pub amount: Money,
    pub tax: Money,
    /// The part that lowered what was still owed.
    pub applied_to_amount_due: Money,
    /// The part refunded from the invoice's payments.
    pub refunded: Money,
    /// The part that went to the customer's credit balance.
    pub credited_to_balance: Money,
    pub lines: Vec<CreditNoteLine>,
    pub created_at: String,
}

/// An invoice with its lines, payments and credit notes.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    #[serde(flatten)]
    pub summary: InvoiceSummary,
    pub lines: Vec<InvoiceLine>,
    pub payments: Vec<Payment>,
    pub credit_notes: Vec<CreditNote>,
}

// ---------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------

const READ: &str = "billing:read";
const WRITE: &str = "billing:write";

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
        "billing",
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
    use Method::{Delete, Get, Patch, Post};
    vec![
        Operation::new::<CreateTaxRate, TaxRate>(spec(
            "create_tax_rate",
            "Create a tax rate",
            "Add a tax rate (managers and above): a name, the percentage in basis points (2000 = 20 %) and whether \
             prices include it. Its percentage never changes: for a new rate, create another and switch the old \
             one off with update_tax_rate.",
            Post,
            "/v1/tax-rates",
            Write,
            false,
            201,
        )),
        Operation::new::<UpdateTaxRate, TaxRate>(spec(
            "update_tax_rate",
            "Update a tax rate",
            "Rename a tax rate or switch it on or off (managers and above). Lines that already carry it keep it.",
            Patch,
            "/v1/tax-rates/{taxRateId}",
            Write,
            true,
            200,
        )),
        Operation::new::<ListTaxRates, TaxRates>(spec(
            "list_tax_rates",
            "List tax rates",
            "The organisation's tax rates, active ones unless includeInactive. Use an id as taxRateId on invoice \
             lines, services and products.",
            Get,
            "/v1/tax-rates",
            Read,
            true,
            200,
        )),
        Operation::new::<CreateInvoice, Invoice>(spec(
            "create_invoice",
            "Create an invoice",
            "Start a draft invoice for a customer (managers and above), optionally with lines: a bookingId bills \
             that booking's price (and links the two), a serviceId or productId bills it at its price and tax rate, \
             or give a description and unitAmount. Drafts can change (update_invoice, add_invoice_line, \
             remove_invoice_line); finalize_invoice numbers and freezes it.",
            Post,
            "/v1/invoices",
            Write,
            false,
            201,
        )),
        Operation::new::<InvoiceBookingFees, Invoice>(spec(
            "invoice_booking_fees",
            "Invoice booking fees",
            "Bill the late-cancellation and no-show fees of one customer's bookings (cancel_booking and \
             mark_no_show compute them from the service's policy) on a new draft invoice, one fee line per booking, \
             each booking linked to it (managers and above); finalize true numbers it at once. A booking already \
             billed is refused (booking_already_invoiced), one without a fee too (no_fee). A service can do this \
             by itself: billing.invoiceFees on create_service/update_service.",
            Post,
            "/v1/invoices/booking-fees",
            Write,
            false,
            201,
        )),
        Operation::new::<InvoiceRef, Invoice>(spec(
            "get_invoice",
            "Get an invoice",
            "Return one invoice: number, status, lines with their tax, totals (subtotal, discount, tax per rate, \
             total, paid, credited, due), payments with refunds, and credit notes.",
            Get,
            "/v1/invoices/{invoiceId}",
            Read,
            true,
            200,
        )),
        Operation::new::<ListInvoices, Page<InvoiceSummary>>(spec(
            "list_invoices",
            "List invoices",
            "Find invoices, newest first: by status, customer, overdue (open past the due date), due before a date, \
             or issued within dates. Items carry totals but no lines: get_invoice for those.",
            Get,
            "/v1/invoices",
            Read,
            true,
            200,
        )),
        Operation::new::<UpdateInvoice, Invoice>(spec(
            "update_invoice",
            "Update a draft invoice",
            "Change a draft's memo, series, due date or payment terms, or its currency while it has no lines. A \
             finalised invoice never changes (409 invoice_not_draft): correct it with a credit note.",
            Patch,
            "/v1/invoices/{invoiceId}",
            Write,
            true,
            200,
        )),
        Operation::new::<AddInvoiceLine, Invoice>(spec(
            "add_invoice_line",
            "Add a line to a draft invoice",
            "Add one line to a draft invoice and return the invoice with its new totals. The line is priced once, \
             by the rounding rule: discount, then tax per line rounded half away from zero.",
            Post,
            "/v1/invoices/{invoiceId}/lines",
            Write,
            false,
            201,
        )),
        Operation::new::<RemoveInvoiceLine, Invoice>(spec(
            "remove_invoice_line",
            "Remove a line from a draft invoice",
            "Remove a line from a draft invoice (a booking line frees its booking to be billed again) and return \
             the invoice with its new totals.",
            Delete,
            "/v1/invoices/{invoiceId}/lines/{lineId}",
            Write,
            false,
            200,
        )),
        Operation::new::<InvoiceRef, Invoice>(spec(
            "finalize_invoice",
            "Finalise an invoice",
            "Turn a draft into an open invoice (managers and above): it gets the next number of its series for \
             the year (INV-2027-0001, no gaps), a due date, and never changes again. Finalising it again changes \
             nothing. Then record_payment, or send a payment link.",
            Post,
            "/v1/invoices/{invoiceId}/finalize",
            Write,
            true,
            200,
        )),
        Operation::new::<InvoiceRef, Invoice>(Spec {
            preview: Some(Preview::Target("get_invoice")),
            ..spec(
                "void_invoice",
                "Void an invoice",
                "Cancel an invoice that has nothing paid (owners and admins): it keeps its number but is owed no \
                 more, and its bookings may be billed again. An invoice with payments is refused \
                 (invoice_has_payments): refund or credit it instead.",
                Post,
                "/v1/invoices/{invoiceId}/void",
                Destructive,
                true,
                200,
            )
        }),
        Operation::new::<InvoiceRef, Invoice>(spec(
            "mark_uncollectible",
            "Mark an invoice uncollectible",
            "Write off an open invoice the customer will not pay (managers and above). A payment recorded later \
             still settles it.",
            Post,
            "/v1/invoices/{invoiceId}/mark-uncollectible",
            Write,
            true,
            200,
        )),
        Operation::new::<RecordPayment, Payment>(spec(
            "record_payment",
            "Record a payment",
            "Record money received for an open invoice by cash, card terminal, bank transfer or other, or take it \
             from the customer's credit balance (credit_balance; 422 insufficient_balance with balance) \
             (managers and above). Partial payments add up; more than the amount due is refused (422 \
             overpayment, with amountDue). The invoice becomes paid when nothing is owed.",
            Post,
            "/v1/payments",
            Write,
            false,
            201,
        )),
        Operation::new::<CustomerRef, CustomerBalance>(spec(
            "get_customer_balance",
            "Get a customer's credit balance",
            "What the business owes a customer as credit, per currency (from credit notes' excess, payments \
             beyond what was owed, refunds Stripe refused), with the latest changes. Spend it with record_payment \
             method credit_balance.",
            Get,
            "/v1/customers/{customerId}/balance",
            Read,
            true,
            200,
        )),
        Operation::new::<PaymentRef, Payment>(spec(
            "get_payment",
            "Get a payment",
            "Return one payment: invoice, customer, method, amount, what was refunded and each refund.",
            Get,
            "/v1/payments/{paymentId}",
            Read,
            true,
            200,
        )),
        Operation::new::<ListPayments, Page<Payment>>(spec(
            "list_payments",
            "List payments",
            "Payments, newest first, by invoice, customer or method.",
            Get,
            "/v1/payments",
            Read,
            true,
            200,
        )),
        Operation::new::<RefundPayment, Payment>(Spec {
            preview: Some(Preview::Effect("api.preview_refund")),
            open_world: true,
            ..spec(
                "refund_payment",
                "Refund a payment",
                "Give back all or part of a payment (owners and admins; never more than it still holds: \
                 refund_exceeds_payment). A Stripe payment is refunded through Stripe. The invoice owes the refunded amount again. To give money back because \
                 the bill was wrong, use create_credit_note with refundExcess instead, which also lowers the \
                 invoice.",
                Post,
                "/v1/payments/{paymentId}/refunds",
                Destructive,
                false,
                200,
            )
        }),
        Operation::new::<CreateCreditNote, CreditNote>(Spec {
            preview: Some(Preview::Effect("api.preview_credit_note")),
            open_world: true,
            ..spec(
                "create_credit_note",
                "Issue a credit note",
                "Correct an open or paid invoice (owners and admins) by an amount or by lines, never more than the \
                 invoice (credit_exceeds_invoice, credit_exceeds_line). The credit first lowers what is owed; any \
                 excess is refunded from its payments (refundExcess true) or goes to the customer's credit \
                 balance. Numbered in its own series (CN-2027-0001).",
                Post,
                "/v1/invoices/{invoiceId}/credit-notes",
                Destructive,
                false,
                201,
            )
        }),
        Operation::new::<ConnectStripe, StripeConnection>(spec(
            "connect_stripe",
            "Connect Stripe",
            "Connect the organisation's own Stripe account (owners only): its secret key and the signing \
                 secret of a webhook endpoint at webhookPath. Both are stored encrypted and never returned; \
                 connecting again with other secrets replaces them. Then create_payment_link takes card payments for invoices.",
            Method::Put,
            "/v1/stripe-connection",
            Write,
            true,
            200,
        )),
        Operation::new::<super::NoInput, StripeConnection>(spec(
            "get_stripe_connection",
            "Get the Stripe connection",
            "Whether Stripe is connected, which key (a hint such as sk_test_…4242, never the key) and the webhook \
             path to add in Stripe (managers and above).",
            Get,
            "/v1/stripe-connection",
            Read,
            true,
            200,
        )),
        Operation::new::<super::NoInput, StripeConnection>(Spec {
            preview: Some(Preview::Target("get_stripe_connection")),
            ..spec(
                "disconnect_stripe",
                "Disconnect Stripe",
                "Forget the organisation's Stripe secrets (owners only): no more payment links or refunds through \
                 Stripe, and Stripe's events are refused. Payments already recorded stay.",
                Delete,
                "/v1/stripe-connection",
                Destructive,
                true,
                200,
            )
        }),
        Operation::new::<CreatePaymentLink, PaymentLink>(Spec {
            open_world: true,
            ..spec(
                "create_payment_link",
                "Create a payment link",
                "Make a Stripe Checkout page for what an open invoice still owes (managers and above; Stripe must be \
                 connected: stripe_not_connected). Send its url to the customer; when they pay, Stripe tells favcrm \
                 and the payment is recorded once, and the invoice becomes paid.",
                Post,
                "/v1/invoices/{invoiceId}/payment-links",
                Write,
                false,
                201,
            )
        }),
    ]
}
