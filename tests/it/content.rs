//! Content: posts and pages of typed blocks, slugs, drafts, publishing now or at a time, and
//! web pages (publishable keys) that see only what is live.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Org, TestApp};

async fn service(app: &TestApp, org: &Org) -> String {
    let res = app
        .post(&org.key, "/v1/services", json!({"name": "Facial", "durationMinutes": 60, "price": {"amount": 5000}}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body["id"].as_str().unwrap().to_string()
}

fn blocks(service: &str) -> Value {
    json!([
        {"type": "heading", "text": "Spring at Glow", "level": 1},
        {"type": "text", "text": "Fresh treatments,\nfresh faces."},
        {"type": "image", "url": "https://cdn.glow.example/spring.jpg", "alt": "The salon in spring"},
        {"type": "service_list", "title": "Book a treatment", "serviceIds": [service]},
        {"type": "booking_button", "label": "Book now", "serviceId": service},
        {"type": "faq", "items": [{"question": "Do you take walk-ins?", "answer": "Weekdays before noon."}]}
    ])
}

async fn web(app: &TestApp, pk: &str, path: &str) -> crate::common::Res {
    app.call_with(Some(pk), Method::GET, path, None, &[("Origin", "https://glow.example")]).await
}

#[tokio::test]
async fn a_page_of_typed_blocks_is_a_draft_until_published_and_web_pages_see_only_what_is_live() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let facial = service(&app, &org).await;
    let res = app
        .post(&org.key, "/v1/posts", json!({"kind": "page", "title": "Spring offers!", "blocks": blocks(&facial)}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let page = res.body.clone();
    let id = page["id"].as_str().unwrap().to_string();
    assert_eq!((page["slug"].as_str(), page["status"].as_str()), (Some("spring-offers"), Some("draft")), "{page}");
    assert_eq!(page["blocks"], blocks(&facial), "the blocks as written");
    assert_eq!(page["publishedAt"], Value::Null);

    let created = app
        .post(&org.key, "/v1/publishable-keys", json!({"name": "Site", "allowedOrigins": ["https://glow.example"]}))
        .await;
    let pk = created.body["publishableKey"].as_str().unwrap().to_string();
    // A draft is nowhere on the site, by id or by slug.
    assert_eq!(web(&app, &pk, "/v1/posts").await.body["items"], json!([]));
    let res = web(&app, &pk, "/v1/posts/spring-offers").await;
    assert_eq!((res.status, res.code()), (StatusCode::NOT_FOUND, "not_found"), "{}", res.body);
    assert_eq!(web(&app, &pk, &format!("/v1/posts/{id}")).await.status, StatusCode::NOT_FOUND);
    // Members see it by slug.
    let res = app.get(&org.key, "/v1/posts/spring-offers").await;
    assert_eq!(res.body["id"], id.as_str());

    // Published: live, the same on the site; publishing again changes nothing.
    let res = app.post(&org.key, &format!("/v1/posts/{id}/publish"), json!({})).await;
    assert_eq!((res.status, res.body["status"].as_str()), (StatusCode::OK, Some("published")), "{}", res.body);
    let published_at = res.body["publishedAt"].clone();
    let again = app.post(&org.key, &format!("/v1/posts/{id}/publish"), json!({})).await;
    assert_eq!(again.body["publishedAt"], published_at);
    let res = web(&app, &pk, "/v1/posts/spring-offers").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.headers["access-control-allow-origin"], "https://glow.example");
    assert_eq!(res.body["blocks"], blocks(&facial));
    let listed = web(&app, &pk, "/v1/posts?kind=page").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "{}", listed.body);
    // A browser asks first whether it may send the key.
    let preflight = app
        .http
        .request(Method::OPTIONS, format!("{}/v1/posts", app.base))
        .header("Origin", "https://glow.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());

    // Scheduled for a later time: off the site until then; unpublished: a draft again.
    // A fixed time far ahead (never today's clock): scheduled whatever day the test runs.
    let res =
        app.post(&org.key, &format!("/v1/posts/{id}/publish"), json!({"publishAt": "2099-03-31T09:00:00Z"})).await;
    assert_eq!(res.body["status"], "scheduled", "{}", res.body);
    assert_eq!(web(&app, &pk, "/v1/posts/spring-offers").await.status, StatusCode::NOT_FOUND);
    let res = app.get(&org.key, "/v1/posts?status=scheduled").await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 1, "{}", res.body);
    // Its time comes (moved back here, as the clock would move on): live, with no job run.
    app.admin()
        .await
        .batch_execute(&format!(
            "set session_replication_role = replica;
             update app.posts set published_at = now() - interval '1 minute' where id = '{id}'"
        ))
        .await
        .unwrap();
    assert_eq!(web(&app, &pk, "/v1/posts/spring-offers").await.status, StatusCode::OK);
    let res = app.post(&org.key, &format!("/v1/posts/{id}/unpublish"), json!({})).await;
    assert_eq!((res.body["status"].as_str(), &res.body["publishedAt"]), (Some("draft"), &Value::Null));
    assert_eq!(web(&app, &pk, "/v1/posts").await.body["items"], json!([]));
    // A web page writes nothing.
    let res = app
        .call_with(
            Some(&pk),
            Method::POST,
            "/v1/posts",
            Some(json!({"title": "Spam"})),
            &[("Origin", "https://glow.example")],
        )
        .await;
    assert_eq!((res.status, res.code()), (StatusCode::FORBIDDEN, "not_allowed_for_publishable_key"), "{}", res.body);
}

#[tokio::test]
async fn slugs_are_unique_in_the_organisation_and_bad_blocks_are_refused_with_the_field_at_fault() {
    let app = TestApp::spawn().await;
    let org = app.create_org("Glow").await;
    let other = app.create_org("Elsewhere").await;
    let res = app.post(&org.key, "/v1/posts", json!({"title": "Prices", "kind": "page"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let first = res.body["id"].as_str().unwrap().to_string();
    // The same slug: taken in this organisation (a post or a page), free in another.
    let res = app.post(&org.key, "/v1/posts", json!({"title": "Prices"})).await;
    assert_eq!(
        (res.status, res.field(), res.field_code()),
        (StatusCode::CONFLICT, "slug", "slug_taken"),
        "{}",
        res.body
    );
    let res = app.post(&other.key, "/v1/posts", json!({"title": "Prices"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = app.post(&org.key, "/v1/posts", json!({"title": "Prices", "slug": "prices-2025"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let second = res.body["id"].as_str().unwrap().to_string();
    let res = app.patch(&org.key, &format!("/v1/posts/{second}"), json!({"slug": "prices"})).await;
    assert_eq!((res.status, res.field_code()), (StatusCode::CONFLICT, "slug_taken"), "{}", res.body);
    // A title with nothing to make a slug of needs one.
    let res = app.post(&org.key, "/v1/posts", json!({"title": "価格"})).await;
    assert_eq!(
        (res.status, res.field(), res.field_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "slug", "slug_required")
    );
    let res = app.post(&org.key, "/v1/posts", json!({"title": "価格", "slug": "kakaku"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    // Shapes the schema refuses, and what only the database knows.
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let bad = [
        (json!([{"type": "video", "url": "https://x.example/v.mp4"}]), unprocessable, "blocks"),
        (json!([{"type": "heading", "text": "Hi", "level": 4}]), unprocessable, "blocks"),
        (json!([{"type": "image", "url": "http://insecure.example/a.jpg"}]), unprocessable, "blocks.0.url"),
        (
            json!([{"type": "text", "text": "ok"}, {"type": "service_list", "serviceIds": [uuid::Uuid::now_v7()]}]),
            StatusCode::NOT_FOUND,
            "blocks.1.serviceIds[0]",
        ),
    ];
    for (blocks, status, field) in bad {
        let res = app.patch(&org.key, &format!("/v1/posts/{first}"), json!({"blocks": blocks})).await;
        assert_eq!(res.status, status, "{blocks}: {}", res.body);
        assert!(res.field().starts_with(field), "{blocks}: {} is not {field}", res.body);
    }
    let res = app.post(&org.key, "/v1/posts", json!({"title": "Bad slug", "slug": "Not A Slug"})).await;
    assert_eq!((res.status, res.field()), (StatusCode::UNPROCESSABLE_ENTITY, "slug"), "{}", res.body);
    // Nothing was changed by the refusals.
    assert_eq!(app.get(&org.key, &format!("/v1/posts/{first}")).await.body["blocks"], json!([]));
    // Staff read content but do not write it; another organisation sees none of it.
    let (_, staff) = app.add_member(&org, "staff", None).await;
    assert_eq!(app.get(&staff, "/v1/posts").await.body["items"].as_array().unwrap().len(), 3);
    let res = app.post(&staff, "/v1/posts", json!({"title": "Mine"})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let res = app.post(&staff, &format!("/v1/posts/{first}/publish"), json!({})).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(app.get(&other.key, &format!("/v1/posts/{first}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&other.key, "/v1/posts").await.body["items"].as_array().unwrap().len(), 1);
}

/// A published page of the organisation's (for the samples of every operation).
pub async fn content_fixture(app: &TestApp, org: &Org) -> String {
    let res = app.post(&org.key, "/v1/posts", json!({"kind": "page", "title": "About us"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let id = res.body["id"].as_str().unwrap().to_string();
    let res = app.post(&org.key, &format!("/v1/posts/{id}/publish"), json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    id
}

pub fn content_sample(op: &str, post: &str) -> Option<Value> {
    Some(match op {
        "create_post" => json!({"title": "Hello world", "blocks": [{"type": "text", "text": "Hi"}]}),
        "update_post" => json!({"postId": post, "title": "About"}),
        "publish_post" | "unpublish_post" | "get_post" => json!({"postId": post}),
        "list_posts" => json!({"kind": "page"}),
        _ => return None,
    })
}
