//! The per-key request budget on HTTP: every request that presents a bearer key is counted
//! against that key's [`KeyBudget`] before anything else happens. Answers carry
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; over the budget, 429 with
//! `Retry-After` (REST: a problem body; MCP: a JSON-RPC error with the same data).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};

use super::WebState;
use super::request::{caller, publishable_key};
use crate::db::tx::Caller;
use crate::error::ApiError;

/// Middleware: counts requests that present a bearer key; adds the RateLimit headers or
/// answers 429.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let budget = req.app_data::<web::Data<WebState>>().and_then(|s| s.key_budget.clone());
    // Publishable keys are shared by every visitor of a web page: they are counted per visitor
    // address instead (see AbuseLimits::web_request).
    let publishable = publishable_key(req.headers()).is_some();
    let digest = match caller(req.headers(), String::new) {
        Ok(Caller::Key { digest, .. }) if !publishable => Some(digest),
        _ => None,
    };
    let (Some(budget), Some(digest)) = (budget, digest) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    match budget.check(&digest) {
        Ok(state) => {
            let mut res = next.call(req).await?.map_into_boxed_body();
            for (name, value) in [
                ("ratelimit-limit", state.limit as u64),
                ("ratelimit-remaining", state.remaining as u64),
                ("ratelimit-reset", state.reset_seconds),
            ] {
                res.headers_mut().insert(HeaderName::from_static(name), HeaderValue::from(value));
            }
            Ok(res)
        }
        Err(exceeded) => {
            let detail = format!(
                "This key made more than {} requests a minute; retry after {} s.",
                exceeded.limit, exceeded.retry_after_seconds
            );
            let error = ApiError::rate_limited(detail.clone(), exceeded.retry_after_seconds)
                .header("RateLimit-Limit", exceeded.limit.to_string())
                .header("RateLimit-Remaining", "0")
                .header("RateLimit-Reset", exceeded.retry_after_seconds.to_string());
            let mut response = error.error_response();
            if req.path().starts_with("/mcp") {
                // MCP clients read JSON-RPC: the same data as an error object.
                let body = serde_json::json!({
                    "jsonrpc": "2.0",
                    "id": null,
                    "error": { "code": -32000, "message": detail, "data": error.body(None) }
                });
                let mut builder = HttpResponse::TooManyRequests();
                for (name, value) in &error.headers {
                    builder.insert_header((*name, value.as_str()));
                }
                response = builder.json(body);
            }
            Ok(req.into_response(response))
        }
    }
}
