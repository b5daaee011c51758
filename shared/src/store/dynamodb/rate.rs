//! Limits against floods in DynamoDB ([`RateLimitStore`]):
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | a visitor's sends, starts | `VISITOR#<visitor key>` | `RATE#send`, `RATE#start` | `tat_ms` (N, epoch ms: when the bucket is full again), `expires_at` |
//! | anonymous starts from a source | `SOURCE#<hashed address>` | `RATE#anonymous_start` | as above |
//! | anonymous starts from anywhere | `RATE` | `RATE#anonymous_start_total` | as above |
//!
//! A state is written with one `PutItem` on the domain's condition: no live `tat_ms` at or
//! after a time (`attribute_not_exists(tat_ms) OR tat_ms <= :at OR expires_at <= :now`), or
//! exactly the `tat_ms` read. A failed condition returns the item as it is
//! (`ReturnValuesOnConditionCheckFailure`), so deciding again costs no read; only when it comes
//! back without the item is it read (consistently). An item without `tat_ms` (written by the
//! token buckets of an earlier version) counts as no state and is replaced. A visitor's limits
//! live in its partition, so erasing the visitor deletes them.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};

use super::DynamoStore;
use super::error::{lost_to_a_concurrent_writer, unavailable};
use super::item::{
    ANONYMOUS_PK, Item, ItemKey, RATE_PREFIX, SOURCE_PREFIX, VISITOR_PREFIX, is_expired, number,
    set_expiry,
};
use super::schema::EXPIRES_AT;
use crate::domain::rate::{Expected, RateKey, RateState};
use crate::store::{RateLimitStore, RateWrite, StoreError, StoreResult};

const TAT_MS: &str = "tat_ms";

impl ItemKey {
    /// Where a limit's state is kept.
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

/// The state an item holds: `None` when it has expired or has no `tat_ms`.
fn decode_state(item: &Item) -> StoreResult<Option<RateState>> {
    if is_expired(item, "rate limit")? {
        return Ok(None);
    }
    let Some(value) = item.get(TAT_MS) else {
        return Ok(None);
    };
    let tat_ms = value
        .as_n()
        .ok()
        .and_then(|value| value.parse::<i64>().ok())
        .ok_or_else(|| {
            StoreError::Corrupt("a stored rate limit has an unreadable tat_ms".into())
        })?;
    Ok(Some(RateState { tat_ms }))
}

impl RateLimitStore for DynamoStore {
    async fn write_rate_state(
        &self,
        key: &RateKey,
        expected: Expected,
        next: RateState,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<RateWrite> {
        let item_key = ItemKey::rate_bucket(key);
        let mut item = item_key.attributes();
        item.insert(TAT_MS.into(), number(next.tat_ms));
        set_expiry(&mut item, Some(expires_at));
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .expression_attribute_names("#tat", TAT_MS);
        let request = match expected {
            Expected::PastBy(at_ms) => request
                .condition_expression(
                    "attribute_not_exists(#tat) OR #tat <= :at OR #expires_at <= :now",
                )
                .expression_attribute_names("#expires_at", EXPIRES_AT)
                .expression_attribute_values(":at", number(at_ms))
                .expression_attribute_values(":now", number(Utc::now().timestamp())),
            Expected::Exactly(state) => request
                .condition_expression("#tat = :tat")
                .expression_attribute_values(":tat", number(state.tat_ms)),
        };
        let error = match request.send().await {
            Ok(_) => return Ok(RateWrite::Written),
            Err(error) => error,
        };
        let returned = match error.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.item().cloned(),
            _ => return Err(unavailable("PutItem", &error)),
        };
        // A state written past was only a guess (no read first); the state read was not there.
        if matches!(expected, Expected::Exactly(_)) {
            lost_to_a_concurrent_writer("PutItem");
        }
        let current = match returned {
            Some(item) => decode_state(&item)?,
            // Not returned: read it.
            None => match self.get_item(&item_key).await? {
                Some(item) => decode_state(&item)?,
                None => None,
            },
        };
        Ok(RateWrite::NotAsExpected(current))
    }
}
