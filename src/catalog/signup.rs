//! The operations anyone may call without a key: registering a new organisation and joining
//! one by invitation. Each is two steps; between them a person reads a 6-digit code from
//! their inbox. They run in `crate::onboarding`, not as `api.*` functions: the server makes
//! and checks the codes.
#![allow(dead_code)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::organisation::Industry;
use super::types::{Email, Letters, Text};
use super::{Effect, Method, Operation, PUBLIC, Spec};

/// A 6-digit one-time code from the email.
#[derive(Debug)]
pub struct Code(pub String);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let digits: String = s.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom("[invalid_code_format] the code is the 6 digits from the email"));
        }
        Ok(Code(digits))
    }
}

impl JsonSchema for Code {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Code".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^[0-9]{6}$", "description": "The 6-digit code from the email." })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegisterOrganisationRequest {
    /// The email of the person registering; they will own the organisation. The code goes here.
    pub email: Email,
    /// The business's name as customers know it.
    pub organisation_name: Text<2, 80>,
    /// What kind of business it is; seeds sensible defaults. Default: other.
    pub industry: Option<Industry>,
    /// ISO 3166-1 alpha-2 country code (GB, US, HK, …): sets the default currency and time zone.
    pub country: Option<Letters<2>>,
    /// IANA time zone (Europe/London). Default: the country's main zone, else UTC.
    pub timezone: Option<Text<1, 64>>,
}

/// A registration waiting for its code.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupRequested {
    /// Pass to register_organisation_verify with the code.
    pub request_id: String,
    /// Where the code went, partly hidden (yo*@example.com).
    pub masked_email: String,
    /// The code stops working at this time (10 minutes).
    pub expires_at: String,
    /// What to do next.
    pub instructions: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegisterOrganisationVerify {
    /// The requestId register_organisation_request returned.
    pub request_id: Text<1, 100>,
    /// The 6-digit code from the email.
    pub code: Code,
}

/// A new organisation and the key to use it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupCompleted {
    #[schemars(with = "uuid::Uuid")]
    pub organisation_id: String,
    pub organisation_name: String,
    #[schemars(with = "uuid::Uuid")]
    pub user_id: String,
    #[schemars(with = "uuid::Uuid")]
    pub api_key_id: String,
    /// The owner's first agent key (fav_mcp_…). Shown only now: store it at once.
    pub api_key: String,
    pub timezone: String,
    pub default_currency: String,
    /// What to do with the new workspace.
    pub next_steps: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AcceptTeamInviteRequest {
    /// The invitation token (fav_inv_…) from the invitation email.
    pub token: Text<1, 100>,
}

/// An invitation waiting for its code.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteCodeSent {
    /// Where the code went, partly hidden.
    pub masked_email: String,
    /// The code stops working at this time (10 minutes).
    pub expires_at: String,
    pub organisation_name: String,
    /// The role the invitation grants.
    pub role: String,
    pub instructions: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AcceptTeamInviteVerify {
    /// The invitation token (fav_inv_…).
    pub token: Text<1, 100>,
    /// The 6-digit code from the email.
    pub code: Code,
    /// Your name as the team will see it. Default: the name on the invitation.
    pub name: Option<Text<1, 200>>,
}

/// The new member and their first key.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamInviteAccepted {
    #[schemars(with = "uuid::Uuid")]
    pub organisation_id: String,
    pub organisation_name: String,
    #[schemars(with = "uuid::Uuid")]
    pub user_id: String,
    #[schemars(with = "uuid::Uuid")]
    pub member_id: String,
    pub role: String,
    #[schemars(with = "uuid::Uuid")]
    pub api_key_id: String,
    /// The member's first agent key (fav_mcp_…). Shown only now: store it at once.
    pub api_key: String,
    pub next_steps: Vec<String>,
}

pub fn operations() -> Vec<Operation> {
    vec![
        Operation::new::<RegisterOrganisationRequest, SignupRequested>(Spec {
            name: "register_organisation_request",
            title: "Register a new organisation (step 1: email a code)",
            description: "Start creating a new favcrm workspace for a business. No key needed. Emails a 6-digit code \
                          to the person's address and returns a requestId. Ask the person for the code from their \
                          inbox, then call register_organisation_verify. Asking again replaces the earlier code. \
                          On rate_limited, tell the person to wait retryAfterSeconds; never retry in a loop.",
            toolset: "onboarding",
            scope: PUBLIC,
            method: Method::Post,
            path: "/v1/signup/request",
            effect: Effect::Write,
            idempotent: false,
            confirm: false,
            preview: None,
            success_status: 202,
            open_world: true,
        }),
        Operation::new::<RegisterOrganisationVerify, SignupCompleted>(Spec {
            name: "register_organisation_verify",
            title: "Register a new organisation (step 2: verify the code)",
            description: "Finish registration with the requestId and the 6-digit code the person received. Creates \
                          the organisation, its owner and a first agent key (apiKey, shown once: give it to the \
                          person or store it as this connection's key). Five wrong codes close the request; an \
                          expired or closed request needs a new register_organisation_request.",
            toolset: "onboarding",
            scope: PUBLIC,
            method: Method::Post,
            path: "/v1/signup/verify",
            effect: Effect::Write,
            idempotent: false,
            confirm: false,
            preview: None,
            success_status: 201,
            open_world: false,
        }),
        Operation::new::<AcceptTeamInviteRequest, InviteCodeSent>(Spec {
            name: "accept_team_invite_request",
            title: "Join a team by invitation (step 1: email a code)",
            description: "Start accepting an invitation with its token (fav_inv_…). No key needed. Emails a 6-digit \
                          code to the invited address; then call accept_team_invite_verify with the token and code.",
            toolset: "onboarding",
            scope: PUBLIC,
            method: Method::Post,
            path: "/v1/team-invites/accept/request",
            effect: Effect::Write,
            idempotent: false,
            confirm: false,
            preview: None,
            success_status: 202,
            open_world: true,
        }),
        Operation::new::<AcceptTeamInviteVerify, TeamInviteAccepted>(Spec {
            name: "accept_team_invite_verify",
            title: "Join a team by invitation (step 2: verify the code)",
            description: "Finish accepting an invitation with its token, the 6-digit code from the email and the \
                          person's name. Makes them a member with the invited role and returns their first agent \
                          key (apiKey, shown once).",
            toolset: "onboarding",
            scope: PUBLIC,
            method: Method::Post,
            path: "/v1/team-invites/accept/verify",
            effect: Effect::Write,
            idempotent: false,
            confirm: false,
            preview: None,
            success_status: 201,
            open_world: false,
        }),
    ]
}
