//! Token buckets in memory ([`RateLimitStore`]): the same read and conditional replace as in
//! DynamoDB, under the store's one lock. Not kept in snapshots: they are full again within
//! minutes.

use chrono::{DateTime, Utc};

use super::{Expiring, MemoryStore};
use crate::domain::rate::{Bucket, RateKey};
use crate::store::{RateLimitStore, StoreResult};

impl RateLimitStore for MemoryStore {
    async fn rate_bucket(&self, key: &RateKey) -> StoreResult<Option<Bucket>> {
        let state = self.lock();
        Ok(state
            .rate_buckets
            .get(key)
            .and_then(Expiring::live)
            .copied())
    }

    async fn replace_rate_bucket(
        &self,
        key: &RateKey,
        read: Option<&Bucket>,
        next: &Bucket,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut state = self.lock_for_write();
        let current = state.rate_buckets.get(key).and_then(Expiring::live);
        if current != read {
            return Ok(false);
        }
        state.rate_buckets.insert(
            key.clone(),
            Expiring {
                record: *next,
                expires_at: Some(expires_at),
            },
        );
        Ok(true)
    }
}
