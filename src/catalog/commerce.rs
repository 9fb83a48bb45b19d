//! Commerce: products with a SKU and, when they track stock, a stock level kept as an
//! append-only ledger of movements. Toolset `commerce`; scopes `commerce:read` and
//! `commerce:write`. Every member reads products and stock; managers and above change them.
//! Orders, packages, plans and promotions come next.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::billing::Amount;
use super::bookings::Money;
use super::types::{Cursor, Id, Int, Letters, Limit, Text};
use super::{Effect, Method, Operation, Page, Spec};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    /// Integer minor units, e.g. 4500 for 45.00 (JPY: 4500 is ¥4,500; KWD: 4500 is 4.500).
    pub amount: Amount,
    /// ISO 4217 code. Default: the organisation's currency (on update: the product's).
    pub currency: Option<Letters<3>>,
}

/// A stock-keeping unit: letters, digits, `.`, `_` and `-`, unique in the organisation
/// whatever the case (stored upper-case).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Sku(pub String);

impl<'de> Deserialize<'de> for Sku {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = s.trim();
        let ok = !t.is_empty()
            && t.len() <= 64
            && t.as_bytes()[0].is_ascii_alphanumeric()
            && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !ok {
            return Err(serde::de::Error::custom(
                "[invalid_format] must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            ));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for Sku {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Sku".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^\\s*[A-Za-z0-9][A-Za-z0-9._-]{0,63}\\s*$" })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateProduct {
    pub name: Text<1, 200>,
    pub description: Option<Text<0, 5000>>,
    /// Unique in the organisation (case does not matter).
    pub sku: Option<Sku>,
    pub price: PriceInput,
    /// The tax rate its invoice lines get unless a line names another.
    pub tax_rate_id: Option<Id>,
    /// true: the product has a stock level that adjust_stock moves and that never goes below zero.
    pub track_stock: Option<bool>,
    /// What web pages (publishable keys) see of it while active. Default listed.
    pub web_listing: Option<WebListing>,
    /// Makes it a session pack: each one sold (sell_package, or an order billed) grants credits.
    pub package: Option<PackageInput>,
}

/// A session pack: the credits each one sold grants.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PackageInput {
    /// Credits (sessions) it holds.
    pub sessions: Int<1, 1000>,
    /// The services they pay for; left out: every service.
    #[schemars(length(min = 1, max = 100))]
    pub service_ids: Option<Vec<Id>>,
    /// Valid through this many days after the sale (in the organisation's calendar); left out:
    /// no expiry.
    pub validity_days: Option<Int<1, 3650>>,
}

/// What a session pack product grants.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub sessions: i64,
    /// null: every service.
    #[schemars(with = "Option<Vec<uuid::Uuid>>")]
    pub service_ids: Option<Vec<String>>,
    /// null: no expiry.
    pub validity_days: Option<i64>,
}

/// What web pages (publishable keys) see of a product or plan while it is active.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebListing {
    /// Listed with its price.
    Listed,
    /// Listed, its price shown as null ("ask us").
    PriceHidden,
    /// Not listed.
    Unlisted,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    Active,
    Archived,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateProduct {
    /// The product to change; fields left out stay as they are.
    pub product_id: Id,
    pub name: Option<Text<1, 200>>,
    /// null clears it.
    pub description: Option<Text<0, 5000>>,
    /// null clears it.
    pub sku: Option<Sku>,
    pub price: Option<PriceInput>,
    /// null: no tax by default.
    pub tax_rate_id: Option<Id>,
    pub track_stock: Option<bool>,
    pub web_listing: Option<WebListing>,
    /// null: no longer a pack.
    pub package: Option<PackageInput>,
    /// archived hides it from lists; active brings it back.
    pub status: Option<ProductStatus>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProductRef {
    /// The product's id.
    pub product_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListProducts {
    /// Text in the name, or the exact SKU.
    pub q: Option<Text<1, 200>>,
    /// true to list archived products too.
    pub include_archived: Option<bool>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockReason {
    Received,
    Adjustment,
    Damaged,
    Returned,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdjustStock {
    /// A product that tracks stock.
    pub product_id: Id,
    /// A change: positive in (received, returned), negative out (damaged, adjustment) …
    pub quantity: Option<Int<-1_000_000, 1_000_000>>,
    /// … or a count: the level is set to this (recorded as the difference, reason count).
    pub counted_quantity: Option<Int<0, 1_000_000>>,
    /// Why, for a change. Default adjustment.
    pub reason: Option<StockReason>,
    pub note: Option<Text<1, 500>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListStockMovements {
    pub product_id: Id,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

/// A product.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub sku: Option<String>,
    pub description: Option<String>,
    pub price: Money,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub tax_rate_id: Option<String>,
    pub track_stock: bool,
    /// The sum of its stock movements; null when it does not track stock.
    pub stock_on_hand: Option<i64>,
    pub web_listing: WebListing,
    /// A session pack: the credits each one sold grants; null for other products.
    pub package: Option<Package>,
    pub status: ProductStatus,
    pub created_at: String,
    pub updated_at: String,
    pub archived_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementReason {
    Received,
    Count,
    Adjustment,
    Damaged,
    Returned,
    /// Taken by an order when it was made.
    Reserved,
    /// Given back when that order was cancelled.
    Released,
}

/// Stock that came in or went out.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockMovement {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub product_id: String,
    /// Positive in, negative out.
    pub quantity: i64,
    pub reason: MovementReason,
    pub note: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub created_by_user_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrderLineInput {
    /// A product (its stock is reserved when it tracks stock) …
    pub product_id: Option<Id>,
    /// … or a service.
    pub service_id: Option<Id>,
    /// Default: the product's or service's name.
    pub description: Option<Text<1, 500>>,
    /// Default 1.
    pub quantity: Option<Int<1, 1_000_000>>,
    /// Price of one, minor units of the order's currency. Default: the product's or service's price.
    pub unit_amount: Option<Amount>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateOrder {
    /// Who buys.
    pub customer_id: Id,
    /// ISO 4217. Default: the organisation's currency.
    pub currency: Option<Letters<3>>,
    #[schemars(length(min = 1, max = 100))]
    pub lines: Vec<OrderLineInput>,
    pub memo: Option<Text<0, 5000>>,
    /// A promotion code (case does not matter): its discount is spread over the lines it applies to.
    pub promotion_code: Option<Text<1, 40>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromotionTarget {
    Products,
    Services,
    Plans,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountOffInput {
    /// Minor units off.
    pub amount: Int<1, 100_000_000_000>,
    /// ISO 4217. Default: the organisation's currency.
    pub currency: Option<Letters<3>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePromotion {
    /// What customers type: 2 to 40 letters, digits, '_' or '-'; case does not matter.
    pub code: PromotionCode,
    pub description: Option<Text<1, 500>>,
    /// A percentage off in basis points (1000 = 10 %) …
    pub percent_off_bp: Option<Int<1, 10000>>,
    /// … or an amount off.
    pub amount_off: Option<AmountOffInput>,
    /// What it takes money off. Default: products and services.
    #[schemars(length(min = 1, max = 3))]
    pub applies_to: Option<Vec<PromotionTarget>>,
    /// The least an order must spend on what it applies to, in minor units. Default 0.
    pub min_spend: Option<Amount>,
    /// RFC 3339; default: now.
    pub starts_at: Option<super::types::Timestamp>,
    /// RFC 3339; default: never.
    pub ends_at: Option<super::types::Timestamp>,
    /// Redemptions in all (orders not cancelled). Default: no limit.
    pub max_redemptions: Option<Int<1, 10_000_000>>,
    /// Redemptions per customer. Default: no limit.
    pub max_per_customer: Option<Int<1, 10_000>>,
}

/// A promotion code: letters, digits, `_` and `-`, stored upper-case.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct PromotionCode(pub String);

impl<'de> Deserialize<'de> for PromotionCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = s.trim();
        let ok = (2..=40).contains(&t.len())
            && t.as_bytes()[0].is_ascii_alphanumeric()
            && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b));
        if !ok {
            return Err(serde::de::Error::custom(
                "[invalid_format] must be 2 to 40 letters, digits, '_' or '-', starting with a letter or digit",
            ));
        }
        Ok(Self(s))
    }
}

impl JsonSchema for PromotionCode {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PromotionCode".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^\\s*[A-Za-z0-9][A-Za-z0-9_-]{1,39}\\s*$" })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListPromotions {
    /// true to list deactivated ones too.
    pub include_inactive: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PromotionRef {
    /// The promotion's id.
    pub promotion_id: Id,
}

/// A promotion code.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub code: String,
    pub description: Option<String>,
    pub percent_off_bp: Option<i64>,
    pub amount_off: Option<Money>,
    pub applies_to: Vec<PromotionTarget>,
    /// Minor units of the order's currency.
    pub min_spend: i64,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub max_redemptions: Option<i64>,
    pub max_per_customer: Option<i64>,
    /// Orders that used it and are not cancelled.
    pub redemptions: i64,
    pub active: bool,
    pub deactivated_at: Option<String>,
    pub created_at: String,
}

/// Promotions.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Promotions {
    pub items: Vec<Promotion>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrderRef {
    /// The order's id.
    pub order_id: Id,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Open,
    Fulfilled,
    Cancelled,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListOrders {
    pub status: Option<OrderStatus>,
    pub customer_id: Option<Id>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderLineKind {
    Product,
    Service,
}

/// A line of an order.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub kind: OrderLineKind,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub product_id: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub service_id: Option<String>,
    pub description: String,
    pub quantity: i64,
    pub unit_amount: Money,
    /// The promotion's share on this line.
    pub discount: Money,
    /// quantity × unit amount − discount, before tax.
    pub amount: Money,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderPaymentStatus {
    NotInvoiced,
    AwaitingPayment,
    Paid,
    Void,
    NotVisible,
}

/// An order.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub status: OrderStatus,
    pub currency: String,
    pub memo: Option<String>,
    pub lines: Vec<OrderLine>,
    /// The promotion code used, if any.
    pub promotion_code: Option<String>,
    pub discount: Money,
    /// The lines' amounts after discount, before tax (the invoice adds tax).
    pub amount: Money,
    /// The invoice pay_order made.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub invoice_id: Option<String>,
    /// not_invoiced until pay_order; then the invoice's state (not_visible: the caller may not
    /// read billing).
    pub payment_status: OrderPaymentStatus,
    /// What the invoice still owes.
    pub amount_due: Option<Money>,
    pub created_at: String,
    pub updated_at: String,
    pub fulfilled_at: Option<String>,
    pub cancelled_at: Option<String>,
}

const READ: &str = "commerce:read";
const WRITE: &str = "commerce:write";

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
        "commerce",
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
        Operation::new::<CreateProduct, Product>(spec(
            "create_product",
            "Create a product",
            "Add something sold besides services (managers and above): a price in minor units, a default tax \
             rate, an optional SKU unique in the organisation (409 sku_taken), and whether it tracks stock. \
             Invoice lines name it by productId.",
            Post,
            "/v1/products",
            Write,
            false,
            201,
        )),
        Operation::new::<UpdateProduct, Product>(spec(
            "update_product",
            "Update a product",
            "Change a product's name, description, SKU, price, tax rate or stock tracking, or archive it \
             (managers and above). Fields left out stay as they are. Lines already billed keep their price.",
            Patch,
            "/v1/products/{productId}",
            Write,
            true,
            200,
        )),
        Operation::new::<ProductRef, Product>(spec(
            "get_product",
            "Get a product",
            "Return one product with its price, tax rate, SKU and stock level (when it tracks stock).",
            Get,
            "/v1/products/{productId}",
            Read,
            true,
            200,
        )),
        Operation::new::<ListProducts, Page<Product>>(spec(
            "list_products",
            "List products",
            "The organisation's products, newest first: active ones unless includeArchived, q matching the name \
             or exactly the SKU. Each shows its stock level when it tracks stock. With a publishable key (a web \
             page): {items: [{id, name, description, price}]} of the active products not unlisted, price null \
             when hidden.",
            Get,
            "/v1/products",
            Read,
            true,
            200,
        )),
        Operation::new::<AdjustStock, Product>(spec(
            "adjust_stock",
            "Adjust stock",
            "Record stock coming in or going out of a product that tracks it (managers and above): quantity with a \
             reason (received, returned, damaged, adjustment), or countedQuantity after a stocktake. Every \
             movement is kept; the level never goes below zero (409 insufficient_stock, with stockOnHand).",
            Post,
            "/v1/products/{productId}/stock-movements",
            Write,
            false,
            201,
        )),
        Operation::new::<ListStockMovements, Page<StockMovement>>(spec(
            "list_stock_movements",
            "List stock movements",
            "A product's stock movements, newest first: how much came in or went out, why, and who recorded it.",
            Get,
            "/v1/products/{productId}/stock-movements",
            Read,
            true,
            200,
        )),
        Operation::new::<CreatePromotion, Promotion>(spec(
            "create_promotion",
            "Create a promotion",
            "Create a promotion code (managers and above; unique, case-insensitive: 409 promotion_code_taken): a \
             percentage (percentOffBp) or an amount off, on products, services or plans, with an optional \
             minimum spend, window and limits in all and per customer. Customers' orders use it with \
             promotionCode.",
            Post,
            "/v1/promotions",
            Write,
            false,
            201,
        )),
        Operation::new::<ListPromotions, Promotions>(spec(
            "list_promotions",
            "List promotions",
            "The organisation's promotion codes (active ones unless includeInactive) with their redemptions so far.",
            Get,
            "/v1/promotions",
            Read,
            true,
            200,
        )),
        Operation::new::<PromotionRef, Promotion>(spec(
            "deactivate_promotion",
            "Deactivate a promotion",
            "Stop a promotion code being accepted (managers and above); orders that used it keep their discount. \
             Deactivating twice changes nothing.",
            Post,
            "/v1/promotions/{promotionId}/deactivate",
            Write,
            true,
            200,
        )),
        Operation::new::<CreateOrder, Order>(spec(
            "create_order",
            "Create an order",
            "Take an order of products and services for a customer (managers and above). The stock of products \
             that track it is reserved at once and never goes below zero (409 insufficient_stock, naming the \
             line). Then pay_order bills it.",
            Post,
            "/v1/orders",
            Write,
            false,
            201,
        )),
        Operation::new::<OrderRef, Order>(spec(
            "get_order",
            "Get an order",
            "Return one order: its lines, amount, status, and its invoice with what it still owes.",
            Get,
            "/v1/orders/{orderId}",
            Read,
            true,
            200,
        )),
        Operation::new::<ListOrders, Page<Order>>(spec(
            "list_orders",
            "List orders",
            "Orders, newest first, by status (open, fulfilled, cancelled) or customer.",
            Get,
            "/v1/orders",
            Read,
            true,
            200,
        )),
        Operation::new::<OrderRef, Order>(spec(
            "pay_order",
            "Bill an order",
            "Bill an order with a finalised invoice of its lines, taxed as their products and services are \
             (managers and above; needs billing:write too). Then record_payment or create_payment_link on \
             invoiceId. Billing it again returns the same invoice.",
            Post,
            "/v1/orders/{orderId}/pay",
            Write,
            true,
            200,
        )),
        Operation::new::<OrderRef, Order>(spec(
            "fulfil_order",
            "Fulfil an order",
            "Mark an open order handed over to the customer (managers and above). Fulfilling twice changes nothing.",
            Post,
            "/v1/orders/{orderId}/fulfil",
            Write,
            true,
            200,
        )),
        Operation::new::<OrderRef, Order>(Spec {
            preview: Some(super::Preview::Target("get_order")),
            ..spec(
                "cancel_order",
                "Cancel an order",
                "Cancel an open order and put its reserved stock back (managers and above). An order whose invoice \
                 stands is refused (order_invoiced): an owner or admin voids the invoice first; a fulfilled one \
                 too (order_fulfilled).",
                Post,
                "/v1/orders/{orderId}/cancel",
                Destructive,
                true,
                200,
            )
        }),
    ]
}
