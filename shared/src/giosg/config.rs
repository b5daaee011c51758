//! How to reach Giosg and how patient to be with it: the client's configuration, from the
//! deployment's [`Settings`] or built by hand (tests, the local runner).

use std::time::Duration;

use url::Url;

use super::error::GiosgError;
use crate::config::Settings;
use crate::domain::{OrgId, RoomId};
use crate::secret::Secret;

/// How to reach Giosg, and how patient to be with it.
#[derive(Clone, Debug)]
pub struct GiosgConfig {
    /// `https://service.giosg.com` in production; the simulator's address in tests.
    pub base_url: Url,
    pub org_id: OrgId,
    pub room_id: RoomId,
    /// The organization API token (`Authorization: Token …`).
    pub api_token: Secret,
    /// Longest time one attempt may take, from connecting to the end of the body.
    pub request_timeout: Duration,
    /// Longest time to establish a TCP connection.
    pub connect_timeout: Duration,
    /// Longest time one call may take across all its attempts and the waits between them.
    pub retry_budget: Duration,
    /// Most attempts per call (the first one included).
    pub max_attempts: u32,
    /// Upper bound of the first backoff; doubles per attempt (full jitter).
    pub backoff_base: Duration,
    /// Upper bound of any backoff.
    pub backoff_max: Duration,
    /// Most pages followed when reading a paginated collection.
    pub max_pages: u32,
    /// `presence_expires_in` sent when joining the room; Giosg's default when `None`.
    pub presence_expires_in: Option<Duration>,
}

impl GiosgConfig {
    /// A configuration with the default timeouts: 3 s per attempt, 8 s per call, 4 attempts,
    /// backoff from 100 ms up to 2 s.
    pub fn new(base_url: Url, org_id: OrgId, room_id: RoomId, api_token: Secret) -> Self {
        Self {
            base_url,
            org_id,
            room_id,
            api_token,
            request_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(1),
            retry_budget: Duration::from_secs(8),
            max_attempts: 4,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            max_pages: 100,
            presence_expires_in: None,
        }
    }

    pub(super) fn validate(&self) -> Result<(), GiosgError> {
        let fail = |what: &str| Err(GiosgError::Config(what.to_owned()));
        if !matches!(self.base_url.scheme(), "http" | "https") || self.base_url.host().is_none() {
            return fail("the Giosg base URL must be an http(s) URL with a host");
        }
        if self.base_url.query().is_some() || !self.base_url.username().is_empty() {
            return fail("the Giosg base URL must not carry a query or credentials");
        }
        if self.org_id.as_str().is_empty() || self.room_id.as_str().is_empty() {
            return fail("the Giosg organization id and room id must not be empty");
        }
        if self.api_token.expose().is_empty() {
            return fail("the Giosg API token must not be empty");
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return fail("the Giosg request and connect timeouts must be positive");
        }
        if self.retry_budget.is_zero() || self.max_attempts == 0 || self.max_pages == 0 {
            return fail("the Giosg retry budget, attempts and page cap must be positive");
        }
        Ok(())
    }
}

impl GiosgConfig {
    /// The configuration `settings` describe, with `api_token` (from the secrets) and the
    /// client's default timeouts. The one place the functions, the local runner and the
    /// benchmarks build it.
    pub fn from_settings(settings: &Settings, api_token: Secret) -> Self {
        Self::new(
            settings.giosg_base_url.clone(),
            settings.org_id.clone(),
            settings.room_id.clone(),
            api_token,
        )
    }
}
