//! The rate-limit port: the limits of [`crate::domain::rate`], shared by every instance through
//! the store. The domain says what to write and on which condition ([`Expected`]); the store
//! writes it on that condition, or answers the state as it is, so the domain can decide again.
//! Two requests can never both take the last place in a burst.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::rate::{Expected, RateKey, RateState};

/// What a conditional write of a limit's state came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateWrite {
    Written,
    /// The condition did not hold: nothing was written; the state as it is (`None`: no live
    /// state).
    NotAsExpected(Option<RateState>),
}

/// The states of the limits against floods. Expired states read as absent (a full bucket).
pub trait RateLimitStore: Send + Sync {
    /// Writes `next` (to expire at `expires_at`) when the state meets `expected`. One
    /// conditional write; a failed condition answers the state as it is (with at most one more
    /// consistent read, when the write could not return it).
    fn write_rate_state(
        &self,
        key: &RateKey,
        expected: Expected,
        next: RateState,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<RateWrite>> + Send;
}
