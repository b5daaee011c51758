//! The limits against floods (README, "Limits"): before a flow does anything in Giosg or
//! stores anything, it takes a token from the caller's bucket ([`crate::domain::rate`]); an
//! empty bucket refuses the request with the wait until the next token. Buckets live in the
//! store, so every instance shares them; a bucket is replaced on the condition that nobody
//! else took a token meanwhile, and read again when someone did.

use std::time::Duration;

use super::{Service, ServiceError};
use crate::domain::rate::{LimitKind, RateKey, Take};
use crate::store::ChatStore;

/// How many times a token is tried for when concurrent requests keep taking the bucket's
/// tokens first; after that the request is refused, as part of a flood.
const BUCKET_ATTEMPTS: usize = 5;

impl<S: ChatStore, G> Service<S, G> {
    /// Takes a token from the bucket `key`, when its kind is limited: `RateLimited` with the
    /// wait for the next token when there is none. Nothing is written when refused.
    pub(super) async fn take_token(&self, key: RateKey) -> Result<(), ServiceError> {
        let kind = key.kind();
        let Some(limit) = self.limits.of(kind) else {
            return Ok(());
        };
        for _ in 0..BUCKET_ATTEMPTS {
            let read = self.store.rate_bucket(&key).await?;
            match limit.take(read.as_ref(), self.clock.now()) {
                Take::Refused { retry_after } => return Err(refused(kind, retry_after)),
                Take::Taken { bucket, expires_at } => {
                    if self
                        .store
                        .replace_rate_bucket(&key, read.as_ref(), &bucket, expires_at)
                        .await?
                    {
                        return Ok(());
                    }
                }
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
