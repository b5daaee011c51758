//! The sync feed in DynamoDB (`domain::feed`): per chat partition, a position item
//! (`FEED`, attribute `position`) and one entry item per message (`FEED#<position, 20 digits>`,
//! the message's `record` and `expires_at` copied), at the position of its latest visible
//! change.
//!
//! A write that changes what history shows is one `TransactWriteItems`: the message put on its
//! version's condition, the position moved from the value read to the next one on the
//! condition that it still is the value read, the new entry put and the message's previous
//! entry deleted. So positions are handed out one writer at a time per chat, each commits with
//! its entry, and a reader that reads the position `p` first and then queries the entries up
//! to `p` (consistent reads) sees every change up to `p`. That last step takes DynamoDB's
//! transactions to be atomic for readers: once a consistent read sees the position a
//! transaction wrote, a consistent read issued after it sees the transaction's other items.
//! (moto applies a transaction's items one by one and undoes a cancelled one by restoring a
//! copy of the table, so the tests serve moto's requests one at a time; see
//! `shared/tests/support/moto.rs`.)

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::DynamoStore;
use super::error::{built, cancellation_reasons, lost_to_a_concurrent_writer, unavailable};
use super::item::{
    FEED_ENTRY_PREFIX, Item, ItemKey, POSITION, is_expired, number, set_expiry, string,
};
use super::records::{StoredRecord, decode_record, feed_entry_item, versioned_item};
use super::retry::Attempts;
use super::schema::{EXPIRES_AT, PK, SK};
use crate::domain::ChatId;
use crate::domain::message::MessageRecord;
use crate::store::{FeedEntry, StoreContext, StoreError, StoreResult};

/// How a feed write ended.
pub(super) enum FeedWrite<R> {
    Written(R),
    /// The record's item was not as read (someone wrote it, or it exists when it was absent):
    /// read and fold again.
    RecordChanged,
}

/// When the chat's position item expires, written with a message's change: with retention on,
/// no sooner than the message (and its entry) or the retention period from now, so it outlives
/// every entry it counted (a position that went back would hand out a position twice); never
/// when retention is off. Read, it is never absent before that.
fn position_expiry(message_item: &Item, context: &StoreContext) -> Option<DateTime<Utc>> {
    let retained = context.retained(None)?;
    let message_expiry = message_item
        .get(EXPIRES_AT)
        .and_then(|value| value.as_n().ok())
        .and_then(|value| value.parse::<i64>().ok())
        .and_then(|seconds| DateTime::<Utc>::from_timestamp(seconds, 0));
    Some(message_expiry.map_or(retained, |at| at.max(retained)))
}

/// The position a position item holds (0 without one).
pub(super) fn position_of(item: Option<&Item>) -> StoreResult<u64> {
    let Some(item) = item else {
        return Ok(0);
    };
    item.get(POSITION)
        .and_then(|value| value.as_n().ok())
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("a chat's feed position is unreadable".into()))
}

impl DynamoStore {
    /// Writes `record` over the version read (`None`: it must be absent) as a change the feed
    /// lists, with `bookkeeping` items put in the same transaction.
    pub(super) async fn put_with_feed<R: StoredRecord>(
        &self,
        key: &ItemKey,
        record: R,
        read_version: Option<u64>,
        context: &StoreContext,
        bookkeeping: &[Item],
    ) -> StoreResult<FeedWrite<R>> {
        let version = read_version.map_or(1, |version| version + 1);
        let previous = record.feed_seq();
        let position_key = ItemKey::feed_position(&key.pk);
        let mut attempts = Attempts::new();
        while attempts.another().await {
            let read = position_of(self.get_item(&position_key).await?.as_ref())?;
            let next = read + 1;
            let mut record = record.clone();
            record.set_feed_seq(next);
            let (item, record) = versioned_item(key, record, version, context)?;
            let entry = feed_entry_item(&key.pk, next, &item);
            let position_expiry = position_expiry(&item, context);
            let mut writes = vec![
                self.conditional_put(item, read_version)?,
                self.position_put(&position_key, read, next, position_expiry)?,
                TransactWriteItem::builder()
                    .put(built(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(entry))
                            .build(),
                    )?)
                    .build(),
            ];
            if let Some(previous) = previous {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(ItemKey::feed_entry(&key.pk, previous).attributes()))
                    .build();
                writes.push(TransactWriteItem::builder().delete(built(delete)?).build());
            }
            for item in bookkeeping {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .build();
                writes.push(TransactWriteItem::builder().put(built(put)?).build());
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(FeedWrite::Written(record)),
                Err(error) => error,
            };
            let reasons = cancellation_reasons(&error)?;
            if reasons.first() == Some(&"ConditionalCheckFailed") {
                lost_to_a_concurrent_writer("TransactWriteItems");
                return Ok(FeedWrite::RecordChanged);
            }
            // Another writer took the position, or the transactions overlapped: read it again.
            let retry = reasons.get(1) == Some(&"ConditionalCheckFailed")
                || reasons.contains(&"TransactionConflict");
            if !retry {
                return Err(unavailable("TransactWriteItems", &error));
            }
            lost_to_a_concurrent_writer("TransactWriteItems");
        }
        Err(StoreError::Contention)
    }

    fn conditional_put(
        &self,
        item: Item,
        read_version: Option<u64>,
    ) -> StoreResult<TransactWriteItem> {
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match read_version {
            None => put
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(version) => put
                .condition_expression("#version = :read_version")
                .expression_attribute_names("#version", super::records::VERSION)
                .expression_attribute_values(":read_version", number(version)),
        };
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    /// Moves the position from `read` (0: no item yet) to `next`, only if it still is `read`.
    fn position_put(
        &self,
        key: &ItemKey,
        read: u64,
        next: u64,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<TransactWriteItem> {
        let mut item = key.attributes();
        item.insert(POSITION.into(), number(next));
        set_expiry(&mut item, expires_at);
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = if read == 0 {
            put.condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
        } else {
            put.condition_expression("#position = :read")
                .expression_attribute_names("#position", POSITION)
                .expression_attribute_values(":read", number(read))
        };
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    /// The feed entries in `(after, upto]`, at most `limit`: one consistent `Query` (more only
    /// when DynamoDB cut it at 1 MB).
    pub(super) async fn query_feed(
        &self,
        chat: &ChatId,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> StoreResult<Vec<FeedEntry>> {
        if after >= upto || limit == 0 {
            return Ok(Vec::new());
        }
        let pk = ItemKey::chat(chat).pk;
        let from = ItemKey::feed_entry(&pk, after + 1);
        let to = ItemKey::feed_entry(&pk, upto);
        let mut entries: Vec<FeedEntry> = Vec::new();
        let mut start_key = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", string(&pk))
                .expression_attribute_values(":from", string(from.sort_key()))
                .expression_attribute_values(":to", string(to.sort_key()))
                .limit(i32::try_from(limit - entries.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|error| unavailable("Query", &error))?;
            for item in output.items.unwrap_or_default() {
                let position = item
                    .get(SK)
                    .and_then(|sk| sk.as_s().ok())
                    .and_then(|sk| sk.strip_prefix(FEED_ENTRY_PREFIX))
                    .and_then(|digits| digits.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt("a feed entry has no position".into()))?;
                if is_expired(&item, "feed entry")? {
                    continue;
                }
                let message: MessageRecord = decode_record(item, "feed entry")?;
                // A message that moved on while the query read: keep its later entry.
                entries.retain(|entry| entry.message.id != message.id);
                entries.push(FeedEntry { position, message });
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() && entries.len() < limit => start_key = Some(key),
                _ => return Ok(entries),
            }
        }
    }
}
