//! Messaging: channels (email, SMS through Twilio, WhatsApp through the Business Cloud API),
//! templates, messages to and from customers with consent and quiet hours, messaging settings,
//! and the outbox every side effect goes through (email, texts, WhatsApp messages, webhook
//! calls). Toolset `messaging`; scopes `messaging:read` and `messaging:write`. Every member
//! reads messages and templates; managers and above send and make templates and see deliveries
//! (admins and owners also webhook deliveries); admins and owners see channels and set the
//! settings; owners connect channels. The rules are written once, at the top of
//! `sql/operations/messaging.sql` and `sql/operations/outbox.sql`.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::{Cursor, E164, Email, Id, Int, Limit, Text, Timestamp, WallTime};
use super::{Effect, Method, Operation, Page, Preview, Spec};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting to be sent (first or next attempt at nextAttemptAt).
    Pending,
    /// A worker is sending it now.
    Sending,
    Sent,
    /// Gave up: refused by the provider, or out of attempts. retry_delivery sends it again.
    Dead,
    /// Will not be sent (its webhook endpoint was deleted).
    Cancelled,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    Email,
    Sms,
    Whatsapp,
    Webhook,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListDeliveries {
    /// Only deliveries in this state (dead: the dead letters).
    pub status: Option<DeliveryStatus>,
    /// Only this kind.
    pub kind: Option<DeliveryKind>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeliveryRef {
    /// The delivery's id.
    pub delivery_id: Id,
}

/// One side effect in the outbox (never the message's body or a webhook's payload).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub kind: DeliveryKind,
    pub status: DeliveryStatus,
    /// The email address, phone number or URL.
    pub recipient: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When a pending delivery is next tried.
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    /// The provider's id for it (a message id), once sent.
    pub provider_ref: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub webhook_endpoint_id: Option<String>,
    /// A webhook's event (its webhook-id) and type.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    /// An email's subject.
    pub subject: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub sent_at: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Sent,
    /// Failed; tried again later.
    Failed,
    /// The provider will never take it.
    Refused,
}

/// What one attempt came to.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    pub attempt: i64,
    pub outcome: AttemptOutcome,
    /// The provider's or endpoint's HTTP status.
    pub response_status: Option<i64>,
    pub error: Option<String>,
    pub started_at: String,
    pub finished_at: String,
}

/// A delivery with the outcome of each attempt.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryWithAttempts {
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Each attempt's outcome (an attempt cut off by a stopped worker has none).
    pub attempt_log: Vec<DeliveryAttempt>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Email,
    Sms,
    Whatsapp,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectChannel {
    /// email: fromAddress (and fromName, replyTo, smtpUrl for a server of its own); sms
    /// (Twilio): accountSid, authToken, fromNumber or messagingServiceSid; whatsapp (Cloud API):
    /// phoneNumberId, accessToken, appSecret, verifyToken (and businessAccountId).
    pub channel: ChannelKind,
    /// email: the address messages come from.
    pub from_address: Option<Email>,
    /// email: the name they come from.
    pub from_name: Option<Text<1, 100>>,
    /// email: where replies go.
    pub reply_to: Option<Email>,
    /// email: an SMTP server of the organisation's own (smtp://user:pass@host:587 or smtps://…);
    /// without it the server's mail is used. Sealed; never shown again.
    pub smtp_url: Option<Text<8, 500>>,
    /// sms: the Twilio account (AC…).
    pub account_sid: Option<Text<10, 64>>,
    /// sms: the Twilio auth token (it also signs Twilio's callbacks). Sealed; never shown again.
    pub auth_token: Option<Text<8, 200>>,
    /// sms: the Twilio number to send from, +E.164.
    pub from_number: Option<E164>,
    /// sms: a Twilio messaging service (MG…) instead of a number.
    pub messaging_service_sid: Option<Text<10, 64>>,
    /// whatsapp: the phone number's id at Meta.
    pub phone_number_id: Option<Text<1, 64>>,
    /// whatsapp: the WhatsApp Business account's id at Meta.
    pub business_account_id: Option<Text<1, 64>>,
    /// whatsapp: a system user's access token. Sealed; never shown again.
    pub access_token: Option<Text<8, 1000>>,
    /// whatsapp: the Meta app's secret, which signs webhook calls. Sealed; never shown again.
    pub app_secret: Option<Text<8, 200>>,
    /// whatsapp: the verify token you also enter at Meta when subscribing the webhook.
    pub verify_token: Option<Text<8, 200>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChannelRef {
    pub channel: ChannelKind,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GetChannelStatus {
    /// Only this channel.
    pub channel: Option<ChannelKind>,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelProvider {
    Smtp,
    Twilio,
    WhatsappCloud,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelState {
    Connected,
    Disconnected,
}

/// A channel (never its secrets).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub channel: ChannelKind,
    pub provider: ChannelProvider,
    pub status: ChannelState,
    /// The provider's settings: from address, account and number, phone number id.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Enough of the secret to recognise it (…abcd, or the SMTP server).
    pub secret_hint: Option<String>,
    pub connected_at: String,
    pub updated_at: String,
    pub disconnected_at: Option<String>,
}

/// Messages on a channel in the last seven days.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelCounts {
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    pub waiting: i64,
}

/// A connected channel, what to set up at its provider, and how it has been doing.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelWithStatus {
    #[serde(flatten)]
    pub channel: Channel,
    /// Paths on this server to give the provider: sms statusAndInbound (Twilio's status
    /// callback and the number's incoming-message webhook), whatsapp webhook (Meta's callback
    /// URL, verified with the verify token).
    pub callback_paths: serde_json::Map<String, serde_json::Value>,
    pub last_seven_days: ChannelCounts,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelStatus {
    pub channels: Vec<ChannelWithStatus>,
    /// No email channel is connected: email goes through the server's own mail.
    pub email_without_channel: bool,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QuietHours {
    /// When they start, in the organisation's time zone (21:00).
    pub start: WallTime,
    /// When they end (09:00; before start: the next morning).
    pub end: WallTime,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateMessagingSettings {
    /// Marketing messages written in these hours wait until they end; null: no quiet hours.
    pub quiet_hours: Option<QuietHours>,
    /// Transactional messages (confirmations, reminders, receipts) go out without marketing
    /// consent (default true).
    pub transactional_allowed: Option<bool>,
}

/// The organisation's messaging rules.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagingSettings {
    pub quiet_hours: Option<QuietHours>,
    pub transactional_allowed: bool,
    /// The organisation's time zone, which quiet hours are in.
    pub timezone: String,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// About a booking, an invoice or the customer's account.
    Transactional,
    /// Offers and news: needs the customer's consent on the channel.
    Marketing,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateTemplate {
    pub name: Text<1, 100>,
    pub channel: ChannelKind,
    /// A language tag (en, en-GB, fr). Default en.
    pub locale: Option<Text<2, 35>>,
    pub purpose: Purpose,
    /// Email only: the subject (variables allowed).
    pub subject: Option<Text<1, 300>>,
    /// The text, with variables from the fixed set: {{customer.name}}, {{customer.first_name}},
    /// {{customer.email}}, {{customer.phone}}, {{organisation.name}}, {{booking.date}},
    /// {{booking.time}}, {{booking.end_time}}, {{booking.start}}, {{booking.service}},
    /// {{booking.staff}}, {{invoice.number}}, {{invoice.total}}, {{invoice.amount_due}},
    /// {{invoice.due_date}}, {{invoice.link}}.
    pub body: Text<1, 4000>,
    /// WhatsApp only: the template approved at Meta that this stands for (sent outside the
    /// 24-hour window, its body parameters being the variables in order of use).
    pub whatsapp_template_name: Option<Text<1, 512>>,
    /// WhatsApp only: the Meta template's language code (default: the locale, en_GB style).
    pub whatsapp_language: Option<Text<2, 15>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListTemplates {
    pub channel: Option<ChannelKind>,
    pub purpose: Option<Purpose>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

/// A message template.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub channel: ChannelKind,
    pub locale: String,
    pub purpose: Purpose,
    pub subject: Option<String>,
    pub body: String,
    /// The variables it uses, in order of first use.
    pub variables: Vec<String>,
    pub whatsapp_template_name: Option<String>,
    pub whatsapp_language: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub archived_at: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ComposeMessage {
    pub customer_id: Id,
    /// With a template: its own channel (may be left out). Free text: required.
    pub channel: Option<ChannelKind>,
    /// Send a template (its text and purpose).
    pub template_id: Option<Id>,
    /// Free text instead of a template (variables allowed).
    pub body: Option<Text<1, 4000>>,
    /// Free-text email: the subject.
    pub subject: Option<Text<1, 300>>,
    /// Free text: transactional or marketing.
    pub purpose: Option<Purpose>,
    /// The booking the message is about (fills {{booking.*}}).
    pub booking_id: Option<Id>,
    /// The invoice the message is about (fills {{invoice.*}}).
    pub invoice_id: Option<Id>,
    /// Send later (RFC 3339, up to a year ahead). Default: now (or when quiet hours end).
    pub send_at: Option<Timestamp>,
}

/// Why a message would not be sent.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// no_email, no_phone, invalid_phone, no_consent, transactional_disabled,
    /// channel_not_connected or whatsapp_window_closed.
    pub code: String,
    pub detail: String,
}

/// A message as it would be sent.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePreview {
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub channel: ChannelKind,
    pub purpose: Purpose,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub template_id: Option<String>,
    /// The address or number it would go to.
    pub recipient: Option<String>,
    pub subject: Option<String>,
    /// The text, rendered.
    pub body: String,
    /// A WhatsApp template: name, language and body parameters.
    pub whatsapp_template: Option<serde_json::Value>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub booking_id: Option<String>,
    /// When it would go; null: now.
    pub send_after: Option<String>,
    /// It would wait for the organisation's quiet hours to end.
    pub held_for_quiet_hours: bool,
    /// The customer's marketing consent on the channel.
    pub consent: bool,
    pub refusals: Vec<Refusal>,
    /// Nothing refuses it.
    pub can_send: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for its time (quiet hours, or sendAt).
    Scheduled,
    Queued,
    /// The provider took it.
    Sent,
    Delivered,
    Read,
    Failed,
    Cancelled,
    /// A message from the customer.
    Received,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Outbound,
    Inbound,
}

/// A message to or from a customer.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub customer_id: Option<String>,
    pub channel: ChannelKind,
    pub direction: Direction,
    pub purpose: Option<Purpose>,
    /// api, a booking event, a campaign, or provider (received).
    pub source: String,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub template_id: Option<String>,
    pub recipient: String,
    pub subject: Option<String>,
    pub body: String,
    pub status: MessageStatus,
    pub send_after: Option<String>,
    pub provider_message_id: Option<String>,
    pub error: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub booking_id: Option<String>,
    /// Its delivery in the outbox.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub delivery_id: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub delivered_at: Option<String>,
    pub read_at: Option<String>,
    pub failed_at: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListMessages {
    pub customer_id: Option<Id>,
    pub status: Option<MessageStatus>,
    pub channel: Option<ChannelKind>,
    pub direction: Option<Direction>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MessageRef {
    pub message_id: Id,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingEvent {
    /// A booking made confirmed, or a pending one confirmed.
    Confirmation,
    /// hoursBefore the booking's start.
    Reminder,
    /// A booking cancelled (not the cancellation a reschedule makes).
    Cancellation,
    /// A class seat given to the first on the waiting list.
    WaitlistPromotion,
    /// A booking marked a no-show.
    NoShow,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateBookingMessageRule {
    pub event: BookingEvent,
    /// The template it sends (its channel; a transactional template, or consent is needed).
    pub template_id: Id,
    /// Reminders only: hours before the start.
    pub hours_before: Option<Int<1, 336>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BookingMessageRuleRef {
    pub rule_id: Id,
}

/// What a booking event sends.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingMessageRule {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub event: BookingEvent,
    #[schemars(with = "uuid::Uuid")]
    pub template_id: String,
    pub channel: ChannelKind,
    pub hours_before: Option<i64>,
    pub created_at: String,
    pub removed_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingMessageRules {
    pub items: Vec<BookingMessageRule>,
}

/// Who a campaign goes to: every condition given must hold.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Segment {
    /// Customers with this tag.
    pub tag: Option<super::types::Tag>,
    pub lifecycle_stage: Option<super::customers::LifecycleStage>,
    /// Customers with no activity for this many days (or none ever).
    pub inactive_days: Option<Int<1, 3650>>,
    /// Customers in this loyalty tier (by name).
    pub loyalty_tier: Option<Text<1, 50>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCampaign {
    pub name: Text<1, 200>,
    /// The template (customer and organisation variables only).
    pub template_id: Id,
    /// Default: every customer.
    pub segment: Option<Segment>,
    /// When it goes (RFC 3339, up to a year ahead). Default: when sent (quiet hours hold
    /// marketing messages until they end).
    pub send_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CampaignRef {
    pub campaign_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PreviewCampaign {
    pub campaign_id: Id,
    /// How many rendered messages to show (default 5).
    pub sample_size: Option<Int<0, 20>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    /// Sent by an agent: waits for a person (approvalId).
    AwaitingApproval,
    Sent,
    Cancelled,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListCampaigns {
    pub status: Option<CampaignStatus>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

/// A campaign's messages by delivery state.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignCounts {
    pub total: i64,
    pub scheduled: i64,
    pub queued: i64,
    pub sent: i64,
    pub delivered: i64,
    pub read: i64,
    pub failed: i64,
}

/// A campaign.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    #[schemars(with = "uuid::Uuid")]
    pub template_id: String,
    pub channel: ChannelKind,
    pub segment: serde_json::Map<String, serde_json::Value>,
    pub send_at: Option<String>,
    pub status: CampaignStatus,
    /// Messages written when it was sent.
    pub recipients: Option<i64>,
    /// Customers of the segment skipped then (no consent, no contact).
    pub skipped: Option<i64>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub approval_id: Option<String>,
    pub messages: CampaignCounts,
    pub created_at: String,
    pub updated_at: String,
    pub sent_at: Option<String>,
}

/// What a campaign would do.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignPreview {
    #[schemars(with = "uuid::Uuid")]
    pub campaign_id: String,
    /// Customers the segment names.
    pub segment_size: i64,
    /// Those it would reach (consent and a contact).
    pub recipients: i64,
    /// Those it would skip, by reason (no_consent, no_email, …).
    pub skipped: serde_json::Map<String, serde_json::Value>,
    /// Some of the messages, rendered as they would go.
    pub sample: Vec<serde_json::Value>,
}

const READ: &str = "messaging:read";
const WRITE: &str = "messaging:write";

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
        "messaging",
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
        Operation::new::<ConnectChannel, ChannelWithStatus>(spec(
            "connect_channel",
            "Connect a channel",
            "Connect email, SMS (Twilio) or WhatsApp (the WhatsApp Business Cloud API) for messages to customers \
             (owners): the provider's settings and credentials, which are sealed and never shown again. Connecting \
             a channel again replaces it. The answer names the callback paths to give the provider (delivery \
             statuses, replies, STOP). Email works without a channel through the server's own mail.",
            Post,
            "/v1/channels",
            Write,
            true,
            201,
        )),
        Operation::new::<GetChannelStatus, ChannelStatus>(spec(
            "get_channel_status",
            "Get channel status",
            "The connected channels (admins and owners): provider settings, a hint of each secret (never the \
             secret), the callback paths to set up at the provider, and the last seven days' messages (sent, \
             delivered, failed, waiting) with the last error.",
            Get,
            "/v1/channels",
            Read,
            true,
            200,
        )),
        Operation::new::<ChannelRef, Channel>(Spec {
            preview: Some(Preview::Effect("api.preview_disconnect_channel")),
            ..spec(
                "disconnect_channel",
                "Disconnect a channel",
                "Disconnect a channel and forget its credentials (owners). Messages waiting on it fail unless it is \
                 connected again before their attempts run out.",
                Delete,
                "/v1/channels/{channel}",
                Destructive,
                false,
                200,
            )
        }),
        Operation::new::<super::NoInput, MessagingSettings>(spec(
            "get_messaging_settings",
            "Get messaging settings",
            "Quiet hours (in the organisation's time zone; 21:00 to 09:00 unless set), during which marketing \
             messages wait, and whether transactional messages go out without marketing consent.",
            Get,
            "/v1/messaging-settings",
            Read,
            true,
            200,
        )),
        Operation::new::<UpdateMessagingSettings, MessagingSettings>(spec(
            "update_messaging_settings",
            "Update messaging settings",
            "Set quiet hours (start and end, wall-clock times in the organisation's zone; null for none) and whether \
             transactional messages are allowed (admins and owners). Fields left out stay as they are.",
            Patch,
            "/v1/messaging-settings",
            Write,
            true,
            200,
        )),
        Operation::new::<CreateTemplate, Template>(spec(
            "create_template",
            "Create a message template",
            "A message for a channel and locale (managers and above), transactional or marketing, with variables \
             from a fixed set ({{customer.first_name}}, {{booking.time}}, {{invoice.link}}, …: any other is refused \
             with unknown_variable). A WhatsApp template also names the template approved at Meta \
             (whatsappTemplateName), which is what can be sent outside the 24-hour window.",
            Post,
            "/v1/message-templates",
            Write,
            false,
            201,
        )),
        Operation::new::<ListTemplates, Page<Template>>(spec(
            "list_templates",
            "List message templates",
            "The organisation's message templates, newest first, by channel or purpose.",
            Get,
            "/v1/message-templates",
            Read,
            true,
            200,
        )),
        Operation::new::<ComposeMessage, MessagePreview>(spec(
            "preview_message",
            "Preview a message",
            "Render a message for a real customer without sending it: the text as it would go, the recipient, when \
             it would go (a marketing message in quiet hours waits) and anything that would refuse it (no consent, \
             no contact, channel not connected, WhatsApp window closed). Changes nothing.",
            Post,
            "/v1/message-previews",
            Read,
            true,
            200,
        )),
        Operation::new::<ComposeMessage, Message>(Spec {
            open_world: true,
            ..spec(
                "send_message",
                "Send a message",
                "Send a customer a message from a template or as free text (managers and above), through the outbox, \
                 retried until delivered. Refused (409) without marketing consent on the channel (no_consent), \
                 without a connected channel, outside the WhatsApp 24-hour window for free text; 422 without an \
                 address or number. A marketing message in quiet hours is scheduled for when they end. \
                 preview_message shows the same without sending.",
                Post,
                "/v1/messages",
                Write,
                false,
                201,
            )
        }),
        Operation::new::<ListMessages, Page<Message>>(spec(
            "list_messages",
            "List messages",
            "Messages to and from customers, newest first: by customer, status (scheduled, queued, sent, \
             delivered, read, failed, received), channel or direction. Replies and STOPs are inbound messages.",
            Get,
            "/v1/messages",
            Read,
            true,
            200,
        )),
        Operation::new::<MessageRef, Message>(spec(
            "get_message",
            "Get a message",
            "One message: its rendered text, recipient, status and when it moved, and the provider's id.",
            Get,
            "/v1/messages/{messageId}",
            Read,
            true,
            200,
        )),
        Operation::new::<CreateBookingMessageRule, BookingMessageRule>(spec(
            "create_booking_message_rule",
            "Create a booking message rule",
            "Make a booking event send a template (managers and above): confirmation (a booking made or confirmed), \
             reminder (hoursBefore the start, scheduled when the booking is made; moved with the booking, \
             cancelled with it; one per booking and rule), cancellation, waitlist_promotion or no_show. A message \
             the customer cannot get (no consent for a marketing template, no contact) is skipped, never the \
             booking.",
            Post,
            "/v1/booking-message-rules",
            Write,
            false,
            201,
        )),
        Operation::new::<super::NoInput, BookingMessageRules>(spec(
            "list_booking_message_rules",
            "List booking message rules",
            "What each booking event sends, on which channel, and when.",
            Get,
            "/v1/booking-message-rules",
            Read,
            true,
            200,
        )),
        Operation::new::<BookingMessageRuleRef, BookingMessageRule>(spec(
            "remove_booking_message_rule",
            "Remove a booking message rule",
            "Stop a booking event sending a template (managers and above); messages already scheduled stay. \
             Removing twice changes nothing.",
            Post,
            "/v1/booking-message-rules/{ruleId}/remove",
            Write,
            true,
            200,
        )),
        Operation::new::<CreateCampaign, Campaign>(spec(
            "create_campaign",
            "Create a campaign",
            "Draft a campaign (managers and above): a template for a segment of customers (tag, lifecycle stage, \
             inactive days, loyalty tier), to go when sent or at sendAt. Nothing is sent until send_campaign.",
            Post,
            "/v1/campaigns",
            Write,
            false,
            201,
        )),
        Operation::new::<PreviewCampaign, CampaignPreview>(spec(
            "preview_campaign",
            "Preview a campaign",
            "How many customers of the segment a campaign would reach after consent and contacts, how many it would \
             skip and why, and a sample of the messages as rendered. Changes nothing.",
            Get,
            "/v1/campaigns/{campaignId}/preview",
            Read,
            true,
            200,
        )),
        Operation::new::<CampaignRef, Campaign>(Spec {
            open_world: true,
            ..spec(
                "send_campaign",
                "Send a campaign",
                "Send a draft campaign: one message per consenting recipient, rendered for each, through the outbox \
                 (quiet hours hold marketing messages until they end). With an agent key it waits for a person's \
                 approval of exactly those messages (202 approval_required). A campaign is sent once.",
                Post,
                "/v1/campaigns/{campaignId}/send",
                Write,
                false,
                200,
            )
        }),
        Operation::new::<CampaignRef, Campaign>(spec(
            "get_campaign",
            "Get a campaign",
            "One campaign with its messages counted by delivery state (scheduled, queued, sent, delivered, read, \
             failed), for reporting.",
            Get,
            "/v1/campaigns/{campaignId}",
            Read,
            true,
            200,
        )),
        Operation::new::<ListCampaigns, Page<Campaign>>(spec(
            "list_campaigns",
            "List campaigns",
            "Campaigns, newest first, with their delivery counts.",
            Get,
            "/v1/campaigns",
            Read,
            true,
            200,
        )),
        Operation::new::<ListDeliveries, Page<Delivery>>(spec(
            "list_deliveries",
            "List deliveries",
            "The outbox, newest first (managers and above): every email, message and webhook call the organisation \
             sent or will send, with its status (pending, sending, sent, dead, cancelled), attempts and last error. \
             status=dead lists the dead letters; retry_delivery sends one again.",
            Get,
            "/v1/deliveries",
            Read,
            true,
            200,
        )),
        Operation::new::<DeliveryRef, DeliveryWithAttempts>(spec(
            "get_delivery",
            "Get a delivery",
            "One delivery with the outcome of each attempt (sent, failed and retried, refused) and the provider's \
             answer.",
            Get,
            "/v1/deliveries/{deliveryId}",
            Read,
            true,
            200,
        )),
        Operation::new::<DeliveryRef, Delivery>(Spec {
            open_world: true,
            ..spec(
                "retry_delivery",
                "Retry a delivery",
                "Send a dead delivery again, with a full set of attempts, or one waiting for its next attempt now \
                 (managers and above; webhook deliveries: admins and owners). 409 not_retryable for one sent, \
                 sending or cancelled.",
                Post,
                "/v1/deliveries/{deliveryId}/retry",
                Write,
                false,
                200,
            )
        }),
    ]
}
