//! The team: members, their roles, invitations, and the organisations a person belongs to.
#![allow(dead_code)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::{Cursor, Email, Id, Int, Limit, Text};
use super::{Effect, Method, NoInput, Operation, Page, Spec};

/// A role a member can be given. owner > admin > manager > staff.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Manager,
    Staff,
}

/// A role an invitation can grant (never owner: make a member owner once they joined).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InviteRole {
    Admin,
    Manager,
    Staff,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateTeamMemberInvite {
    /// The address the invitation (and later the code) goes to.
    pub email: Email,
    /// Their name as the team will know them.
    pub name: Text<1, 200>,
    /// The role they get; only roles below the caller's own (managers invite staff).
    pub role: InviteRole,
    /// How long the invitation stays valid, 1 to 336 hours. Default: 72.
    pub expires_in_hours: Option<Int<1, 336>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InviteStatus {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

/// An invitation (never its token).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamInvite {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: InviteRole,
    pub status: InviteStatus,
    #[schemars(with = "uuid::Uuid")]
    pub invited_by_user_id: String,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub accepted_user_id: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    pub accepted_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A new invitation with its token, shown this once.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedTeamInvite {
    #[serde(flatten)]
    pub invite: TeamInvite,
    /// The one-time invitation token (fav_inv_…), also emailed to the invitee. Not stored.
    pub token: String,
    /// The invitation email in the outbox (get_delivery shows whether it went out).
    #[schemars(with = "uuid::Uuid")]
    pub email_delivery_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListTeamInvites {
    /// Only invitations in this state.
    pub status: Option<InviteStatus>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InviteRef {
    pub invite_id: Id,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    Active,
    Removed,
}

/// A member of the team.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamMember {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub status: MemberStatus,
    pub created_at: String,
    pub updated_at: String,
    pub removed_at: Option<String>,
}

/// A removed member and how many of their keys were revoked.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemovedTeamMember {
    #[serde(flatten)]
    pub member: TeamMember,
    pub revoked_keys: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListTeamMembers {
    /// true to include members who were removed.
    pub include_removed: Option<bool>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MemberRef {
    /// The member's id (from list_team_members), not their user id.
    pub member_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateTeamMemberRole {
    pub member_id: Id,
    /// The new role. Admins can give only roles below admin; owners any.
    pub role: Role,
}

/// An organisation the key's user belongs to.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    #[schemars(with = "uuid::Uuid")]
    pub organisation_id: String,
    pub name: String,
    pub industry: String,
    pub timezone: String,
    pub role: Role,
    #[schemars(with = "uuid::Uuid")]
    pub member_id: String,
    /// Whether this is the organisation the calling key belongs to.
    pub current: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MyOrganisations {
    pub items: Vec<Membership>,
}

pub fn operations() -> Vec<Operation> {
    vec![
        Operation::new::<CreateTeamMemberInvite, CreatedTeamInvite>(Spec {
            name: "create_team_member_invite",
            title: "Invite a team member",
            description: "Invite a person by email with a role below the caller's own (owners and admins invite \
                          admins, managers and staff; managers invite staff). Emails them the invitation token and \
                          returns it once. The invited person then joins with accept_team_invite_request and \
                          accept_team_invite_verify: tools for them (offered to MCP clients without a key, and as \
                          `favcrm team invite accept-…`), not for you. A new invitation for the same email replaces \
                          a pending one.",
            toolset: "team",
            scope: "team:write",
            method: Method::Post,
            path: "/v1/team-invites",
            effect: Effect::Write,
            idempotent: false,
            confirm: false,
            preview: None,
            success_status: 201,
            open_world: true,
        }),
        Operation::new::<ListTeamInvites, Page<TeamInvite>>(Spec {
            name: "list_team_invites",
            title: "List invitations",
            description: "List invitations newest first with their status (pending, accepted, expired, revoked). \
                          Managers and above.",
            toolset: "team",
            scope: "team:read",
            method: Method::Get,
            path: "/v1/team-invites",
            effect: Effect::Read,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<InviteRef, TeamInvite>(Spec {
            name: "revoke_team_invite",
            title: "Revoke an invitation",
            description: "Revoke a pending invitation: its token and code stop working at once. Find the id with \
                          list_team_invites.",
            toolset: "team",
            scope: "team:write",
            method: Method::Delete,
            path: "/v1/team-invites/{inviteId}",
            effect: Effect::Destructive,
            idempotent: true,
            confirm: true,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<ListTeamMembers, Page<TeamMember>>(Spec {
            name: "list_team_members",
            title: "List team members",
            description: "List the organisation's members with their name, email and role, newest first.",
            toolset: "team",
            scope: "team:read",
            method: Method::Get,
            path: "/v1/team-members",
            effect: Effect::Read,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<UpdateTeamMemberRole, TeamMember>(Spec {
            name: "update_team_member_role",
            title: "Change a member's role",
            description: "Change a member's role (owners and admins; admins only for roles below admin). Their keys \
                          follow the new role from the next request. The last owner cannot be demoted.",
            toolset: "team",
            scope: "team:write",
            method: Method::Patch,
            path: "/v1/team-members/{memberId}",
            effect: Effect::Destructive,
            idempotent: true,
            confirm: true,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<MemberRef, RemovedTeamMember>(Spec {
            name: "remove_team_member",
            title: "Remove a team member",
            description: "Remove a member from the organisation and revoke all their keys at once (owners and \
                          admins). The last owner cannot be removed. They can come back only by a new invitation.",
            toolset: "team",
            scope: "team:write",
            method: Method::Delete,
            path: "/v1/team-members/{memberId}",
            effect: Effect::Destructive,
            idempotent: false,
            confirm: true,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<NoInput, MyOrganisations>(Spec {
            name: "list_my_organisations",
            title: "List my organisations",
            description: "List every organisation the key's person belongs to, with their role in each. A key works \
                          only in its own organisation (current: true); use that organisation's key for the others.",
            toolset: "organisation",
            scope: "organisation:read",
            method: Method::Get,
            path: "/v1/me/organisations",
            effect: Effect::Read,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
    ]
}
