//! Webhooks out, as the Standard Webhooks specification has them: a POST of the event
//! (`{"type", "timestamp", "data"}`) with `webhook-id` (the event's id, the same on every
//! retry, for the receiver to recognise a repeat), `webhook-timestamp` (the attempt's time, in
//! seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per
//! secret in use, space-separated), signed with the specification's own library.
//!
//! Signing secrets are derived, not stored: `whsec_` and the base64 of an HMAC of the
//! organisation, the endpoint and the secret's generation under the server's secrets key
//! ([`signing_secret`]).
//!
//! Endpoints must be on the public internet (server-side request forgery): a URL naming a
//! private, loopback or link-local address, or a host name that resolves to one, is refused,
//! both when the endpoint is registered and on every delivery (the DNS answer is checked on
//! each connection, so a name that later points inside is refused then). Development and tests
//! allow them with `FAVCRM_ALLOW_PRIVATE_WEBHOOKS`. Redirects are not followed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;

use super::SendError;
use super::secrets::Secrets;

/// What webhook signing secrets are derived for.
const SECRET_PURPOSE: &str = "webhook_secret";

/// The signing secret of an endpoint's secret generation (`whsec_…`).
pub fn signing_secret(secrets: &Secrets, org: Uuid, endpoint: Uuid, generation: i64) -> String {
    format!("whsec_{}", STANDARD.encode(secrets.derive(org, SECRET_PURPOSE, &format!("{endpoint}:{generation}"))))
}

/// Whether the public internet can reach the address (not private, loopback, link-local,
/// shared, documentation, benchmarking, multicast, reserved or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64, which reaches IPv4 addresses
                || (v6.segments()[..6] == [0, 0, 0, 0, 0, 0])) // IPv4-compatible (deprecated)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// Why an endpoint's URL is not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlProblem {
    /// Not an absolute https URL without credentials (http only where private addresses are allowed).
    Invalid(String),
    /// It names a private, loopback or otherwise internal address.
    Private(String),
}

impl UrlProblem {
    pub fn code(&self) -> &'static str {
        match self {
            UrlProblem::Invalid(_) => "invalid_url",
            UrlProblem::Private(_) => "private_address",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            UrlProblem::Invalid(m) | UrlProblem::Private(m) => m,
        }
    }
}

/// Checks an endpoint URL: https (http too when private addresses are allowed, for local
/// development), no user name or password, and, unless allowed, no internal address named
/// directly or by a name that resolves to one (a name that does not resolve now is left to the
/// check made at each delivery).
pub async fn check_url(url: &str, allow_private: bool) -> Result<reqwest::Url, UrlProblem> {
    let parsed = reqwest::Url::parse(url).map_err(|e| UrlProblem::Invalid(format!("{url} is not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(UrlProblem::Invalid("Webhook endpoints must use https.".into())),
        other => return Err(UrlProblem::Invalid(format!("{other}: webhook endpoints must use https."))),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlProblem::Invalid(
            "Put no user name or password in the URL; verify the signature instead.".into(),
        ));
    }
    if allow_private {
        return Ok(parsed);
    }
    let private = || {
        UrlProblem::Private(format!(
            "{url} points at a private or internal address; webhook endpoints must be reachable on the public internet."
        ))
    };
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => return Err(private()),
        Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => return Err(private()),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || [".localhost", ".local", ".internal"].iter().any(|s| name.ends_with(s)) {
                return Err(private());
            }
            if let Ok(addrs) = tokio::net::lookup_host((name.as_str(), 443)).await
                && addrs.into_iter().any(|a| !is_public(a.ip()))
            {
                return Err(private());
            }
        }
        None => return Err(UrlProblem::Invalid(format!("{url} has no host"))),
        _ => {}
    }
    Ok(parsed)
}

/// Resolves host names for webhook calls, refusing any that resolve to an internal address.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.iter().any(|a| !is_public(a.ip())) {
                return Err(format!("{host} resolves to a private or internal address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Posts signed events.
#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    allow_private: bool,
}

impl WebhookClient {
    pub fn new(allow_private: bool, timeout: Duration) -> Self {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("favcrm-webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Self { http: builder.build().expect("an HTTP client"), allow_private }
    }

    /// Posts `body` to `url` as message `id`, signed at `timestamp` with each of `secrets`;
    /// the status of a 2xx answer.
    pub async fn send(
        &self,
        url: &str,
        id: &str,
        timestamp: i64,
        body: &str,
        secrets: &[String],
    ) -> Result<u16, SendError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| SendError::Refused(format!("not a URL: {e}")))?;
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if !self.allow_private && literal.is_some_and(|ip| !is_public(ip)) {
            return Err(SendError::Refused("the URL names a private or internal address".into()));
        }
        let mut signatures = Vec::new();
        for secret in secrets {
            let signer = standardwebhooks::Webhook::new(secret).map_err(|e| SendError::Refused(e.to_string()))?;
            signatures
                .push(signer.sign(id, timestamp, body.as_bytes()).map_err(|e| SendError::Refused(e.to_string()))?);
        }
        let answer = self
            .http
            .post(parsed)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, id)
            .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string())
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signatures.join(" "))
            .body(body.to_string())
            .send()
            .await;
        let res = match answer {
            Ok(res) => res,
            Err(e) => {
                let error = e.without_url();
                // The resolver's refusal is in the error's sources.
                let mut source: Option<&dyn std::error::Error> = Some(&error);
                while let Some(s) = source {
                    if s.to_string().contains("private or internal address") {
                        return Err(SendError::Refused(s.to_string()));
                    }
                    source = s.source();
                }
                return Err(SendError::failed(None, format!("{error:#}"), None));
            }
        };
        let status = res.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let retry_after = super::retry_after(res.headers());
        let text = res.text().await.unwrap_or_default();
        let snippet: String = text.chars().take(200).collect();
        let tail = if snippet.is_empty() { String::new() } else { format!(": {snippet}") };
        Err(SendError::failed(Some(status.as_u16()), format!("the endpoint answered {status}{tail}"), retry_after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn endpoint_urls_must_be_public_https_without_credentials() {
        let refused = |url: &'static str| async move { check_url(url, false).await.unwrap_err() };
        assert_eq!(refused("http://example.com/hook").await.code(), "invalid_url");
        assert_eq!(refused("https://user:pw@example.com/hook").await.code(), "invalid_url");
        assert_eq!(refused("ftp://example.com").await.code(), "invalid_url");
        for url in [
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://10.0.0.8/x",
            "https://localhost:8080/x",
            "https://db.internal/x",
            "https://169.254.169.254/latest/meta-data",
        ] {
            assert_eq!(check_url(url, false).await.unwrap_err().code(), "private_address", "{url}");
        }
        assert!(check_url("https://93.184.216.34/hook", false).await.is_ok());
        // Development and tests: loopback over http.
        assert!(check_url("http://127.0.0.1:9000/hook", true).await.is_ok());
    }

    #[test]
    fn a_secret_is_the_same_for_the_same_endpoint_and_generation_only() {
        let dir = std::env::temp_dir().join(format!("favcrm-whsec-{}", Uuid::new_v4().simple()));
        let secrets = Secrets::load(None, &dir).unwrap();
        let (org, endpoint) = (Uuid::new_v4(), Uuid::new_v4());
        let one = signing_secret(&secrets, org, endpoint, 1);
        assert!(one.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&one["whsec_".len()..]).unwrap().len(), 32);
        assert_eq!(one, signing_secret(&secrets, org, endpoint, 1));
        assert_ne!(one, signing_secret(&secrets, org, endpoint, 2));
        assert_ne!(one, signing_secret(&secrets, org, Uuid::new_v4(), 1));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
