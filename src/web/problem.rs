//! An [`ApiError`] as an HTTP answer: an RFC 9457 problem body with its status and headers.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error::ApiError;

/// The actix status of a status the rest of the crate holds as an `http` 1.x one.
pub fn status(status: http::StatusCode) -> StatusCode {
    StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status(self.status)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        for (name, value) in &self.headers {
            response.insert_header((*name, value.as_str()));
        }
        response.body(self.body(None).to_string())
    }
}
