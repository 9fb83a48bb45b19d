//! The limiters (governor, GCRA), kept in memory per server process: the per-key request budget
//! ([`KeyBudget`], applied to every HTTP request by `crate::web::ratelimit`), the tighter budget
//! of sensitive operations ([`SensitiveBudget`]) and the limits on the flows anyone can start
//! without a key ([`AbuseLimits`]), both applied on the call path. Limits that must hold across
//! several servers are kept in the database as well.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};

use crate::error::ApiError;

type Limiter = RateLimiter<
    [u8; 32],
    governor::state::keyed::DefaultKeyedStateStore<[u8; 32]>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// How often (in checks) keys idle long enough to be full again are forgotten.
const PRUNE_EVERY: u64 = 4096;

pub struct KeyBudget {
    limiter: Limiter,
    per_minute: u32,
    checks: AtomicU64,
}

/// What a request learns about its key's budget.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the budget is full again.
    pub reset_seconds: u64,
}

/// A refused request: when to come back.
#[derive(Debug, Clone, Copy)]
pub struct Exceeded {
    pub limit: u32,
    pub retry_after_seconds: u64,
}

impl KeyBudget {
    /// `per_minute` requests a minute per key, all of which may come at once. None when 0.
    pub fn per_minute(per_minute: u32) -> Option<Self> {
        let n = NonZeroU32::new(per_minute)?;
        let limiter = RateLimiter::<[u8; 32], _, DefaultClock>::keyed(Quota::per_minute(n))
            .with_middleware::<StateInformationMiddleware>();
        Some(Self { limiter, per_minute, checks: AtomicU64::new(0) })
    }

    /// Counts one request for the key with this SHA-256 digest.
    pub fn check(&self, digest: &[u8; 32]) -> Result<Budget, Exceeded> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
        }
        let per_cell = Duration::from_secs(60) / self.per_minute;
        match self.limiter.check_key(digest) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = self.per_minute.saturating_sub(remaining);
                Ok(Budget {
                    limit: self.per_minute,
                    remaining,
                    reset_seconds: (per_cell * used).as_secs_f64().ceil() as u64,
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Err(Exceeded { limit: self.per_minute, retry_after_seconds: wait.as_secs_f64().ceil().max(1.0) as u64 })
            }
        }
    }
}

/// A keyed GCRA limiter over text keys (client addresses, email addresses): `count` events
/// per `period`, all of which may come at once.
pub struct Throttle {
    limiter: RateLimiter<String, governor::state::keyed::DefaultKeyedStateStore<String>, DefaultClock>,
    count: u32,
    per: &'static str,
    checks: AtomicU64,
}

impl Throttle {
    /// None when `count` is 0 (the limit is off).
    pub fn new(count: u32, period: Duration, per: &'static str) -> Option<Self> {
        let n = NonZeroU32::new(count)?;
        let quota = Quota::with_period(period / count)?.allow_burst(n);
        Some(Self { limiter: RateLimiter::keyed(quota), count, per, checks: AtomicU64::new(0) })
    }

    /// Counts one event for `key`; over the limit, how many seconds until the next is allowed.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&key.to_string()).map_err(|not_until| {
            not_until.wait_time_from(self.limiter.clock().now()).as_secs_f64().ceil().max(1.0) as u64
        })
    }
}

/// The tighter budget of sensitive operations (sending email, minting, rotating and revoking
/// keys) per key, on top of the general one.
pub struct SensitiveBudget {
    throttle: Throttle,
}

impl SensitiveBudget {
    /// None when 0.
    pub fn per_hour(count: u32) -> Option<Self> {
        Throttle::new(count, HOUR, "an hour with this key").map(|throttle| Self { throttle })
    }

    pub fn check(&self, digest: &[u8; 32]) -> Result<(), ApiError> {
        check(Some(&self.throttle), &hex::encode(digest), "sensitive operations (emails, keys)")
    }
}

/// The limits on the flows anyone can start without a key, counted per server process (the
/// database keeps the hard bounds that hold across processes and restarts).
#[derive(Debug, Clone)]
pub struct AbuseSettings {
    /// Code emails (registration and invitation codes) per client address an hour.
    pub code_emails_per_ip_per_hour: u32,
    /// Code emails per client address a day.
    pub code_emails_per_ip_per_day: u32,
    /// Registration requests per email address an hour.
    pub signups_per_email_per_hour: u32,
    /// Code checks (registration and invitation) per client address an hour.
    pub code_checks_per_ip_per_hour: u32,
    /// Requests with a publishable key (web pages) per visitor address a minute.
    pub web_requests_per_ip_per_minute: u32,
    /// Bookings made with a publishable key per visitor address an hour.
    pub web_bookings_per_ip_per_hour: u32,
    /// OAuth client registrations (RFC 7591) per client address an hour (kept in the database).
    pub client_registrations_per_ip_per_hour: u32,
}

impl Default for AbuseSettings {
    fn default() -> Self {
        Self {
            code_emails_per_ip_per_hour: 3,
            code_emails_per_ip_per_day: 20,
            signups_per_email_per_hour: 3,
            code_checks_per_ip_per_hour: 30,
            web_requests_per_ip_per_minute: 120,
            web_bookings_per_ip_per_hour: 10,
            client_registrations_per_ip_per_hour: 20,
        }
    }
}

pub struct AbuseLimits {
    pub settings: AbuseSettings,
    emails_per_ip_hour: Option<Throttle>,
    emails_per_ip_day: Option<Throttle>,
    signups_per_email_hour: Option<Throttle>,
    checks_per_ip_hour: Option<Throttle>,
    web_requests_per_ip_minute: Option<Throttle>,
    web_bookings_per_ip_hour: Option<Throttle>,
}

const HOUR: Duration = Duration::from_secs(3600);

impl AbuseLimits {
    pub fn new(settings: AbuseSettings) -> Self {
        Self {
            emails_per_ip_hour: Throttle::new(settings.code_emails_per_ip_per_hour, HOUR, "an hour from this address"),
            emails_per_ip_day: Throttle::new(settings.code_emails_per_ip_per_day, HOUR * 24, "a day from this address"),
            signups_per_email_hour: Throttle::new(settings.signups_per_email_per_hour, HOUR, "an hour for this email"),
            checks_per_ip_hour: Throttle::new(settings.code_checks_per_ip_per_hour, HOUR, "an hour from this address"),
            web_requests_per_ip_minute: Throttle::new(
                settings.web_requests_per_ip_per_minute,
                Duration::from_secs(60),
                "a minute from this address",
            ),
            web_bookings_per_ip_hour: Throttle::new(
                settings.web_bookings_per_ip_per_hour,
                HOUR,
                "an hour from this address",
            ),
            settings,
        }
    }

    /// Before mailing a code (registration or invitation) to someone.
    pub fn code_email(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
        check(self.emails_per_ip_hour.as_ref(), &ip, "code emails")?;
        check(self.emails_per_ip_day.as_ref(), &ip, "code emails")
    }

    /// Before a registration request for `email`.
    pub fn signup_email(&self, email: &str) -> Result<(), ApiError> {
        check(self.signups_per_email_hour.as_ref(), email, "registration requests")
    }

    /// Before a web page's request with a publishable key; bookings count twice over.
    pub fn web_request(&self, ip: Option<IpAddr>, booking: bool) -> Result<(), ApiError> {
        let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
        check(self.web_requests_per_ip_minute.as_ref(), &ip, "requests with a publishable key")?;
        if booking {
            check(self.web_bookings_per_ip_hour.as_ref(), &ip, "bookings from a web page")?;
        }
        Ok(())
    }

    /// Before checking a code.
    pub fn code_check(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        check(self.checks_per_ip_hour.as_ref(), &ip.map(|ip| ip.to_string()).unwrap_or_default(), "code checks")
    }
}

fn check(throttle: Option<&Throttle>, key: &str, what: &str) -> Result<(), ApiError> {
    let Some(throttle) = throttle else { return Ok(()) };
    throttle.check(key).map_err(|seconds| {
        ApiError::rate_limited(
            format!(
                "More than {} {what} {}; retry after {seconds} s. Do not retry in a loop: tell the person to wait.",
                throttle.count, throttle.per
            ),
            seconds,
        )
    })
}
