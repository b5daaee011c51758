//! Token buckets in DynamoDB ([`RateLimitStore`]):
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | a visitor's sends, starts | `VISITOR#<visitor key>` | `RATE#send`, `RATE#start` | `tokens` (N, in 60,000ths), `at_ms` (N, epoch ms), `expires_at` |
//! | anonymous starts from a source | `SOURCE#<hashed address>` | `RATE#anonymous_start` | as above |
//! | anonymous starts from anywhere | `RATE` | `RATE#anonymous_start_total` | as above |
//!
//! A bucket is read with a consistent `GetItem` and replaced with a `PutItem` conditioned on
//! the state read (`tokens` and `at_ms` unchanged, or no live item), so concurrent requests on
//! any instance take each token once. A visitor's buckets live in its partition, so erasing the
//! visitor deletes them.

use chrono::{DateTime, Utc};

use super::DynamoStore;
use super::error::{is_condition_failure, lost_to_a_concurrent_writer, unavailable};
use super::item::{
    ANONYMOUS_PK, Item, ItemKey, RATE_PREFIX, SOURCE_PREFIX, VISITOR_PREFIX, is_expired, number,
    set_expiry,
};
use super::schema::{EXPIRES_AT, PK};
use crate::domain::rate::{Bucket, RateKey};
use crate::store::{RateLimitStore, StoreError, StoreResult};

const TOKENS: &str = "tokens";
const AT_MS: &str = "at_ms";

impl ItemKey {
    /// Where a bucket is kept.
    pub(super) fn rate_bucket(key: &RateKey) -> Self {
        let pk = match key {
            RateKey::Sends(visitor) | RateKey::Starts(visitor) => {
                format!("{VISITOR_PREFIX}{}", visitor.as_str())
            }
            RateKey::AnonymousStartsFrom(source) => format!("{SOURCE_PREFIX}{}", source.as_str()),
            RateKey::AnonymousStarts => ANONYMOUS_PK.to_owned(),
        };
        Self::new(pk, format!("{RATE_PREFIX}{}", key.kind().as_str()))
    }
}

fn decode_bucket(item: &Item) -> StoreResult<Bucket> {
    let whole = |name: &str| {
        item.get(name)
            .and_then(|value| value.as_n().ok())
            .and_then(|value| value.parse::<i64>().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("a stored rate bucket has no {name}")))
    };
    Ok(Bucket {
        units: u64::try_from(whole(TOKENS)?)
            .map_err(|_| StoreError::Corrupt("a stored rate bucket has negative tokens".into()))?,
        at_ms: whole(AT_MS)?,
    })
}

impl RateLimitStore for DynamoStore {
    async fn rate_bucket(&self, key: &RateKey) -> StoreResult<Option<Bucket>> {
        match self.get_item(&ItemKey::rate_bucket(key)).await? {
            Some(item) if !is_expired(&item, "rate bucket")? => decode_bucket(&item).map(Some),
            _ => Ok(None),
        }
    }

    async fn replace_rate_bucket(
        &self,
        key: &RateKey,
        read: Option<&Bucket>,
        next: &Bucket,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut item = ItemKey::rate_bucket(key).attributes();
        item.insert(TOKENS.into(), number(next.units));
        item.insert(AT_MS.into(), number(next.at_ms));
        set_expiry(&mut item, Some(expires_at));
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = match read {
            None => request
                .condition_expression("attribute_not_exists(#pk) OR #expires_at <= :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#expires_at", EXPIRES_AT)
                .expression_attribute_values(":now", number(Utc::now().timestamp())),
            Some(read) => request
                .condition_expression("#tokens = :tokens AND #at_ms = :at_ms")
                .expression_attribute_names("#tokens", TOKENS)
                .expression_attribute_names("#at_ms", AT_MS)
                .expression_attribute_values(":tokens", number(read.units))
                .expression_attribute_values(":at_ms", number(read.at_ms)),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => {
                lost_to_a_concurrent_writer("PutItem");
                Ok(false)
            }
            Err(error) => Err(unavailable("PutItem", &error)),
        }
    }
}
