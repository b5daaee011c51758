//! Limits against floods in memory ([`RateLimitStore`]): the same conditional write as in
//! DynamoDB, under the store's one lock. Not kept in snapshots: their buckets are full again
//! within minutes.

use chrono::{DateTime, Utc};

use super::{Expiring, MemoryStore};
use crate::domain::rate::{Expected, RateKey, RateState};
use crate::store::{RateLimitStore, RateWrite, StoreResult};

impl RateLimitStore for MemoryStore {
    async fn write_rate_state(
        &self,
        key: &RateKey,
        expected: Expected,
        next: RateState,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<RateWrite> {
        let mut state = self.lock_for_write();
        let current = state
            .rate_buckets
            .get(key)
            .and_then(Expiring::live)
            .copied();
        if !expected.holds_for(current) {
            return Ok(RateWrite::NotAsExpected(current));
        }
        state.rate_buckets.insert(
            key.clone(),
            Expiring {
                record: next,
                expires_at: Some(expires_at),
            },
        );
        Ok(RateWrite::Written)
    }
}
