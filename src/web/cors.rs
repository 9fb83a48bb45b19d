//! CORS for web pages: a page calls a few operations with its publishable key (`fav_pk_…`)
//! from the visitor's browser. The key and the page's origin are checked by the database
//! (`auth.publishable_call`); this answers browsers' preflights and lets the page read answers.

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE,
    HeaderValue, ORIGIN, VARY,
};

pub use crate::catalog::WEB_OPERATIONS;

/// Lets the calling page read the answer (errors included, so that it can show them).
pub fn with_cors(mut response: HttpResponse, origin: Option<&str>) -> HttpResponse {
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        response.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        response.headers_mut().insert(VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// `OPTIONS` before a browser's call with a publishable key. The key and the origin are checked
/// on the call itself.
pub async fn preflight(req: HttpRequest) -> HttpResponse {
    let Some(origin) = req.headers().get(ORIGIN).cloned() else {
        return HttpResponse::NoContent().finish();
    };
    HttpResponse::NoContent()
        .insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, origin))
        .insert_header((ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
        .insert_header((ACCESS_CONTROL_ALLOW_HEADERS, "authorization, content-type"))
        .insert_header((ACCESS_CONTROL_MAX_AGE, "600"))
        .insert_header((VARY, "Origin"))
        .finish()
}
