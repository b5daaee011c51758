//! The rate-limit port: the token buckets of [`crate::domain::rate`], shared by every instance
//! through the store. A bucket is read, the token taken in the domain, and the new state
//! written on the condition that the bucket is still what was read: two requests can never
//! both take the last token. The service retries a lost write ([`crate::service`]).

use std::future::Future;

use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::rate::{Bucket, RateKey};

/// Token buckets against floods. Expired buckets read as absent (a full bucket).
pub trait RateLimitStore: Send + Sync {
    /// The bucket's state; `None` when there is none or it expired. One consistent read.
    fn rate_bucket(
        &self,
        key: &RateKey,
    ) -> impl Future<Output = StoreResult<Option<Bucket>>> + Send;

    /// Stores `next` in place of `read` (`None`: no bucket, or an expired one), to expire at
    /// `expires_at`: `false`, and nothing written, when the bucket is no longer `read` (a
    /// concurrent request wrote first: read again). One conditional write.
    fn replace_rate_bucket(
        &self,
        key: &RateKey,
        read: Option<&Bucket>,
        next: &Bucket,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
