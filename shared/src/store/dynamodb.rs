//! The DynamoDB adapter: one table, on-demand capacity, every rule of the port kept with
//! conditional writes instead of locks.
//!
//! # Items
//!
//! Keys are `pk` (S) and `sk` (S). Domain records are stored whole, as the serde image of the
//! record in one map attribute `record` (M), so that a record field can never collide with a
//! key, index or bookkeeping attribute (`ChatRecord::owner` is a map, the index's `owner` a
//! string). Next to it, only what DynamoDB itself must see:
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | visitor | `VISITOR#<visitor key>` | `VISITOR` | `record` |
//! | chat | `CHAT#<chat id>` | `CHAT` | `record`, `version` (N); when owned: `owner` (S, visitor key), `chat_order` (S, `<created_at sortable or empty>#<chat id>`) |
//! | message | `CHAT#<chat id>` | `MSG#<message id>` | `record`, `version` (N); when it has a `created_at`: `msg_order` (S, the [`OrderKey`]) |
//! | send key | `CHAT#<chat id>` | `SENDKEY#<key>` | `state` (S, `in_flight` or `sent`), `since` (S, fixed-width RFC 3339, in flight) or `message_id` (S, sent) |
//!
//! `expires_at` (N, epoch seconds) is the table's TTL attribute, set from
//! [`StoreContext::expiry`] on chats and messages: pending records expire after the pending TTL,
//! known ones after the retention period (never when retention is off). DynamoDB deletes expired
//! items lazily, so every read treats an item whose `expires_at` has passed as absent, as the
//! in-memory store does; a write over such an item is conditioned on its version like any other.
//!
//! Indexes, both sparse and projecting ALL:
//! - GSI `visitor-chats` (`owner`, `chat_order`): a visitor's chats; only owned chats are in it.
//! - LSI `history` (`pk`, `msg_order`): a chat's history in `created_at` order, ties by id; only
//!   messages with a `created_at` are in it (the chat and send-key items have no `msg_order`).
//!
//! # Operations and round trips
//!
//! | method | DynamoDB calls |
//! |---|---|
//! | `get_visitor`, `get_chat`, `get_message` | 1 `GetItem` (consistent) |
//! | `put_visitor` | 1 `PutItem` |
//! | `get_visitor_and_chat`, `send_context` | 1 `BatchGetItem` (consistent) of the 2–3 keys; repeated only for `UnprocessedKeys` |
//! | `visitor_chats` | 1 `Query` on `visitor-chats`, newest first (eventually consistent, as every GSI read; more pages only past 1 MB) |
//! | `history_page` | 1 `Query` on `history` (consistent): `Latest` descending with `Limit` limit+1; `Before` `msg_order < cursor` descending, limit+1; `After` `msg_order > cursor` (or the whole chat for the start cursor) ascending, limit. Descending pages are reversed to oldest first; the extra item tells `has_older`. A second request only when DynamoDB cut the page at 1 MB |
//! | `apply_chat_event`, `apply_message_event` | `GetItem` (consistent), the domain fold, then on `Write` a `PutItem` conditioned on `attribute_not_exists(pk)` (new) or `version = <read version>` with the version bumped, on `Delete` a `DeleteItem` conditioned on the version; nothing for `Unchanged` / `Ignore`. A failed condition (a concurrent writer) re-reads and re-folds, up to 8 attempts with a few jittered milliseconds between, then `Contention`. 2 round trips, 1 when nothing changes |
//! | `reserve_send` | 1 `PutItem` of an in-flight state conditioned on `attribute_not_exists(pk) OR (state = in_flight AND since <= now - stale_after)`; when taken, the holder's state comes back with the failure (`ReturnValuesOnConditionCheckFailure = ALL_OLD`; a `GetItem` if it does not) |
//! | `release_send` | 1 `DeleteItem` conditioned on `state = in_flight` |
//! | `record_sent_message` | Usually 1 `TransactWriteItems`: the message folded from nothing, put only if absent, the send key marked sent, and the visitor when given. If the message already exists (its webhook echo won the race), the event is folded in like a webhook (`GetItem` + conditional `PutItem`) and then the send key and visitor are written (1 `PutItem` or `TransactWriteItems`): 4 round trips on that rare path |
//! | `record_started_chat` | Usually 1 `TransactWriteItems`: the chat folded from nothing, put only if absent, and the visitor. If a webhook stored the chat first, the event is folded in (`GetItem` + conditional `PutItem`) and the visitor put: 3 round trips on that rare path |
//!
//! SDK errors become [`StoreError::Unavailable`] with the operation and error code only (never
//! attribute values); items that do not decode become [`StoreError::Corrupt`].
//!
//! # Where it differs from the in-memory store
//!
//! - Records are returned, compared and indexed in their stored form: a value the serde form
//!   cannot hold (a sub-millisecond `GiosgTime`) is normalised before `msg_order` is computed,
//!   so a cursor made from any returned message matches the index, and a redelivery is still
//!   `Unchanged`.
//! - `visitor_chats` reads a GSI, which on AWS lags writes by a moment.
//! - An expired message that DynamoDB has not swept yet is dropped from a history page after the
//!   query, so near the retention boundary a page can be shorter than `limit`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, LocalSecondaryIndex, Projection, ProjectionType, Put,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TransactWriteItem,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    Applied, ChatStore, HistoryPage, Reservation, SendContext, SendState, SentMessage,
    StoreContext, StoreError, StoreResult,
};
use crate::domain::Decision;
use crate::domain::chat::{ChatEvent, ChatRecord, apply_chat_event};
use crate::domain::cursor::PageRequest;
use crate::domain::message::{MessageEvent, MessageRecord, apply_message_event};
use crate::domain::visitor::{VisitorKey, VisitorRecord};
use crate::domain::{ChatId, MessageId};

#[cfg(doc)]
use crate::domain::message::OrderKey;

/// The GSI listing a visitor's chats.
pub const VISITOR_CHATS_INDEX: &str = "visitor-chats";
/// The LSI ordering a chat's history.
pub const HISTORY_INDEX: &str = "history";
/// The table's TTL attribute (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";

const PK: &str = "pk";
const SK: &str = "sk";
const RECORD: &str = "record";
const VERSION: &str = "version";
const OWNER: &str = "owner";
const CHAT_ORDER: &str = "chat_order";
const MSG_ORDER: &str = "msg_order";
const STATE: &str = "state";
const SINCE: &str = "since";
const MESSAGE_ID: &str = "message_id";
const IN_FLIGHT: &str = "in_flight";
const SENT: &str = "sent";

/// How often a conditional write is retried against concurrent writers before giving up.
const MAX_ATTEMPTS: u32 = 8;

type Item = HashMap<String, AttributeValue>;

/// Creates the table with exactly the schema this adapter expects (on-demand, the
/// `visitor-chats` GSI, the `history` LSI, TTL on `expires_at`) and waits until it is active.
/// A table of that name that already exists is left as it is.
pub async fn create_table(client: &Client, table_name: &str) -> StoreResult<()> {
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
    };
    let everything = Projection::builder()
        .projection_type(ProjectionType::All)
        .build();
    let visitor_chats = GlobalSecondaryIndex::builder()
        .index_name(VISITOR_CHATS_INDEX)
        .key_schema(built(key(OWNER, KeyType::Hash))?)
        .key_schema(built(key(CHAT_ORDER, KeyType::Range))?)
        .projection(everything.clone())
        .build();
    let history = LocalSecondaryIndex::builder()
        .index_name(HISTORY_INDEX)
        .key_schema(built(key(PK, KeyType::Hash))?)
        .key_schema(built(key(MSG_ORDER, KeyType::Range))?)
        .projection(everything)
        .build();
    let created = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(
            [PK, SK, OWNER, CHAT_ORDER, MSG_ORDER]
                .into_iter()
                .map(|name| built(string_attribute(name)))
                .collect::<StoreResult<Vec<_>>>()?,
        ))
        .key_schema(built(key(PK, KeyType::Hash))?)
        .key_schema(built(key(SK, KeyType::Range))?)
        .global_secondary_indexes(built(visitor_chats)?)
        .local_secondary_indexes(built(history)?)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(error) if error.code() == Some("ResourceInUseException") => return Ok(()),
        Err(error) => return Err(unavailable("CreateTable", &error)),
    }
    wait_until_active(client, table_name).await?;
    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(built(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(EXPIRES_AT)
                .build(),
        )?)
        .send()
        .await
        .map_err(|error| unavailable("UpdateTimeToLive", &error))?;
    Ok(())
}

async fn wait_until_active(client: &Client, table_name: &str) -> StoreResult<()> {
    // On-demand tables with an index take a minute or so on AWS; local servers are instant.
    for _ in 0..240 {
        let described = client
            .describe_table()
            .table_name(table_name)
            .send()
            .await
            .map_err(|error| unavailable("DescribeTable", &error))?;
        if described.table().and_then(|table| table.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::Unavailable(
        "the new DynamoDB table did not become active in time".into(),
    ))
}

/// The [`ChatStore`] on one DynamoDB table (see the module documentation for its layout).
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        Self {
            client,
            table: table_name.into(),
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    async fn get_item(&self, key: &ItemKey) -> StoreResult<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.attributes()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| unavailable("GetItem", &error))?;
        Ok(output.item)
    }

    /// Reads several items in one `BatchGetItem`, answering in the order of `keys`.
    async fn batch_get(&self, keys: &[ItemKey]) -> StoreResult<Vec<Option<Item>>> {
        let mut request = Some(built(
            KeysAndAttributes::builder()
                .set_keys(Some(keys.iter().map(ItemKey::attributes).collect()))
                .consistent_read(true)
                .build(),
        )?);
        let mut found: Vec<Item> = Vec::new();
        let mut attempt = 0;
        while let Some(keys_and_attributes) = request.take() {
            if attempt > 0 {
                backoff(attempt).await;
            }
            attempt += 1;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys_and_attributes)
                .send()
                .await
                .map_err(|error| unavailable("BatchGetItem", &error))?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(&self.table).unwrap_or_default());
            }
            request = output
                .unprocessed_keys
                .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                .filter(|rest| !rest.keys().is_empty());
            if request.is_some() && attempt >= MAX_ATTEMPTS {
                return Err(StoreError::Unavailable(
                    "DynamoDB BatchGetItem kept leaving keys unprocessed".into(),
                ));
            }
        }
        Ok(keys
            .iter()
            .map(|key| found.iter().find(|item| key.is_key_of(item)).cloned())
            .collect())
    }

    async fn put(&self, item: Item, operation: &'static str) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|error| unavailable(operation, &error))?;
        Ok(())
    }

    /// Writes several items atomically: a `PutItem` for one, a transaction for more.
    async fn put_all(&self, items: Vec<Item>) -> StoreResult<()> {
        match <[Item; 1]>::try_from(items) {
            Ok([item]) => self.put(item, "PutItem").await,
            Err(items) if items.is_empty() => Ok(()),
            Err(items) => {
                let writes = items
                    .into_iter()
                    .map(|item| self.plain_put(item))
                    .collect::<StoreResult<Vec<_>>>()?;
                self.client
                    .transact_write_items()
                    .set_transact_items(Some(writes))
                    .send()
                    .await
                    .map_err(|error| unavailable("TransactWriteItems", &error))?;
                Ok(())
            }
        }
    }

    fn plain_put(&self, item: Item) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build();
        Ok(TransactWriteItem::builder().put(built(put)?).build())
    }

    /// Puts a record's item if nobody wrote it since it was read at `read_version`.
    /// `Ok(false)` when someone did.
    async fn put_versioned(&self, item: Item, read_version: Option<u64>) -> StoreResult<bool> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = match read_version {
            None => request
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(version) => request
                .condition_expression("#version = :read_version")
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":read_version", number(version)),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(unavailable("PutItem", &error)),
        }
    }

    /// Deletes a record's item if nobody wrote it since it was read at `read_version`.
    async fn delete_versioned(&self, key: &ItemKey, read_version: u64) -> StoreResult<bool> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.attributes()))
            .condition_expression("#version = :read_version")
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":read_version", number(read_version))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(unavailable("DeleteItem", &error)),
        }
    }

    /// Reads a record, folds an event into it with `fold` and writes the outcome conditioned on
    /// the version read, re-reading and re-folding when a concurrent writer got there first.
    async fn apply_folded<R: StoredRecord>(
        &self,
        key: &ItemKey,
        context: &StoreContext,
        fold: impl Fn(Option<&R>) -> Decision<R> + Send + Sync,
    ) -> StoreResult<(Applied, Option<R>)> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let stored: Versioned<R> = Versioned::decode(self.get_item(key).await?)?;
            match fold(stored.record.as_ref()) {
                Decision::Write(record) => {
                    let version = stored.version.map_or(1, |version| version + 1);
                    let (item, record) = versioned_item(key, record, version, context)?;
                    // Only a difference the stored form cannot hold (e.g. sub-millisecond time).
                    if stored.record.as_ref() == Some(&record) {
                        return Ok((Applied::Unchanged, stored.record));
                    }
                    if self.put_versioned(item, stored.version).await? {
                        return Ok((Applied::Stored, Some(record)));
                    }
                }
                Decision::Unchanged => return Ok((Applied::Unchanged, stored.record)),
                Decision::Ignore => return Ok((Applied::Ignored, None)),
                Decision::Delete => match stored.version {
                    Some(version) if !self.delete_versioned(key, version).await? => {}
                    _ => return Ok((Applied::Deleted, None)),
                },
            }
        }
        Err(StoreError::Contention)
    }

    /// The common case of [`ChatStore::record_sent_message`] and
    /// [`ChatStore::record_started_chat`]: the record is new, so it and its bookkeeping go in one
    /// transaction. `Ok(false)` when the record turned out to exist already (a webhook was first).
    async fn put_new_with(&self, message: Item, bookkeeping: &[Item]) -> StoreResult<bool> {
        let put_message = Put::builder()
            .table_name(&self.table)
            .set_item(Some(message))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build();
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(built(put_message)?)
                .build(),
        ];
        for item in bookkeeping {
            writes.push(self.plain_put(item.clone())?);
        }
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes.clone()))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(true),
                Err(error) => error,
            };
            let reasons: Vec<&str> = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|reason| reason.code().unwrap_or("None"))
                    .collect(),
                _ => return Err(unavailable("TransactWriteItems", &error)),
            };
            if reasons.first() == Some(&"ConditionalCheckFailed") {
                return Ok(false);
            }
            if !reasons.contains(&"TransactionConflict") {
                return Err(unavailable("TransactWriteItems", &error));
            }
        }
        Err(StoreError::Contention)
    }

    /// Runs one history query, continuing only if DynamoDB cut it short of `wanted` items at its
    /// 1 MB page size.
    async fn query_history(
        &self,
        chat: &ChatId,
        condition: HistoryCondition<'_>,
        wanted: usize,
    ) -> StoreResult<Vec<Item>> {
        let mut items: Vec<Item> = Vec::new();
        let mut start_key = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(HISTORY_INDEX)
                .consistent_read(true)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", string(ItemKey::chat(chat).pk))
                .limit(query_limit(wanted - items.len()))
                .set_exclusive_start_key(start_key.take());
            query = match condition {
                HistoryCondition::Newest => query
                    .key_condition_expression("#pk = :pk")
                    .scan_index_forward(false),
                HistoryCondition::Oldest => query
                    .key_condition_expression("#pk = :pk")
                    .scan_index_forward(true),
                HistoryCondition::Before(cursor) => query
                    .key_condition_expression("#pk = :pk AND #order < :cursor")
                    .expression_attribute_names("#order", MSG_ORDER)
                    .expression_attribute_values(":cursor", string(cursor))
                    .scan_index_forward(false),
                HistoryCondition::After(cursor) => query
                    .key_condition_expression("#pk = :pk AND #order > :cursor")
                    .expression_attribute_names("#order", MSG_ORDER)
                    .expression_attribute_values(":cursor", string(cursor))
                    .scan_index_forward(true),
            };
            let output = query
                .send()
                .await
                .map_err(|error| unavailable("Query", &error))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() && items.len() < wanted => start_key = Some(key),
                _ => return Ok(items),
            }
        }
    }
}

/// Which part of a chat's history one query reads.
#[derive(Clone, Copy)]
enum HistoryCondition<'a> {
    Newest,
    Oldest,
    Before(&'a str),
    After(&'a str),
}

impl ChatStore for DynamoStore {
    async fn get_visitor(&self, key: &VisitorKey) -> StoreResult<Option<VisitorRecord>> {
        self.get_item(&ItemKey::visitor(key))
            .await?
            .map(|item| decode_record(item, "visitor"))
            .transpose()
    }

    async fn put_visitor(&self, visitor: &VisitorRecord) -> StoreResult<()> {
        self.put(visitor_item(visitor)?, "PutItem").await
    }

    async fn get_chat(&self, id: &ChatId) -> StoreResult<Option<ChatRecord>> {
        let item = self.get_item(&ItemKey::chat(id)).await?;
        Ok(Versioned::decode(item)?.record)
    }

    async fn get_visitor_and_chat(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
    ) -> StoreResult<(Option<VisitorRecord>, Option<ChatRecord>)> {
        let keys = [ItemKey::visitor(key), ItemKey::chat(chat)];
        let [visitor, chat] = <[Option<Item>; 2]>::try_from(self.batch_get(&keys).await?)
            .map_err(|_| StoreError::Corrupt("BatchGetItem answered the wrong keys".into()))?;
        Ok((
            visitor
                .map(|item| decode_record(item, "visitor"))
                .transpose()?,
            Versioned::decode(chat)?.record,
        ))
    }

    async fn visitor_chats(&self, key: &VisitorKey) -> StoreResult<Vec<ChatRecord>> {
        let mut chats = Vec::new();
        let mut start_key = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(VISITOR_CHATS_INDEX)
                .key_condition_expression("#owner = :owner")
                .expression_attribute_names("#owner", OWNER)
                .expression_attribute_values(":owner", string(key.as_str()))
                .scan_index_forward(false)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|error| unavailable("Query", &error))?;
            for item in output.items.unwrap_or_default() {
                chats.extend(Versioned::<ChatRecord>::decode(Some(item))?.record);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(chats),
            }
        }
    }

    async fn get_message(
        &self,
        chat: &ChatId,
        id: &MessageId,
    ) -> StoreResult<Option<MessageRecord>> {
        let item = self.get_item(&ItemKey::message(chat, id)).await?;
        Ok(Versioned::decode(item)?.record)
    }

    async fn history_page(&self, chat: &ChatId, request: &PageRequest) -> StoreResult<HistoryPage> {
        let limit = request.limit();
        let (condition, wanted) = match request {
            PageRequest::Latest { .. } => (HistoryCondition::Newest, limit + 1),
            PageRequest::Before { cursor, .. } if cursor.is_start() => {
                return Ok(HistoryPage {
                    messages: Vec::new(),
                    has_older: false,
                });
            }
            PageRequest::Before { cursor, .. } => {
                (HistoryCondition::Before(cursor.key().as_str()), limit + 1)
            }
            PageRequest::After { cursor, .. } => {
                if limit == 0 {
                    return Ok(HistoryPage {
                        messages: Vec::new(),
                        has_older: !cursor.is_start(),
                    });
                }
                let condition = if cursor.is_start() {
                    HistoryCondition::Oldest
                } else {
                    HistoryCondition::After(cursor.key().as_str())
                };
                (condition, limit)
            }
        };
        let items = self.query_history(chat, condition, wanted).await?;
        let read = items.len();
        let mut messages = Vec::with_capacity(read.min(limit));
        for item in items.into_iter().take(limit) {
            messages.extend(Versioned::<MessageRecord>::decode(Some(item))?.record);
        }
        let has_older = match request {
            PageRequest::After { cursor, .. } => !cursor.is_start(),
            // Read newest first, one more than the page: that one says whether older exist.
            PageRequest::Latest { .. } | PageRequest::Before { .. } => {
                messages.reverse();
                read > limit
            }
        };
        Ok(HistoryPage {
            messages,
            has_older,
        })
    }

    async fn send_context(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
        idempotency_key: Option<&str>,
    ) -> StoreResult<SendContext> {
        let mut keys = vec![ItemKey::visitor(key), ItemKey::chat(chat)];
        keys.extend(idempotency_key.map(|k| ItemKey::send_key(chat, k)));
        let mut found = self.batch_get(&keys).await?.into_iter();
        let visitor = found.next().flatten();
        let chat = found.next().flatten();
        let key_state = found.next().flatten();
        Ok(SendContext {
            visitor: visitor
                .map(|item| decode_record(item, "visitor"))
                .transpose()?,
            chat: Versioned::decode(chat)?.record,
            key_state: key_state.map(|item| decode_send_state(&item)).transpose()?,
        })
    }

    async fn reserve_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        stale_after: Duration,
    ) -> StoreResult<Reservation> {
        let key = ItemKey::send_key(chat, idempotency_key);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let now = Utc::now();
            let mut item = key.attributes();
            item.insert(STATE.into(), string(IN_FLIGHT));
            item.insert(SINCE.into(), string(fixed_width_time(now)));
            let request = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .expression_attribute_names("#pk", PK)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            // A claim this old is abandoned: its sender died between reserving and recording.
            let stale_cutoff = chrono::Duration::from_std(stale_after)
                .ok()
                .and_then(|limit| now.checked_sub_signed(limit));
            let request = match stale_cutoff {
                Some(cutoff) => request
                    .condition_expression(
                        "attribute_not_exists(#pk) OR (#state = :in_flight AND #since <= :cutoff)",
                    )
                    .expression_attribute_names("#state", STATE)
                    .expression_attribute_names("#since", SINCE)
                    .expression_attribute_values(":in_flight", string(IN_FLIGHT))
                    .expression_attribute_values(":cutoff", string(fixed_width_time(cutoff))),
                None => request.condition_expression("attribute_not_exists(#pk)"),
            };
            let error = match request.send().await {
                Ok(_) => return Ok(Reservation::Reserved),
                Err(error) if is_condition_failure(&error) => error,
                Err(error) => return Err(unavailable("PutItem", &error)),
            };
            let holder = match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.item.clone(),
                _ => None,
            };
            let holder = match holder {
                Some(item) if !item.is_empty() => Some(item),
                _ => self.get_item(&key).await?,
            };
            // Released between our write and our read: try again.
            if let Some(item) = holder {
                return Ok(Reservation::Taken(decode_send_state(&item)?));
            }
        }
        Err(StoreError::Contention)
    }

    async fn release_send(&self, chat: &ChatId, idempotency_key: &str) -> StoreResult<()> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(ItemKey::send_key(chat, idempotency_key).attributes()))
            .condition_expression("#state = :in_flight")
            .expression_attribute_names("#state", STATE)
            .expression_attribute_values(":in_flight", string(IN_FLIGHT))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Ok(()),
            Err(error) => Err(unavailable("DeleteItem", &error)),
        }
    }

    async fn record_sent_message(
        &self,
        sent: &SentMessage,
        context: &StoreContext,
    ) -> StoreResult<MessageRecord> {
        let message_key = ItemKey::message(&sent.chat_id, &sent.message_id);
        let mut bookkeeping = Vec::new();
        if let Some(key) = &sent.idempotency_key {
            let mut item = ItemKey::send_key(&sent.chat_id, key).attributes();
            item.insert(STATE.into(), string(SENT));
            item.insert(MESSAGE_ID.into(), string(sent.message_id.as_str()));
            bookkeeping.push(item);
        }
        if let Some(visitor) = &sent.visitor {
            bookkeeping.push(visitor_item(visitor)?);
        }
        let fold = |current: Option<&MessageRecord>| {
            apply_message_event(
                current,
                &sent.chat_id,
                &sent.message_id,
                &sent.event,
                &context.room_id,
            )
        };
        if let Decision::Write(record) = fold(None) {
            let (item, record) = versioned_item(&message_key, record, 1, context)?;
            if self.put_new_with(item, &bookkeeping).await? {
                return Ok(record);
            }
        }
        // The webhook echo stored the message first: merge into it like any event.
        let (_, record) = self.apply_folded(&message_key, context, fold).await?;
        let record = record
            .ok_or_else(|| StoreError::Corrupt("a sent message was not stored as ours".into()))?;
        self.put_all(bookkeeping).await?;
        Ok(record)
    }

    async fn record_started_chat(
        &self,
        visitor: &VisitorRecord,
        chat_id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<ChatRecord> {
        let chat_key = ItemKey::chat(chat_id);
        let bookkeeping = [visitor_item(visitor)?];
        let fold = |current: Option<&ChatRecord>| {
            apply_chat_event(current, chat_id, event, &context.room_id)
        };
        if let Decision::Write(record) = fold(None) {
            let (item, record) = versioned_item(&chat_key, record, 1, context)?;
            if self.put_new_with(item, &bookkeeping).await? {
                return Ok(record);
            }
        }
        // A webhook stored the chat first: merge into it like any event.
        let (_, record) = self.apply_folded(&chat_key, context, fold).await?;
        let record = record
            .ok_or_else(|| StoreError::Corrupt("a started chat was not stored as ours".into()))?;
        self.put_all(bookkeeping.to_vec()).await?;
        Ok(record)
    }

    async fn apply_chat_event(
        &self,
        id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<ChatRecord>)> {
        self.apply_folded(&ItemKey::chat(id), context, |current| {
            apply_chat_event(current, id, event, &context.room_id)
        })
        .await
    }

    async fn apply_message_event(
        &self,
        chat: &ChatId,
        id: &MessageId,
        event: &MessageEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<MessageRecord>)> {
        self.apply_folded(&ItemKey::message(chat, id), context, |current| {
            apply_message_event(current, chat, id, event, &context.room_id)
        })
        .await
    }
}

/// The primary key of one item.
#[derive(Clone, Debug)]
struct ItemKey {
    pk: String,
    sk: String,
}

impl ItemKey {
    fn visitor(key: &VisitorKey) -> Self {
        Self {
            pk: format!("VISITOR#{}", key.as_str()),
            sk: "VISITOR".into(),
        }
    }

    fn chat(id: &ChatId) -> Self {
        Self {
            pk: format!("CHAT#{id}"),
            sk: "CHAT".into(),
        }
    }

    fn message(chat: &ChatId, id: &MessageId) -> Self {
        Self {
            pk: format!("CHAT#{chat}"),
            sk: format!("MSG#{id}"),
        }
    }

    fn send_key(chat: &ChatId, idempotency_key: &str) -> Self {
        Self {
            pk: format!("CHAT#{chat}"),
            sk: format!("SENDKEY#{idempotency_key}"),
        }
    }

    fn attributes(&self) -> Item {
        HashMap::from([
            (PK.to_owned(), string(&self.pk)),
            (SK.to_owned(), string(&self.sk)),
        ])
    }

    fn is_key_of(&self, item: &Item) -> bool {
        let text = |name| item.get(name).and_then(|value| value.as_s().ok());
        text(PK) == Some(&self.pk) && text(SK) == Some(&self.sk)
    }
}

/// A record kind stored with a version and a TTL: chats and messages.
trait StoredRecord: Serialize + DeserializeOwned + PartialEq + Send + Sync {
    const KIND: &'static str;

    fn expiry(&self, context: &StoreContext) -> Option<DateTime<Utc>>;

    /// The attributes the record's index needs, when it belongs in the index.
    fn index_attributes(&self) -> Vec<(&'static str, AttributeValue)>;
}

impl StoredRecord for ChatRecord {
    const KIND: &'static str = "chat";

    fn expiry(&self, context: &StoreContext) -> Option<DateTime<Utc>> {
        context.expiry(self.is_pending(), self.created_at)
    }

    fn index_attributes(&self) -> Vec<(&'static str, AttributeValue)> {
        let Some(owner) = &self.owner else {
            return Vec::new();
        };
        let created = self
            .created_at
            .map(|created_at| created_at.sortable())
            .unwrap_or_default();
        vec![
            (OWNER, string(owner.visitor.as_str())),
            (CHAT_ORDER, string(format!("{created}#{}", self.id))),
        ]
    }
}

impl StoredRecord for MessageRecord {
    const KIND: &'static str = "message";

    fn expiry(&self, context: &StoreContext) -> Option<DateTime<Utc>> {
        context.expiry(self.is_pending(), self.created_at)
    }

    fn index_attributes(&self) -> Vec<(&'static str, AttributeValue)> {
        self.order_key()
            .map(|key| (MSG_ORDER, string(key.as_str())))
            .into_iter()
            .collect()
    }
}

/// A versioned record as read: the version is kept even when the item has expired (and so
/// reads as absent), because the next write must still be conditioned on it.
struct Versioned<R> {
    version: Option<u64>,
    record: Option<R>,
}

impl<R: StoredRecord> Versioned<R> {
    fn decode(item: Option<Item>) -> StoreResult<Self> {
        let Some(item) = item else {
            return Ok(Self {
                version: None,
                record: None,
            });
        };
        let version = item
            .get(VERSION)
            .and_then(|value| value.as_n().ok())
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| corrupt(R::KIND, "has no version"))?;
        let record = if is_expired(&item, R::KIND)? {
            None
        } else {
            Some(decode_record(item, R::KIND)?)
        };
        Ok(Self {
            version: Some(version),
            record,
        })
    }
}

/// The item storing `record`, and the record as it will read back. The two can differ where
/// the serde form is coarser than the value (`GiosgTime` serializes milliseconds, `sortable()`
/// has microseconds), so the index attributes and the returned record are derived from the
/// stored form: cursors made from any returned record then match the index exactly.
fn versioned_item<R: StoredRecord>(
    key: &ItemKey,
    record: R,
    version: u64,
    context: &StoreContext,
) -> StoreResult<(Item, R)> {
    let image = encode_record(&record, R::KIND)?;
    let record: R = serde_dynamo::from_attribute_value(image.clone())
        .map_err(|_| corrupt(R::KIND, "does not read back as it was written"))?;
    let mut item = key.attributes();
    item.insert(RECORD.into(), image);
    item.insert(VERSION.into(), number(version));
    for (name, value) in record.index_attributes() {
        item.insert(name.into(), value);
    }
    if let Some(expires_at) = record.expiry(context) {
        item.insert(EXPIRES_AT.into(), number(expires_at.timestamp()));
    }
    Ok((item, record))
}

fn visitor_item(visitor: &VisitorRecord) -> StoreResult<Item> {
    let mut item = ItemKey::visitor(&visitor.key).attributes();
    item.insert(RECORD.into(), encode_record(visitor, "visitor")?);
    Ok(item)
}

fn encode_record<R: Serialize>(record: &R, kind: &str) -> StoreResult<AttributeValue> {
    serde_dynamo::to_attribute_value(record)
        .map_err(|_| corrupt(kind, "could not be encoded for DynamoDB"))
}

/// Takes the item: its `record` map is moved into the decoder, not deep-copied first (a copy of
/// every message's attribute tree on each history page).
fn decode_record<R: DeserializeOwned>(mut item: Item, kind: &str) -> StoreResult<R> {
    let value = item
        .remove(RECORD)
        .ok_or_else(|| corrupt(kind, "has no record"))?;
    // serde's message may quote the offending value; it is not worth leaking into a log.
    serde_dynamo::from_attribute_value(value)
        .map_err(|_| corrupt(kind, "does not match the record type"))
}

/// Whether DynamoDB's TTL has passed for an item it has not swept yet.
fn is_expired(item: &Item, kind: &str) -> StoreResult<bool> {
    let Some(value) = item.get(EXPIRES_AT) else {
        return Ok(false);
    };
    let expires_at: i64 = value
        .as_n()
        .ok()
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| corrupt(kind, "has an unreadable expiry"))?;
    Ok(expires_at <= Utc::now().timestamp())
}

fn decode_send_state(item: &Item) -> StoreResult<SendState> {
    let text = |name| item.get(name).and_then(|value| value.as_s().ok());
    match text(STATE).map(String::as_str) {
        Some(IN_FLIGHT) => {
            let since = text(SINCE)
                .and_then(|since| DateTime::parse_from_rfc3339(since).ok())
                .ok_or_else(|| corrupt("send key", "has an unreadable time"))?;
            Ok(SendState::InFlight {
                since: since.with_timezone(&Utc),
            })
        }
        Some(SENT) => {
            let message_id =
                text(MESSAGE_ID).ok_or_else(|| corrupt("send key", "has no message id"))?;
            Ok(SendState::Sent {
                message_id: MessageId::new(message_id.as_str()),
            })
        }
        _ => Err(corrupt("send key", "has an unknown state")),
    }
}

/// RFC 3339 with nanoseconds, always the same width, so that string order is time order.
fn fixed_width_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn corrupt(kind: &str, problem: &str) -> StoreError {
    StoreError::Corrupt(format!("a stored {kind} item {problem}"))
}

fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn query_limit(items: usize) -> i32 {
    i32::try_from(items).unwrap_or(i32::MAX).max(1)
}

/// A few milliseconds, doubling per attempt, with full jitter: concurrent webhook deliveries of
/// the same resource are rare and short.
async fn backoff(attempt: u32) {
    let ceiling_ms = 4u64 << attempt.min(5);
    tokio::time::sleep(Duration::from_millis(rand::random_range(0..=ceiling_ms))).await;
}

fn built<T>(result: Result<T, BuildError>) -> StoreResult<T> {
    result.map_err(|_| StoreError::Unavailable("a DynamoDB request could not be built".into()))
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// Describes a failed call by operation and error code only: messages may quote key or
/// attribute values.
fn unavailable<E: ProvideErrorMetadata, R>(
    operation: &'static str,
    error: &SdkError<E, R>,
) -> StoreError {
    let cause = match error {
        SdkError::ServiceError(service) => service.err().code().unwrap_or("unknown error"),
        SdkError::TimeoutError(_) => "timed out",
        SdkError::DispatchFailure(_) => "could not reach DynamoDB",
        SdkError::ResponseError(_) => "unreadable response",
        SdkError::ConstructionFailure(_) => "request could not be built",
        _ => "unknown error",
    };
    tracing::warn!(operation, cause, "DynamoDB call failed");
    StoreError::Unavailable(format!("DynamoDB {operation}: {cause}"))
}
