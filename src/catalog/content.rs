//! Content: posts and pages of the organisation's site, made of typed blocks, drafts until
//! published (now or at a time), read by web pages with a publishable key once live. Toolset
//! `content`; scopes `content:read` (every role) and `content:write` (managers and above).
//! The rules are at the top of `sql/operations/content.sql`.
#![allow(dead_code)] // Input fields are read by serde to check shape; SQL reads the values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::{Cursor, Id, Int, Limit, Text, Timestamp};
use super::{Effect, Method, Operation, Page, Spec};

const READ: &str = "content:read";
const WRITE: &str = "content:write";

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostKind {
    /// A dated article (a blog post, news).
    Post,
    /// A page of the site (about, prices, FAQ).
    Page,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    Draft,
    /// Published for a later time: it goes live then.
    Scheduled,
    /// Live.
    Published,
}

/// A question and its answer in an FAQ block.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaqItem {
    pub question: Text<1, 300>,
    pub answer: Text<1, 5000>,
}

/// One block of a post or page, by its `type`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum Block {
    /// A heading; level 1 to 3 (default 2).
    Heading { text: Text<1, 200>, level: Option<Int<1, 3>> },
    /// A paragraph of plain text (line breaks kept).
    Text { text: Text<1, 20000> },
    /// An image at an https address, with a text alternative for people who cannot see it.
    Image { url: Text<9, 2000>, alt: Option<Text<0, 300>> },
    /// The organisation's services (these, in this order; every active one when left out),
    /// for the site to show with list_services.
    ServiceList { title: Option<Text<1, 200>>, service_ids: Option<Vec<Id>> },
    /// A button that starts a booking (of this service, when given).
    BookingButton { label: Option<Text<1, 60>>, service_id: Option<Id> },
    /// Questions and answers.
    Faq { items: Vec<FaqItem> },
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePost {
    /// post (default) or page.
    pub kind: Option<PostKind>,
    pub title: Text<1, 200>,
    /// Lower-case letters, digits and single hyphens, unique in the organisation; made from the
    /// title when left out.
    pub slug: Option<Slug>,
    pub excerpt: Option<Text<0, 500>>,
    pub blocks: Option<Vec<Block>>,
}

/// A slug: lower-case ASCII letters and digits joined by single hyphens (`spring-offers`).
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transparent)]
pub struct Slug(#[schemars(regex(pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$"), length(min = 1, max = 100))] pub String);

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdatePost {
    pub post_id: Id,
    pub title: Option<Text<1, 200>>,
    pub slug: Option<Slug>,
    pub excerpt: Option<Text<0, 500>>,
    /// The whole list of blocks, replacing the old one.
    pub blocks: Option<Vec<Block>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublishPost {
    pub post_id: Id,
    /// When it goes live (RFC 3339); now when left out. A later time schedules it.
    pub publish_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PostRef {
    pub post_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GetPost {
    /// The post's id, or its slug (a site finds its pages by slug).
    pub post_id: Text<1, 100>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListPosts {
    pub kind: Option<PostKind>,
    pub status: Option<PostStatus>,
    pub limit: Option<Limit>,
    pub cursor: Option<Cursor>,
}

/// A post or page.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Post {
    #[schemars(with = "uuid::Uuid")]
    pub id: String,
    pub kind: PostKind,
    pub slug: String,
    pub title: String,
    pub excerpt: Option<String>,
    pub blocks: Vec<Block>,
    pub status: PostStatus,
    /// When it went (or goes) live; null for a draft.
    pub published_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

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
        "content",
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
    use Method::{Get, Patch, Post as PostMethod};
    vec![
        Operation::new::<CreatePost, Post>(spec(
            "create_post",
            "Write a post or page",
            "Writes a draft post (kind post) or page (kind page) of the organisation's site: a title, a slug \
             unique in the organisation (made from the title unless given), an excerpt and blocks — heading, \
             text, image (https url, alt), service_list (serviceIds, or every active service), booking_button \
             (serviceId, label), faq (items of question and answer). Nothing is on the site until publish_post. \
             Managers and above.",
            PostMethod,
            "/v1/posts",
            Write,
            false,
            201,
        )),
        Operation::new::<UpdatePost, Post>(spec(
            "update_post",
            "Change a post or page",
            "Changes a post's or page's title, slug, excerpt or blocks (blocks: the whole new list). A \
             published one shows the change at once. Managers and above.",
            Patch,
            "/v1/posts/{postId}",
            Write,
            true,
            200,
        )),
        Operation::new::<PublishPost, Post>(spec(
            "publish_post",
            "Publish a post or page",
            "Puts a post or page on the site now, or at publishAt (status scheduled until then: it goes live at \
             that time by itself). Publishing a live one again changes nothing. Web pages with a publishable key \
             see only what is live. Managers and above.",
            PostMethod,
            "/v1/posts/{postId}/publish",
            Write,
            true,
            200,
        )),
        Operation::new::<PostRef, Post>(spec(
            "unpublish_post",
            "Unpublish a post or page",
            "Takes a post or page off the site, or cancels its scheduled publication: it is a draft again, \
             kept with its blocks. Managers and above.",
            PostMethod,
            "/v1/posts/{postId}/unpublish",
            Write,
            true,
            200,
        )),
        Operation::new::<ListPosts, Page<Post>>(spec(
            "list_posts",
            "List posts and pages",
            "The organisation's posts and pages, newest first, by kind (post, page) and status (draft, \
             scheduled, published). With a publishable key (a web page): {items} of the live ones only, the \
             latest published first.",
            Get,
            "/v1/posts",
            Read,
            true,
            200,
        )),
        Operation::new::<GetPost, Post>(spec(
            "get_post",
            "Get a post or page",
            "One post or page by its id or its slug (postId takes either). With a publishable key (a web page): \
             only a live one; a draft or scheduled one is not found.",
            Get,
            "/v1/posts/{postId}",
            Read,
            true,
            200,
        )),
    ]
}
