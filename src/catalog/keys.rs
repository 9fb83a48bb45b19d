//! API keys.
#![allow(dead_code)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::{Cursor, Id, Int, Limit, Text, Timestamp};
use super::{Effect, Method, Operation, Page, Preview, Spec};

/// A permission a key can hold: `<domain>:read` or `<domain>:write`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub enum Scope {
    #[serde(rename = "approvals:decide")]
    ApprovalsDecide,
    #[serde(rename = "approvals:read")]
    ApprovalsRead,
    #[serde(rename = "approvals:write")]
    ApprovalsWrite,
    #[serde(rename = "billing:read")]
    BillingRead,
    #[serde(rename = "billing:write")]
    BillingWrite,
    #[serde(rename = "bookings:read")]
    BookingsRead,
    #[serde(rename = "bookings:write")]
    BookingsWrite,
    #[serde(rename = "commerce:read")]
    CommerceRead,
    #[serde(rename = "commerce:write")]
    CommerceWrite,
    #[serde(rename = "content:read")]
    ContentRead,
    #[serde(rename = "content:write")]
    ContentWrite,
    #[serde(rename = "customers:read")]
    CustomersRead,
    #[serde(rename = "customers:write")]
    CustomersWrite,
    #[serde(rename = "organisation:read")]
    OrganisationRead,
    #[serde(rename = "organisation:write")]
    OrganisationWrite,
    #[serde(rename = "keys:read")]
    KeysRead,
    #[serde(rename = "keys:write")]
    KeysWrite,
    #[serde(rename = "loyalty:read")]
    LoyaltyRead,
    #[serde(rename = "loyalty:write")]
    LoyaltyWrite,
    #[serde(rename = "messaging:read")]
    MessagingRead,
    #[serde(rename = "messaging:write")]
    MessagingWrite,
    #[serde(rename = "reports:read")]
    ReportsRead,
    #[serde(rename = "subscriptions:read")]
    SubscriptionsRead,
    #[serde(rename = "subscriptions:write")]
    SubscriptionsWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "team:read")]
    TeamRead,
    #[serde(rename = "team:write")]
    TeamWrite,
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateApiKey {
    /// What the key is for, e.g. "Claude desktop" or "Website back end".
    pub name: Text<1, 100>,
    /// Scopes for the key; each must be one the caller holds. Default: the caller's own.
    #[schemars(length(min = 1))]
    pub scopes: Option<Vec<Scope>>,
    /// When the key stops working (RFC 3339). Default: never.
    pub expires_at: Option<Timestamp>,
    /// agent (fav_mcp_…, the default): destructive calls need a confirmation token. app
    /// (fav_sk_…): for an app back end, no confirmation step; an agent needs a person's
    /// confirmation to mint one.
    pub kind: Option<KeyKindInput>,
    /// Limit the key to these toolsets.
    #[schemars(length(min = 1))]
    pub toolsets: Option<Vec<Toolset>>,
    /// true: the key can only read, whatever its scopes.
    pub read_only: Option<bool>,
}

/// A group of tools a key can be limited to (the part of a scope before the colon).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Toolset {
    Approvals,
    Audit,
    Billing,
    Bookings,
    Commerce,
    Content,
    Customers,
    Keys,
    Loyalty,
    Messaging,
    Organisation,
    Reports,
    Subscriptions,
    Team,
    Webhooks,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKindInput {
    Agent,
    App,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListApiKeys {
    /// true to include revoked keys.
    pub include_revoked: Option<bool>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiKeyRef {
    /// The key's id (not its secret).
    pub api_key_id: Id,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Revoked,
    Expired,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// fav_mcp_… keys for agents.
    Agent,
    /// fav_sk_… keys for app back ends.
    App,
}

/// An API key, without its secret.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub kind: KeyKind,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub scopes: Vec<String>,
    /// The toolsets the key is limited to, if any.
    pub toolsets: Option<Vec<String>>,
    /// Whether the key can only read.
    pub read_only: bool,
    /// The user the key acts as.
    #[schemars(with = "uuid::Uuid")]
    pub user_id: String,
    pub status: KeyStatus,
    /// The key that replaced this one (rotate_api_key), if any.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub replaced_by_id: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// A new key, with its secret shown this once.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret. It is not stored and cannot be shown again.
    pub api_key: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RotateApiKey {
    /// The id of one of the caller's own keys.
    pub api_key_id: Id,
    /// Minutes the old key keeps working, 0 to 10080 (7 days), so deployments can switch
    /// over. Default: 0, revoked at once.
    pub grace_period_minutes: Option<Int<0, 10080>>,
}

/// The replacement key, with its secret shown this once, and the key it replaces.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The new secret. It is not stored and cannot be shown again.
    pub api_key: String,
    /// The old key: revoked, or expiring at the end of the grace period.
    pub previous_key: ApiKey,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePublishableKey {
    /// Where it is used, e.g. "Booking page".
    pub name: Text<1, 100>,
    /// Web origins allowed to use it: scheme and host, e.g. https://www.example.com.
    #[schemars(length(min = 1, max = 20))]
    pub allowed_origins: Vec<Text<1, 200>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListPublishableKeys {
    pub include_revoked: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublishableKeyRef {
    pub publishable_key_id: Id,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublishableKeyStatus {
    Active,
    Revoked,
}

/// A key for web pages (never the key itself after creation).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishableKey {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub allowed_origins: Vec<String>,
    pub status: PublishableKeyStatus,
    #[schemars(with = "uuid::Uuid")]
    pub created_by_user_id: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedPublishableKey {
    #[serde(flatten)]
    pub key: PublishableKey,
    /// fav_pk_…: embed it in the booking page. Shown only now.
    pub publishable_key: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PublishableKeys {
    pub items: Vec<PublishableKey>,
}

pub fn operations() -> Vec<Operation> {
    vec![
        Operation::new::<CreateApiKey, CreatedApiKey>(Spec {
            name: "create_api_key",
            title: "Create an API key",
            description: "Mint a key that acts as the caller's user, with scopes no wider than the caller's own. The \
                          secret (apiKey) is returned only in this response: store it at once.",
            toolset: "keys",
            scope: "keys:write",
            method: Method::Post,
            path: "/v1/api-keys",
            effect: Effect::Write,
            idempotent: false,
            confirm: true,
            preview: None,
            success_status: 201,
            open_world: false,
        }),
        Operation::new::<ListApiKeys, Page<ApiKey>>(Spec {
            name: "list_api_keys",
            title: "List API keys",
            description: "List keys with their prefix, scopes, status and last use (never the secret). Owners and \
                          admins see every key of the organisation; others see their own.",
            toolset: "keys",
            scope: "keys:read",
            method: Method::Get,
            path: "/v1/api-keys",
            effect: Effect::Read,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<ApiKeyRef, ApiKey>(Spec {
            name: "get_api_key",
            title: "Get an API key",
            description: "Return one key by id with its prefix, scopes, status and last use (never the secret).",
            toolset: "keys",
            scope: "keys:read",
            method: Method::Get,
            path: "/v1/api-keys/{apiKeyId}",
            effect: Effect::Read,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<ApiKeyRef, ApiKey>(Spec {
            name: "revoke_api_key",
            title: "Revoke an API key",
            description: "Revoke a key by id; the very next request with it is refused. Cannot be undone. Find the id \
                          with list_api_keys.",
            toolset: "keys",
            scope: "keys:write",
            method: Method::Delete,
            path: "/v1/api-keys/{apiKeyId}",
            effect: Effect::Destructive,
            idempotent: true,
            confirm: true,
            preview: Some(Preview::Target("get_api_key")),
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<RotateApiKey, RotatedApiKey>(Spec {
            name: "rotate_api_key",
            title: "Rotate an API key",
            description: "Replace one of the caller's own keys with a new secret (same name, kind, scopes, toolsets \
                          and expiry). The old key is revoked at once, or after gracePeriodMinutes. The new secret \
                          (apiKey) is returned only here.",
            toolset: "keys",
            scope: "keys:write",
            method: Method::Post,
            path: "/v1/api-keys/{apiKeyId}/rotate",
            effect: Effect::Destructive,
            idempotent: false,
            confirm: true,
            preview: Some(Preview::Target("get_api_key")),
            success_status: 201,
            open_world: false,
        }),
        Operation::new::<CreatePublishableKey, CreatedPublishableKey>(Spec {
            name: "create_publishable_key",
            title: "Create a publishable key",
            description: "Create a fav_pk_ key to embed in a booking page on the allowed origins (managers and above). \
                          It can only list active services, find slots and book for a customer by name, email or \
                          phone. Shown once.",
            toolset: "keys",
            scope: "keys:write",
            method: Method::Post,
            path: "/v1/publishable-keys",
            effect: Effect::Write,
            idempotent: false,
            confirm: false,
            preview: None,
            success_status: 201,
            open_world: false,
        }),
        Operation::new::<ListPublishableKeys, PublishableKeys>(Spec {
            name: "list_publishable_keys",
            title: "List publishable keys",
            description: "List the organisation's publishable keys with their prefix, allowed origins and status.",
            toolset: "keys",
            scope: "keys:read",
            method: Method::Get,
            path: "/v1/publishable-keys",
            effect: Effect::Read,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<PublishableKeyRef, PublishableKey>(Spec {
            name: "revoke_publishable_key",
            title: "Revoke a publishable key",
            description: "Revoke a publishable key: pages using it can no longer book. Agents need the person's \
                          confirmation.",
            toolset: "keys",
            scope: "keys:write",
            method: Method::Delete,
            path: "/v1/publishable-keys/{publishableKeyId}",
            effect: Effect::Destructive,
            idempotent: true,
            confirm: true,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
    ]
}
