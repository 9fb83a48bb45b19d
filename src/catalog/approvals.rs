//! Approvals: what an agent key asks for that a person approves first (a message to a customer,
//! a refund), held as an immutable snapshot and carried out exactly, once, when approved.
//! Toolset `approvals`; scopes `approvals:read`, `approvals:write` (the settings) and
//! `approvals:decide`. Managers and above see and decide approvals (a refund needs an admin);
//! an agent key never decides. The rules are written once, at the top of
//! `sql/operations/approvals.sql`.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::{Cursor, Id, Int, Limit, Text};
use super::{Effect, Method, Operation, Page, Spec};

/// An operation an organisation can put behind approval.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovableOperation {
    RefundPayment,
    SendCampaign,
    SendMessage,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a person.
    Pending,
    /// Carried out (see result).
    Approved,
    Rejected,
    /// Approved, but what it would do was no longer allowed (see error); nothing happened.
    Failed,
    /// Nobody decided before it expired.
    Expired,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListApprovals {
    pub status: Option<ApprovalStatus>,
    pub operation: Option<ApprovableOperation>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApprovalRef {
    pub approval_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Decide {
    pub approval_id: Id,
    /// Why (kept with the decision).
    pub note: Option<Text<1, 500>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateApprovalSettings {
    /// The operations an agent key's call turns into an approval (replaces the list; empty:
    /// none).
    #[schemars(length(max = 10))]
    pub operations: Option<Vec<ApprovableOperation>>,
    /// Hours an approval waits before it expires.
    pub expires_after_hours: Option<Int<1, 720>>,
    /// Whether the person at an MCP client that can ask them (elicitation) may approve their
    /// own agent's request there, when their role allows (default true); false: every approval
    /// waits for someone in the inbox.
    pub approve_in_client: Option<bool>,
}

/// Which operations need a person's approval when an agent calls them.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalSettings {
    pub operations: Vec<ApprovableOperation>,
    pub expires_after_hours: i64,
    /// Whether the person at an MCP client that can ask them may approve there.
    pub approve_in_client: bool,
    /// Every operation that can be put behind approval.
    pub approvable_operations: Vec<ApprovableOperation>,
    pub updated_at: Option<String>,
}

/// What an agent asked for, waiting for (or decided by) a person.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub operation: ApprovableOperation,
    /// One line for a person: what would happen.
    pub summary: String,
    /// Exactly what approving carries out: a message as rendered with its recipient and
    /// channel; a refund's payment and amount.
    pub snapshot: serde_json::Value,
    pub status: ApprovalStatus,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub requested_by_key_id: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub requested_by_user_id: Option<String>,
    pub requested_via: Option<String>,
    /// The agent's MCP client could ask its person, who may approve there (see
    /// `approveInClient`); otherwise it waits in the inbox.
    pub decidable_in_client: bool,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub decided_by_key_id: Option<String>,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub decided_by_user_id: Option<String>,
    /// rest, mcp, cli; mcp_elicitation: the person at the client that asked, through the
    /// client's question.
    pub decided_via: Option<String>,
    pub decided_at: Option<String>,
    pub note: Option<String>,
    /// What carrying it out gave: the message sent, the payment refunded.
    pub result: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
    pub expires_at: String,
    pub created_at: String,
}

const READ: &str = "approvals:read";
const WRITE: &str = "approvals:write";
const DECIDE: &str = "approvals:decide";

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
        "approvals",
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
        Operation::new::<ListApprovals, Page<Approval>>(spec(
            "list_approvals",
            "List approvals",
            "What agents asked for that waits for (or was decided by) a person, newest first (managers and above): \
             status pending for the inbox; expired, approved, rejected, failed.",
            Get,
            "/v1/approvals",
            Read,
            true,
            200,
        )),
        Operation::new::<ApprovalRef, Approval>(spec(
            "get_approval",
            "Get an approval",
            "One approval: the snapshot of exactly what approving it carries out, its status, who asked and who \
             decided, and the result. An agent checks here whether the person approved what it asked for.",
            Get,
            "/v1/approvals/{approvalId}",
            Read,
            true,
            200,
        )),
        Operation::new::<Decide, Approval>(Spec {
            scope: DECIDE,
            open_world: true,
            ..spec(
                "approve",
                "Approve",
                "Approve what an agent asked for and carry out exactly its snapshot, once: the message as it was \
                 rendered, the refund of the amount shown (a person, or an app key, with approvals:decide and the \
                 role the operation needs; never an agent key). Approving again changes nothing. If it is no \
                 longer allowed (consent withdrawn, already refunded) the approval fails with the reason.",
                Post,
                "/v1/approvals/{approvalId}/approve",
                Write,
                true,
                200,
            )
        }),
        Operation::new::<Decide, Approval>(Spec {
            scope: DECIDE,
            ..spec(
                "reject",
                "Reject",
                "Reject what an agent asked for: nothing of it happens (a person, or an app key, with \
                 approvals:decide; never an agent key).",
                Post,
                "/v1/approvals/{approvalId}/reject",
                Write,
                true,
                200,
            )
        }),
        Operation::new::<super::NoInput, ApprovalSettings>(spec(
            "get_approval_settings",
            "Get approval settings",
            "Which operations an agent key's call turns into an approval (send_message, send_campaign and \
             refund_payment unless set) and how long approvals wait (72 hours unless set).",
            Get,
            "/v1/approval-settings",
            Read,
            true,
            200,
        )),
        Operation::new::<UpdateApprovalSettings, ApprovalSettings>(spec(
            "update_approval_settings",
            "Update approval settings",
            "Set which operations need a person's approval when an agent key calls them, and how long approvals \
             wait (admins and owners). An operation taken off the list goes back to the confirmation step.",
            Patch,
            "/v1/approval-settings",
            Write,
            true,
            200,
        )),
    ]
}
