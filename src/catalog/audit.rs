//! The audit log.
#![allow(dead_code)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::types::{Cursor, Id, Limit, Text};
use super::{Effect, Method, Operation, Page, Spec};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListAuditEvents {
    /// Only events about this record (e.g. a customer id).
    pub row_id: Option<Id>,
    /// Only events on this table, e.g. customers, api_keys.
    pub table_name: Option<Text<1, 64>>,
    /// Only events caused by this operation, e.g. delete_customer.
    pub operation: Option<Text<1, 64>>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Insert,
    Update,
    Delete,
}

/// One change to the organisation's data.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub occurred_at: String,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub actor_user_id: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub actor_key_id: Option<String>,
    /// rest, mcp or cli.
    pub via: Option<String>,
    /// The catalog operation that made the change.
    pub operation: Option<String>,
    pub request_id: Option<String>,
    pub table_name: String,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub row_id: Option<String>,
    pub action: AuditAction,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub fn operations() -> Vec<Operation> {
    vec![Operation::new::<ListAuditEvents, Page<AuditEvent>>(Spec {
        name: "list_audit_events",
        title: "List audit events",
        description: "Who changed what and when: every change to customers, notes, keys and the organisation, with \
                      the acting user and key, the surface (rest, mcp, cli), and the row before and after. Owners and \
                      admins only. Newest first.",
        toolset: "audit",
        scope: "audit:read",
        method: Method::Get,
        path: "/v1/audit-events",
        effect: Effect::Read,
        idempotent: true,
        confirm: false,
        preview: None,
        success_status: 200,
        open_world: false,
    })]
}
