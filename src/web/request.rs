//! What every HTTP request shares, read from its headers and body: the caller named by
//! `Authorization`, the client address the abuse limits count against, the request id, and
//! the body (at most [`MAX_BODY_BYTES`]).

use std::net::IpAddr;

use actix_web::http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use actix_web::web;
use futures_util::StreamExt;

use crate::db::tx::Caller;
use crate::error::ApiError;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The id of the request, from a sane incoming `X-Request-Id` or a new UUID.
#[derive(Clone)]
pub struct RequestId(pub String);

/// The caller named by `Authorization: Bearer <key>`: the one parser REST, MCP and the rate
/// limiter share. A missing or malformed header is a 401.
/// `resource` names what the request is for, asked only when the token is an OAuth access
/// token (the database accepts one only for its resource).
pub fn caller(headers: &HeaderMap, resource: impl FnOnce() -> String) -> Result<Caller, ApiError> {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "missing_api_key",
            "Send an API key as Authorization: Bearer fav_mcp_…, or an OAuth access token (see \
             /.well-known/oauth-protected-resource).",
        ));
    };
    match bearer_token(header) {
        Some(key) if !key.is_empty() && key.len() <= 256 => Ok(Caller::from_bearer(key, resource)),
        _ => Err(ApiError::unauthorized("invalid_authorization", "The Authorization header must be Bearer <API key>.")),
    }
}

/// The token of an `Authorization: Bearer <token>` header value.
fn bearer_token(header: &HeaderValue) -> Option<&str> {
    let value = header.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim)
}

/// A publishable key (`fav_pk_…`, a web page) presented as the bearer token, if that is what
/// the request carries: those go to `auth.publishable_call`, not to key authentication.
pub fn publishable_key(headers: &HeaderMap) -> Option<&str> {
    let key = bearer_token(headers.get(AUTHORIZATION)?)?;
    (key.starts_with("fav_pk_") && key.len() <= 256).then_some(key)
}

/// The address a request came from: the TCP peer, or — when the peer is a trusted proxy —
/// the last address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = headers.get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    forwarded
        .split(',')
        .rev()
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted_proxies.contains(ip))
        .or(Some(peer))
}

/// A request body of at most [`MAX_BODY_BYTES`] (413 past it, whatever Content-Length said);
/// REST and `/mcp` read bodies through this.
pub async fn read_limited<S>(declared: Option<usize>, mut body: S) -> Result<web::BytesMut, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let too_large = || {
        ApiError::new(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The body is larger than {MAX_BODY_BYTES} bytes."),
        )
    };
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::new(http::StatusCode::BAD_REQUEST, "unreadable_body", e.to_string()))?;
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The `Content-Length` a request declared, if it is a number.
pub fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(
            actix_web::http::header::HeaderName::from_static("x-forwarded-for"),
            "198.51.100.7, 203.0.113.9".parse().unwrap(),
        );
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(client_ip(Some(peer), &headers, &[proxy]), Some(peer));
        assert_eq!(client_ip(Some(proxy), &headers, &[proxy]), Some("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn a_bearer_key_is_read_and_a_publishable_key_is_told_apart() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, "Bearer fav_pk_abc".parse().unwrap());
        assert_eq!(publishable_key(&headers), Some("fav_pk_abc"));
        assert!(matches!(caller(&headers, String::new), Ok(Caller::Key { .. })));
        headers.insert(AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(caller(&headers, String::new).unwrap_err().code, "invalid_authorization");
        assert_eq!(caller(&HeaderMap::new(), String::new).unwrap_err().code, "missing_api_key");
    }
}
