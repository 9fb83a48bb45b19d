//! Webhooks out: endpoints that receive the organisation's events, signed as the Standard
//! Webhooks specification says, and their deliveries. Toolset `webhooks`; scopes
//! `webhooks:read` and `webhooks:write`; admins and owners only. The rules are written once, at
//! the top of `sql/operations/webhooks.sql`.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::messaging::{Delivery, DeliveryStatus};
use super::types::{Cursor, Id, Int, Limit, Text};
use super::{Effect, Method, Operation, Page, Preview, Spec};

/// An event type, a family of them (`booking.*`) or every event (`*`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub enum EventType {
    #[serde(rename = "*")]
    All,
    #[serde(rename = "approval.*")]
    Approval,
    #[serde(rename = "approval.requested")]
    ApprovalRequested,
    #[serde(rename = "approval.approved")]
    ApprovalApproved,
    #[serde(rename = "approval.rejected")]
    ApprovalRejected,
    #[serde(rename = "approval.failed")]
    ApprovalFailed,
    #[serde(rename = "booking.*")]
    Booking,
    #[serde(rename = "booking.created")]
    BookingCreated,
    #[serde(rename = "booking.rescheduled")]
    BookingRescheduled,
    #[serde(rename = "booking.cancelled")]
    BookingCancelled,
    #[serde(rename = "booking.updated")]
    BookingUpdated,
    #[serde(rename = "customer.*")]
    Customer,
    #[serde(rename = "customer.created")]
    CustomerCreated,
    #[serde(rename = "customer.updated")]
    CustomerUpdated,
    #[serde(rename = "customer.deleted")]
    CustomerDeleted,
    #[serde(rename = "invoice.*")]
    Invoice,
    #[serde(rename = "invoice.finalized")]
    InvoiceFinalized,
    #[serde(rename = "invoice.paid")]
    InvoicePaid,
    #[serde(rename = "invoice.voided")]
    InvoiceVoided,
    #[serde(rename = "invoice.marked_uncollectible")]
    InvoiceMarkedUncollectible,
    #[serde(rename = "message.*")]
    Message,
    #[serde(rename = "message.sent")]
    MessageSent,
    #[serde(rename = "message.delivered")]
    MessageDelivered,
    #[serde(rename = "message.failed")]
    MessageFailed,
    #[serde(rename = "message.received")]
    MessageReceived,
    #[serde(rename = "payment.*")]
    Payment,
    #[serde(rename = "payment.received")]
    PaymentReceived,
    #[serde(rename = "payment.refunded")]
    PaymentRefunded,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateWebhookEndpoint {
    /// Where events are POSTed: https, on the public internet (private and loopback addresses
    /// are refused unless the server allows them for development).
    pub url: Text<8, 2000>,
    /// The events to send: types such as booking.created, a family such as booking.*, or *.
    #[schemars(length(min = 1, max = 50))]
    pub event_types: Vec<EventType>,
    /// What the endpoint is for.
    pub description: Option<Text<1, 500>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookEndpointRef {
    /// The endpoint's id.
    pub webhook_endpoint_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RotateWebhookSecret {
    /// The endpoint's id.
    pub webhook_endpoint_id: Id,
    /// Hours deliveries are still signed with the previous secret too (a second signature),
    /// so the receiver can switch; 0 stops the old secret now. Default 24.
    pub keep_previous_for_hours: Option<Int<0, 168>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListWebhookEndpoints {
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListWebhookDeliveries {
    /// Only this endpoint's deliveries.
    pub webhook_endpoint_id: Option<Id>,
    /// Only deliveries in this state (dead: those that gave up).
    pub status: Option<DeliveryStatus>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    Active,
    Deleted,
}

/// A webhook endpoint (never its secret).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    /// Which secret signs deliveries (rotate_webhook_secret counts it up).
    pub secret_generation: i64,
    /// Until then deliveries also carry a signature with the previous secret.
    pub previous_secret_valid_until: Option<String>,
    pub status: EndpointStatus,
    pub created_at: String,
    pub updated_at: String,
    pub deleted_at: Option<String>,
}

/// An endpoint with its signing secret, shown this once.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The signing secret (whsec_…): verify each delivery's webhook-signature with it, with a
    /// Standard Webhooks library. Shown only here; rotate_webhook_secret makes a new one.
    pub secret: String,
}

/// A deleted endpoint.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedWebhookEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// Deliveries not yet sent that were cancelled.
    pub deliveries_cancelled: i64,
}

const READ: &str = "webhooks:read";
const WRITE: &str = "webhooks:write";

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
        "webhooks",
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
    use Method::{Delete, Get, Post};
    vec![
        Operation::new::<CreateWebhookEndpoint, WebhookEndpointWithSecret>(Spec {
            open_world: true,
            ..spec(
                "create_webhook_endpoint",
                "Create a webhook endpoint",
                "Send the organisation's events of the given types (booking.created, invoice.paid, payment.*, …) to a \
                 URL (admins and owners), as Standard Webhooks: a POST of {type, timestamp, data} with webhook-id (the \
                 event's id, the same on retries), webhook-timestamp and webhook-signature. The answer shows the \
                 signing secret (whsec_…) once. Failed deliveries are retried with backoff; see \
                 list_webhook_deliveries.",
                Post,
                "/v1/webhook-endpoints",
                Write,
                false,
                201,
            )
        }),
        Operation::new::<ListWebhookEndpoints, Page<WebhookEndpoint>>(spec(
            "list_webhook_endpoints",
            "List webhook endpoints",
            "The organisation's webhook endpoints, newest first, with their event types (never their secrets).",
            Get,
            "/v1/webhook-endpoints",
            Read,
            true,
            200,
        )),
        Operation::new::<WebhookEndpointRef, WebhookEndpoint>(spec(
            "get_webhook_endpoint",
            "Get a webhook endpoint",
            "One webhook endpoint: its URL, event types and which secret signs its deliveries.",
            Get,
            "/v1/webhook-endpoints/{webhookEndpointId}",
            Read,
            true,
            200,
        )),
        Operation::new::<RotateWebhookSecret, WebhookEndpointWithSecret>(spec(
            "rotate_webhook_secret",
            "Rotate a webhook secret",
            "Make a new signing secret for an endpoint (shown once). Deliveries carry a signature with the previous \
             secret too for keepPreviousForHours (default 24), so the receiver can switch without missing events.",
            Post,
            "/v1/webhook-endpoints/{webhookEndpointId}/rotate-secret",
            Write,
            false,
            200,
        )),
        Operation::new::<WebhookEndpointRef, DeletedWebhookEndpoint>(Spec {
            preview: Some(Preview::Effect("api.preview_delete_webhook_endpoint")),
            ..spec(
                "delete_webhook_endpoint",
                "Delete a webhook endpoint",
                "Stop sending events to an endpoint and cancel its deliveries not yet sent; past deliveries stay listed.",
                Delete,
                "/v1/webhook-endpoints/{webhookEndpointId}",
                Destructive,
                false,
                200,
            )
        }),
        Operation::new::<ListWebhookDeliveries, Page<Delivery>>(spec(
            "list_webhook_deliveries",
            "List webhook deliveries",
            "Webhook deliveries, newest first, of one endpoint or all: the event type, status (pending, sending, \
             sent, dead, cancelled), attempts and the last error. get_delivery shows each attempt; retry_delivery \
             sends a dead one again.",
            Get,
            "/v1/webhook-deliveries",
            Read,
            true,
            200,
        )),
    ]
}
