//! The limits against floods (README, "Limits"): before a flow does anything in Giosg or
//! stores anything, the caller's limit ([`crate::domain::rate`]) allows the request or refuses
//! it with the wait until it would be allowed. Limits live in the store, so every instance
//! shares them. The first write assumes a full bucket (no read: one round trip for a caller
//! not in a burst); a failed condition answers the state as it is, and the domain decides again
//! on it.

use std::time::Duration;

use super::{Service, ServiceError};
use crate::domain::rate::{LimitKind, RateKey, Take};
use crate::store::{ChatStore, RateWrite};

/// How many writes a request makes while concurrent requests keep changing the state first;
/// after that it is refused, as part of a flood.
const WRITE_ATTEMPTS: usize = 5;

impl<S: ChatStore, G> Service<S, G> {
    /// Takes a place in the limit `key`, when its kind is limited: `RateLimited` with the wait
    /// for the next place when there is none. Nothing is written when refused.
    pub(super) async fn take_token(&self, key: RateKey) -> Result<(), ServiceError> {
        let kind = key.kind();
        let Some(limit) = self.limits.of(kind) else {
            return Ok(());
        };
        let mut seen = None;
        for _ in 0..WRITE_ATTEMPTS {
            match limit.take(seen, self.clock.now()) {
                Take::Refused { retry_after } => return Err(refused(kind, retry_after)),
                Take::Write {
                    expected,
                    next,
                    expires_at,
                } => match self
                    .store
                    .write_rate_state(&key, expected, next, expires_at)
                    .await?
                {
                    RateWrite::Written => return Ok(()),
                    RateWrite::NotAsExpected(current) => seen = current,
                },
            }
        }
        Err(refused(kind, Duration::from_secs(1)))
    }
}

fn refused(limit: LimitKind, retry_after: Duration) -> ServiceError {
    crate::metrics::rate_limited(limit);
    tracing::debug!(
        limit = limit.as_str(),
        retry_after_seconds = retry_after.as_secs(),
        "refused by a rate limit"
    );
    ServiceError::RateLimited { limit, retry_after }
}
