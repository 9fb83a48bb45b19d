//! The operation catalog: every operation described once. REST routes (and later MCP tools,
//! the OpenAPI document and the CLI) are generated from it. Each operation is backed by the
//! SQL function `api.<name>(jsonb) returns jsonb`.
//!
//! Rust checks the *shape* of the input against the operation's input type (unknown fields,
//! types, bounds, formats); the SQL function decides everything else.

pub mod approvals;
pub mod audit;
pub mod billing;
pub mod bookings;
pub mod commerce;
pub mod content;
pub mod customers;
pub mod imports;
pub mod keys;
pub mod loyalty;
pub mod messaging;
pub mod organisation;
pub mod reports;
pub mod signup;
pub mod subscriptions;
pub mod team;
pub mod types;
pub mod webhooks;

use std::sync::LazyLock;

use schemars::{JsonSchema, generate::SchemaSettings};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// What an operation does to data; drives READ ONLY transactions and, later, MCP annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Read,
    Write,
    /// Removes or cancels something (soft delete, revoke): needs confirmation from agents.
    Destructive,
}

/// The hand-written part of an operation.
pub struct Spec {
    pub name: &'static str,
    pub title: &'static str,
    /// For people and agents: when to use it, what it returns, what to call first.
    pub description: &'static str,
    pub toolset: &'static str,
    pub scope: &'static str,
    pub method: Method,
    pub path: &'static str,
    pub effect: Effect,
    /// Calling it twice with the same input leaves the same state as calling it once.
    pub idempotent: bool,
    /// An agent key may be asked to confirm (always for destructive operations).
    pub confirm: bool,
    /// What a confirmation previews (None: the input itself is the preview).
    pub preview: Option<Preview>,
    pub success_status: u16,
    /// It reaches the world outside the database (it sends email).
    pub open_world: bool,
}

/// A spec of a toolset whose reads need `<toolset>:read` and whose writes need
/// `<toolset>:write`, with the usual defaults: destructive operations ask agents for
/// confirmation, nothing is previewed but the input, nothing reaches outside.
#[allow(clippy::too_many_arguments)]
pub(crate) fn toolset_spec(
    toolset: &'static str,
    (read, write): (&'static str, &'static str),
    name: &'static str,
    title: &'static str,
    description: &'static str,
    method: Method,
    path: &'static str,
    effect: Effect,
    idempotent: bool,
    success_status: u16,
) -> Spec {
    Spec {
        name,
        title,
        description,
        toolset,
        scope: if effect == Effect::Read { read } else { write },
        method,
        path,
        effect,
        idempotent,
        confirm: effect == Effect::Destructive,
        preview: None,
        success_status,
        open_world: false,
    }
}

/// The scope of operations anyone may call without a key (registration, joining a team).
pub const PUBLIC: &str = "";

/// An operation: its spec plus what is derived from its input and output types. Derefs to
/// the [`Spec`], so `op.name`, `op.path`, … read the spec's fields.
pub struct Operation {
    spec: Spec,
    pub input_schema: Value,
    pub output_schema: Value,
    /// The output type's name (`Booking`, `Page_for_Booking`): its name among the OpenAPI
    /// document's named schemas, shared by every operation that answers with it.
    pub output_name: String,
    check: fn(&Value) -> Result<(), ApiError>,
}

impl std::ops::Deref for Operation {
    type Target = Spec;

    fn deref(&self) -> &Spec {
        &self.spec
    }
}

impl Operation {
    /// Builds an operation from its spec and its input and output types.
    pub fn new<I: DeserializeOwned + JsonSchema, O: JsonSchema>(spec: Spec) -> Self {
        Operation {
            spec,
            input_schema: schema_for::<I>(),
            output_schema: schema_for::<O>(),
            output_name: O::schema_name().replace(['<', '>', ',', ' '], "_"),
            check: check_shape::<I>,
        }
    }

    /// Callable without a key (and offered only to callers without one).
    pub fn is_public(&self) -> bool {
        self.scope == PUBLIC
    }

    /// Sends email or mints keys: counted against the tighter per-key budget as well.
    pub fn sensitive(&self) -> bool {
        !self.is_public() && (self.open_world || (self.toolset == "keys" && !self.read_only()))
    }

    /// The description clients see: the hand-written one, and for tools that ask for
    /// confirmation, how that goes (the same sentence everywhere).
    pub fn client_description(&self) -> std::borrow::Cow<'static, str> {
        if !self.confirm {
            return self.description.into();
        }
        format!(
            "{} Needs confirmation with an agent key (fav_mcp_): the first call changes nothing and answers \
             confirmation_required with a preview and a confirmationToken; show the preview to the person you act \
             for, then call again with the same arguments and the token (over REST: the Confirmation-Token \
             header). A client that can ask its person (elicitation) asks them instead, and the call acts once \
             they confirm.",
            self.description
        )
        .into()
    }

    /// The lowest role that may call the operation, where that is above staff. The SQL checks
    /// it (`app.require_manager`, `app.member_for_change`); `tools/list` offers a tool only to
    /// keys whose role reaches it; a test calls every operation as a staff member to hold the
    /// two together.
    pub fn min_role(&self) -> &'static str {
        match self.name {
            "update_team_member_role"
            | "remove_team_member"
            | "void_invoice"
            | "refund_payment"
            | "create_credit_note"
            | "update_loyalty_programme"
            | "create_webhook_endpoint"
            | "list_webhook_endpoints"
            | "get_webhook_endpoint"
            | "rotate_webhook_secret"
            | "delete_webhook_endpoint"
            | "list_webhook_deliveries"
            | "get_channel_status"
            | "update_messaging_settings"
            | "update_approval_settings" => "admin",
            "connect_stripe" | "disconnect_stripe" | "connect_channel" | "disconnect_channel" => "owner",
            "create_service"
            | "update_service"
            | "archive_service"
            | "create_staff"
            | "update_staff"
            | "create_resource"
            | "update_resource"
            | "set_working_hours"
            | "add_time_off"
            | "remove_time_off"
            | "set_hours_exception"
            | "remove_hours_exception"
            | "add_closure"
            | "schedule_class_session"
            | "cancel_class_session"
            | "create_publishable_key"
            | "revoke_publishable_key"
            | "list_team_invites"
            | "create_tax_rate"
            | "update_tax_rate"
            | "create_product"
            | "update_product"
            | "adjust_stock"
            | "create_order"
            | "create_promotion"
            | "deactivate_promotion"
            | "pay_order"
            | "fulfil_order"
            | "cancel_order"
            | "create_invoice"
            | "invoice_booking_fees"
            | "update_invoice"
            | "add_invoice_line"
            | "remove_invoice_line"
            | "finalize_invoice"
            | "mark_uncollectible"
            | "record_payment"
            | "get_stripe_connection"
            | "create_payment_link"
            | "create_plan"
            | "archive_plan"
            | "report_loyalty"
            | "report_campaigns"
            | "report_subscriptions"
            | "list_report_digests"
            | "get_report_digest"
            | "preview_customer_import"
            | "commit_customer_import"
            | "get_customer_import"
            | "list_customer_import_rows"
            | "create_post"
            | "update_post"
            | "publish_post"
            | "unpublish_post"
            | "create_subscription"
            | "pause_subscription"
            | "resume_subscription"
            | "cancel_subscription"
            | "change_subscription_plan"
            | "sell_package"
            | "adjust_credits"
            | "adjust_points"
            | "create_reward"
            | "archive_reward"
            | "redeem_reward"
            | "reverse_redemption"
            | "list_deliveries"
            | "get_delivery"
            | "retry_delivery"
            | "create_template"
            | "send_message"
            | "create_booking_message_rule"
            | "remove_booking_message_rule"
            | "create_campaign"
            | "preview_campaign"
            | "send_campaign"
            | "get_campaign"
            | "list_campaigns"
            | "list_approvals"
            | "get_approval"
            | "approve"
            | "reject" => "manager",
            _ => "staff",
        }
    }

    /// Its input carries provider secrets that the call path seals (encrypts) for the caller's
    /// organisation before the database sees them (`call::payments`), and it is idempotent by
    /// itself (a sealing differs each time, so an idempotency key could never match a retry).
    pub fn seals_provider_secrets(&self) -> bool {
        matches!(self.name, "connect_stripe" | "connect_channel")
    }

    /// An agent key's call may wait for a person's approval (`approval_required`), when the
    /// organisation puts the operation behind approval (`sql/operations/approvals.sql`).
    pub fn needs_approval_for_agents(&self) -> bool {
        matches!(self.name, "send_message" | "send_campaign" | "refund_payment")
    }

    /// Whether a call can turn into a question for the person at an MCP client (a confirmation,
    /// or an approval they may decide there): only these calls are put to them.
    pub fn may_ask_the_person(&self) -> bool {
        self.confirm || self.needs_approval_for_agents()
    }

    /// Whether a member with `role` may call the operation (scopes aside).
    pub fn allows_role(&self, role: &str) -> bool {
        role_rank(role) >= role_rank(self.min_role())
    }

    pub fn read_only(&self) -> bool {
        self.effect == Effect::Read
    }

    /// Checks the input against the operation's input type, after reading whole numbers sent
    /// as floats (`4.0`) as the integers they are. Text anywhere in it (values and names,
    /// free-form objects too) must not hold the NUL character, which PostgreSQL cannot store in
    /// text or jsonb. REST and MCP both check through this.
    pub fn check_input(&self, input: &mut Value) -> Result<(), ApiError> {
        normalise_input(input);
        if let Some(field) = nul_at(input, String::new()) {
            let detail = format!("{}: text cannot contain the NUL character (U+0000)", display_field(&field));
            return Err(ApiError::invalid(display_field(&field), "invalid_character", detail));
        }
        (self.check)(input)?;
        // The published schema is the contract: what the types above let through (array
        // lengths, patterns) is held to it too, so that a client validating against it and the
        // server never disagree.
        schema_check(self, input)
    }

    /// `select api.<name>($1::jsonb)`
    pub fn sql(&self) -> String {
        format!("select {}", self.sql_expr("$1"))
    }

    pub fn sql_expr(&self, param: &str) -> String {
        format!("api.{}({param}::jsonb)", self.name)
    }

    /// Names of the path parameters, e.g. `customerId` in `/v1/customers/{customerId}`.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('/').filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
    }
}

fn schema_for<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("title");
    }
    schema
}

fn check_shape<T: DeserializeOwned>(input: &Value) -> Result<(), ApiError> {
    serde_path_to_error::deserialize::<_, T>(input.clone()).map(drop).map_err(|e| shape_error(&e))
}

/// Turns a serde error into a 422 naming the field and a stable code.
fn shape_error(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let message = e.inner().to_string();
    // serde_json appends " at line 1 column 2" only when reading text; values have none.
    let message = message.split(" at line ").next().unwrap_or(&message).to_string();
    let mut field = e.path().to_string();
    if field == "." {
        field.clear();
    }
    let backticked = message.split('`').nth(1).map(str::to_string);
    let (code, detail) = if let Some(rest) = message.strip_prefix('[') {
        let (code, detail) = rest.split_once("] ").unwrap_or(("invalid_value", rest));
        (code.to_string(), detail.to_string())
    } else if message.starts_with("unknown field") {
        let name = backticked.unwrap_or_default();
        if !field.ends_with(name.as_str()) {
            field = join_field(&field, &name);
        }
        ("unknown_field".into(), format!("{name} is not a field of this operation"))
    } else if message.starts_with("missing field") {
        let name = backticked.unwrap_or_default();
        field = join_field(&field, &name);
        ("required".into(), format!("{name} is required"))
    } else if message.starts_with("invalid type") {
        ("invalid_type".into(), message.clone())
    } else {
        ("invalid_value".into(), message.clone())
    };
    let detail = if field.is_empty() { detail } else { format!("{field}: {detail}") };
    ApiError::invalid(if field.is_empty() { "(body)".to_string() } else { field }, &code, detail)
}

/// Whole numbers sent as floats (`4.0`) become integers: JSON Schema counts them as integers,
/// and SQL casts them as such only when written without the fraction. No input of the catalog
/// takes a fractional number.
fn normalise_input(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_input),
        Value::Object(map) => map.values_mut().for_each(normalise_input),
        _ => {}
    }
}

fn schema_check(op: &Operation, input: &Value) -> Result<(), ApiError> {
    static VALIDATORS: LazyLock<std::collections::HashMap<&'static str, jsonschema::Validator>> = LazyLock::new(|| {
        all()
            .iter()
            .map(|op| {
                let validator = jsonschema::validator_for(&op.input_schema)
                    .unwrap_or_else(|e| panic!("the input schema of {} does not compile: {e}", op.name));
                (op.name, validator)
            })
            .collect()
    });
    let Some(error) = VALIDATORS.get(op.name).and_then(|v| v.iter_errors(input).next()) else {
        return Ok(());
    };
    let field = error.instance_path().to_string().split('/').filter(|s| !s.is_empty()).fold(
        String::new(),
        |path, seg| match seg.parse::<usize>() {
            Ok(i) => format!("{path}[{i}]"),
            Err(_) => join_field(&path, &seg.replace("~1", "/").replace("~0", "~")),
        },
    );
    let code = match error.kind() {
        jsonschema::error::ValidationErrorKind::MaxItems { .. } => "too_many_items",
        jsonschema::error::ValidationErrorKind::MinItems { .. } => "too_few_items",
        jsonschema::error::ValidationErrorKind::MaxLength { .. } => "too_long",
        jsonschema::error::ValidationErrorKind::MinLength { .. } => "too_short",
        jsonschema::error::ValidationErrorKind::Pattern { .. } => "invalid_format",
        _ => "invalid_value",
    };
    let field = display_field(&field);
    Err(ApiError::invalid(field.clone(), code, format!("{field}: {error}")))
}

/// Where a NUL character is in a value, as a field path (`tags[1]`, `customFields.k`).
fn nul_at(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then_some(path),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_at(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let field = join_field(&path, &k.replace('\0', "\\u0000"));
            if k.contains('\0') { Some(field) } else { nul_at(v, field) }
        }),
        _ => None,
    }
}

fn display_field(field: &str) -> String {
    if field.is_empty() { "(body)".to_string() } else { field.to_string() }
}

fn join_field(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_string() } else { format!("{parent}.{name}") }
}

/// Roles from least to most powerful, as `auth.role_rank` ranks them.
pub fn role_rank(role: &str) -> u8 {
    match role {
        "owner" => 4,
        "admin" => 3,
        "manager" => 2,
        "staff" => 1,
        _ => 0,
    }
}

/// What a confirmation shows besides the arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preview {
    /// The record acted on, as this read operation (same input) returns it.
    Target(&'static str),
    /// `{target, effect}` from this SQL function (same input): the record and what the change
    /// will do to it.
    Effect(&'static str),
}

impl Preview {
    /// The statement that computes the preview for an input bound as `$1`.
    pub fn sql(self) -> String {
        match self {
            Preview::Target(op) => find(op).map(|op| op.sql()).unwrap_or_else(|| "select $1::jsonb".into()),
            Preview::Effect(function) => format!("select {function}($1::jsonb)"),
        }
    }
}

/// Every operation, in a stable order.
pub fn all() -> &'static [Operation] {
    static CATALOG: LazyLock<Vec<Operation>> = LazyLock::new(|| {
        let mut ops = Vec::new();
        ops.extend(signup::operations());
        ops.extend(organisation::operations());
        ops.extend(team::operations());
        ops.extend(bookings::operations());
        ops.extend(customers::operations());
        ops.extend(imports::operations());
        ops.extend(billing::operations());
        ops.extend(commerce::operations());
        ops.extend(subscriptions::operations());
        ops.extend(loyalty::operations());
        ops.extend(messaging::operations());
        ops.extend(webhooks::operations());
        ops.extend(approvals::operations());
        ops.extend(reports::operations());
        ops.extend(content::operations());
        ops.extend(keys::operations());
        ops.extend(audit::operations());
        ops
    });
    &CATALOG
}

/// The toolsets of the catalog, sorted (what `?toolsets=` and `X-MCP-Toolsets` may name).
pub fn toolsets() -> &'static [&'static str] {
    static TOOLSETS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let mut sets: Vec<&'static str> = all().iter().map(|op| op.toolset).collect();
        sets.sort();
        sets.dedup();
        sets
    });
    &TOOLSETS
}

/// A scope in plain words, for people (the consent page, the OpenAPI document's OAuth scopes).
pub fn scope_words(scope: &str) -> String {
    if scope == "approvals:decide" {
        return "Approve or reject what agents ask to do".to_string();
    }
    let (toolset, access) = scope.split_once(':').unwrap_or((scope, "read"));
    let what = match toolset {
        "approvals" => "approval requests",
        "audit" => "the audit log",
        "billing" => "invoices, payments and refunds",
        "bookings" => "bookings, services, staff and the schedule",
        "commerce" => "products, stock and orders",
        "content" => "website content",
        "customers" => "customers and their notes",
        "keys" => "API keys",
        "loyalty" => "loyalty points and rewards",
        "messaging" => "messages to customers and their templates",
        "organisation" => "the organisation's settings",
        "reports" => "reports",
        "subscriptions" => "plans, memberships and subscriptions",
        "team" => "the team and invitations",
        "webhooks" => "webhooks",
        other => other,
    };
    match access {
        "write" => format!("Create and change {what}"),
        _ => format!("See {what}"),
    }
}

/// Operations a web page may call with a publishable key (`auth.publishable_call` decides; this
/// list decides where browsers get CORS answers, and is what the OpenAPI document marks
/// `x-favcrm-publishable`).
pub const WEB_OPERATIONS: &[&str] = &[
    "list_services",
    "get_available_slots",
    "create_booking",
    "list_products",
    "list_plans",
    "list_posts",
    "get_post",
];

pub fn find(name: &str) -> Option<&'static Operation> {
    all().iter().find(|op| op.name == name)
}

/// An input type for operations that take nothing.
#[derive(Debug, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

/// A page of a list: `items` and the cursor for the next page (null on the last page).
#[derive(Debug, serde::Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "PageOf{T}")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null when there is none.
    pub next_cursor: Option<String>,
}
