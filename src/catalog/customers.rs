//! Customers and their notes and tags.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::types::{Cursor, Email, Id, Int, Limit, Phone, Tag, Text};
use super::{Effect, Method, Operation, Page, Preview, Spec};

/// Where a customer is in their relationship with the business.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStage {
    Lead,
    Prospect,
    Customer,
    Vip,
    Churned,
}

/// A consent change for one channel.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChange {
    /// true when the customer agreed to marketing on this channel, false when they withdrew.
    pub granted: bool,
    /// Where it was given or withdrawn (e.g. "signup_form", "front_desk").
    pub source: Option<Text<1, 64>>,
}

/// Marketing consent changes per channel; channels left out keep their value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    pub email: Option<ConsentChange>,
    pub sms: Option<ConsentChange>,
    pub whatsapp: Option<ConsentChange>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CustomerRef {
    /// The customer's id.
    pub customer_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListCustomers {
    /// Search text matched anywhere in name, email or phone (case-insensitive).
    pub q: Option<Text<1, 200>>,
    /// Only customers with this tag.
    pub tag: Option<Tag>,
    /// Only customers at this lifecycle stage.
    pub lifecycle_stage: Option<LifecycleStage>,
    /// Only customers with no activity (notes, bookings…) for at least this many days.
    pub inactive_days: Option<Int<1, 36500>>,
    /// true to list soft-deleted customers instead (to find one to restore).
    pub deleted: Option<bool>,
    /// Page size, 1 to 100 (default 25).
    pub limit: Option<Limit>,
    /// nextCursor from the previous page.
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCustomer {
    /// Full name as the business knows them.
    pub name: Text<1, 200>,
    /// Email address; unique among the organisation's live customers.
    pub email: Option<Email>,
    /// Phone number, ideally with country code (+852 9123 4567).
    pub phone: Option<Phone>,
    /// Defaults to customer.
    pub lifecycle_stage: Option<LifecycleStage>,
    /// How they found the business (e.g. walk_in, instagram, referral).
    pub source: Option<Text<1, 64>>,
    /// Labels; lower-cased and de-duplicated.
    pub tags: Option<Vec<Tag>>,
    /// Business-specific fields (up to 16 KB of JSON).
    pub custom_fields: Option<BTreeMap<String, Value>>,
    pub marketing_consent: Option<ConsentInput>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateCustomer {
    /// The customer to change.
    pub customer_id: Id,
    pub name: Option<Text<1, 200>>,
    /// null removes the email.
    pub email: Option<Email>,
    /// null removes the phone number.
    pub phone: Option<Phone>,
    pub lifecycle_stage: Option<LifecycleStage>,
    pub source: Option<Text<1, 64>>,
    /// Replaces all tags (use add_customer_tags / remove_customer_tags to change some).
    pub tags: Option<Vec<Tag>>,
    /// Merged key by key into the stored fields; a null value removes that key.
    pub custom_fields: Option<BTreeMap<String, Value>>,
    pub marketing_consent: Option<ConsentInput>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CustomerTags {
    /// The customer whose tags change.
    pub customer_id: Id,
    /// Tags to add or remove.
    #[schemars(length(min = 1, max = 50))]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddCustomerNote {
    /// The customer the note is about.
    pub customer_id: Id,
    /// The note text.
    pub body: Text<1, 10000>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListCustomerNotes {
    /// The customer whose notes to list.
    pub customer_id: Id,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

/// Consent as stored for one channel.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Consent {
    pub granted: bool,
    /// When it was last given or withdrawn.
    pub at: String,
    pub source: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MarketingConsent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Consent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<Consent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<Consent>,
}

/// A customer of the organisation.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub lifecycle_stage: LifecycleStage,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: BTreeMap<String, Value>,
    pub marketing_consent: MarketingConsent,
    pub last_activity_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Set when the customer is soft-deleted.
    pub deleted_at: Option<String>,
}

/// A note about a customer.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerNote {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    #[schemars(with = "uuid::Uuid")]
    pub customer_id: String,
    pub body: String,
    #[schemars(with = "Option<uuid::Uuid>")]
    pub author_user_id: Option<String>,
    pub created_at: String,
}

pub fn operations() -> Vec<Operation> {
    const READ: &str = "customers:read";
    const WRITE: &str = "customers:write";
    vec![
        Operation::new::<ListCustomers, Page<Customer>>(Spec {
            name: "list_customers",
            title: "List customers",
            description: "Find customers: search text over name, email and phone, or filter by tag, lifecycle stage or \
                          days without activity. Newest first; pass nextCursor back as cursor for more. Use this to \
                          find a customer's id before get_customer or update_customer.",
            toolset: "customers",
            scope: READ,
            method: Method::Get,
            path: "/v1/customers",
            effect: Effect::Read,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<CustomerRef, Customer>(Spec {
            name: "get_customer",
            title: "Get a customer",
            description: "Return one customer by id, with tags, custom fields and marketing consent. A soft-deleted \
                          customer is returned with deletedAt set.",
            toolset: "customers",
            scope: READ,
            method: Method::Get,
            path: "/v1/customers/{customerId}",
            effect: Effect::Read,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<CreateCustomer, Customer>(Spec {
            name: "create_customer",
            title: "Create a customer",
            description: "Add a customer. Only name is required. Fails with 409 customer_email_taken when another \
                          customer has the email: search with list_customers first to avoid duplicates.",
            toolset: "customers",
            scope: WRITE,
            method: Method::Post,
            path: "/v1/customers",
            effect: Effect::Write,
            idempotent: false,
            confirm: false,
            preview: None,
            success_status: 201,
            open_world: false,
        }),
        Operation::new::<UpdateCustomer, Customer>(Spec {
            name: "update_customer",
            title: "Update a customer",
            description: "Change the fields given; fields left out stay as they are and null clears an optional one. \
                          customFields merge key by key. lifecycleStage (lead, active, vip, lapsed …) is where a \
                          customer stands, e.g. vip for \"make her a VIP\". Returns the updated customer.",
            toolset: "customers",
            scope: WRITE,
            method: Method::Patch,
            path: "/v1/customers/{customerId}",
            effect: Effect::Write,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<CustomerRef, Customer>(Spec {
            name: "delete_customer",
            title: "Delete a customer",
            description: "Soft-delete a customer: hidden from lists, kept with deletedAt, and recoverable with \
                          restore_customer. Deleting twice changes nothing.",
            toolset: "customers",
            scope: WRITE,
            method: Method::Delete,
            path: "/v1/customers/{customerId}",
            effect: Effect::Destructive,
            idempotent: true,
            confirm: true,
            preview: Some(Preview::Target("get_customer")),
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<CustomerRef, Customer>(Spec {
            name: "restore_customer",
            title: "Restore a deleted customer",
            description: "Undo delete_customer. Find deleted customers with list_customers and deleted=true. Fails \
                          with 409 customer_email_taken if another live customer now has the email.",
            toolset: "customers",
            scope: WRITE,
            method: Method::Post,
            path: "/v1/customers/{customerId}/restore",
            effect: Effect::Write,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<CustomerTags, Customer>(Spec {
            name: "add_customer_tags",
            title: "Tag a customer",
            description: "Add free-form labels to a customer (lower-cased; tags already present are ignored). Returns \
                          the customer. To make someone a VIP (\"tag her VIP\"), set lifecycleStage to vip with \
                          update_customer: the stage is what lists and reports filter on; add a vip tag only if the \
                          business also keeps one.",
            toolset: "customers",
            scope: WRITE,
            method: Method::Post,
            path: "/v1/customers/{customerId}/tags",
            effect: Effect::Write,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<CustomerTags, Customer>(Spec {
            name: "remove_customer_tags",
            title: "Untag a customer",
            description: "Remove tags from a customer; tags it does not have are ignored. Returns the customer.",
            toolset: "customers",
            scope: WRITE,
            method: Method::Delete,
            path: "/v1/customers/{customerId}/tags",
            effect: Effect::Write,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
        Operation::new::<AddCustomerNote, CustomerNote>(Spec {
            name: "add_customer_note",
            title: "Add a note to a customer",
            description: "Record a free-text note about a customer (preferences, what was discussed). Notes cannot be \
                          edited or deleted. Marks the customer as active now.",
            toolset: "customers",
            scope: WRITE,
            method: Method::Post,
            path: "/v1/customers/{customerId}/notes",
            effect: Effect::Write,
            idempotent: false,
            confirm: false,
            preview: None,
            success_status: 201,
            open_world: false,
        }),
        Operation::new::<ListCustomerNotes, Page<CustomerNote>>(Spec {
            name: "list_customer_notes",
            title: "List a customer's notes",
            description: "Read the notes kept about a customer, newest first.",
            toolset: "customers",
            scope: READ,
            method: Method::Get,
            path: "/v1/customers/{customerId}/notes",
            effect: Effect::Read,
            idempotent: true,
            confirm: false,
            preview: None,
            success_status: 200,
            open_world: false,
        }),
    ]
}
