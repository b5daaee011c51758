//! The DynamoDB requests [`DynamoStore`]'s operations are made of: reads, plain and
//! conditional writes, the read-fold-write of an event, and the history query.

use aws_sdk_dynamodb::types::{Delete, KeysAndAttributes, Put, TransactWriteItem};

use super::DynamoStore;
use super::error::{
    built, cancellation_reasons, is_condition_failure, lost_to_a_concurrent_writer, unavailable,
};
use super::feed::FeedWrite;
use super::item::{Item, ItemKey, number, string};
use super::records::{StoredRecord, VERSION, Versioned, versioned_item};
use super::retry::Attempts;
use super::schema::{
    ACTIVE_AT, ACTIVE_CHATS_INDEX, ACTIVE_STATE, COUNTERS_MOVED, HISTORY_INDEX, MSG_ORDER, PK, SK,
};
use crate::domain::ChatId;
use crate::domain::Decision;
use crate::store::{ActiveChat, Applied, StoreContext, StoreError, StoreResult};

#[cfg(doc)]
use crate::store::ChatStore;

impl DynamoStore {
    pub(super) async fn get_item(&self, key: &ItemKey) -> StoreResult<Option<Item>> {
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
    pub(super) async fn batch_get(&self, keys: &[ItemKey]) -> StoreResult<Vec<Option<Item>>> {
        let mut request = Some(built(
            KeysAndAttributes::builder()
                .set_keys(Some(keys.iter().map(ItemKey::attributes).collect()))
                .consistent_read(true)
                .build(),
        )?);
        let mut found: Vec<Item> = Vec::new();
        let mut attempts = Attempts::new();
        while let Some(keys_and_attributes) = request.take() {
            if !attempts.another().await {
                return Err(StoreError::Unavailable(
                    "DynamoDB BatchGetItem kept leaving keys unprocessed".into(),
                ));
            }
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
        }
        Ok(keys
            .iter()
            .map(|key| found.iter().find(|item| key.is_key_of(item)).cloned())
            .collect())
    }

    pub(super) async fn put(&self, item: Item, operation: &'static str) -> StoreResult<()> {
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
    pub(super) async fn put_all(&self, items: Vec<Item>) -> StoreResult<()> {
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

    /// Deletes several items in one transaction.
    pub(super) async fn delete_all_atomically(&self, keys: &[ItemKey]) -> StoreResult<()> {
        let writes = keys
            .iter()
            .map(|key| {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key.attributes()))
                    .build();
                Ok(TransactWriteItem::builder().delete(built(delete)?).build())
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
            .map_err(|error| unavailable("TransactWriteItems", &error))?;
        Ok(())
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
    pub(super) async fn put_versioned(
        &self,
        item: Item,
        read_version: Option<u64>,
    ) -> StoreResult<bool> {
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
            Err(error) if is_condition_failure(&error) => {
                lost_to_a_concurrent_writer("PutItem");
                Ok(false)
            }
            Err(error) => Err(unavailable("PutItem", &error)),
        }
    }

    /// Deletes a record's item if nobody wrote it since it was read at `read_version`.
    pub(super) async fn delete_versioned(
        &self,
        key: &ItemKey,
        read_version: u64,
    ) -> StoreResult<bool> {
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
            Err(error) if is_condition_failure(&error) => {
                lost_to_a_concurrent_writer("DeleteItem");
                Ok(false)
            }
            Err(error) => Err(unavailable("DeleteItem", &error)),
        }
    }

    /// Reads a record, folds an event into it with `fold` and writes the outcome conditioned on
    /// the version read, re-reading and re-folding when a concurrent writer got there first.
    pub(super) async fn apply_folded<R: StoredRecord>(
        &self,
        key: &ItemKey,
        context: &StoreContext,
        fold: impl Fn(Option<&R>) -> Decision<R> + Send + Sync,
    ) -> StoreResult<(Applied, Option<R>)> {
        let mut attempts = Attempts::new();
        while attempts.another().await {
            let stored: Versioned<R> = Versioned::decode(self.get_item(key).await?)?;
            match fold(stored.record.as_ref()) {
                Decision::Write(record) => {
                    let version = stored.version.map_or(1, |version| version + 1);
                    let (item, record) = versioned_item(key, record, version, context)?;
                    // Only a difference the stored form cannot hold (e.g. sub-millisecond time).
                    if stored.record.as_ref() == Some(&record) {
                        return Ok((Applied::Unchanged, stored.record));
                    }
                    if R::feeds(stored.record.as_ref(), &record) {
                        let written = self
                            .put_with_feed(key, record, stored.version, context, &[])
                            .await?;
                        if let FeedWrite::Written(record) = written {
                            return Ok((Applied::Stored, Some(record)));
                        }
                    } else if self.put_versioned(item, stored.version).await? {
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
    pub(super) async fn put_new_with(
        &self,
        message: Item,
        bookkeeping: &[Item],
    ) -> StoreResult<bool> {
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
        let mut attempts = Attempts::new();
        while attempts.another().await {
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
            let reasons = cancellation_reasons(&error)?;
            if reasons.first() == Some(&"ConditionalCheckFailed") {
                lost_to_a_concurrent_writer("TransactWriteItems");
                return Ok(false);
            }
            if !reasons.contains(&"TransactionConflict") {
                return Err(unavailable("TransactWriteItems", &error));
            }
            lost_to_a_concurrent_writer("TransactWriteItems");
        }
        Err(StoreError::Contention)
    }

    /// Runs one history query, continuing only if DynamoDB cut it short of `wanted` items at its
    /// 1 MB page size.
    pub(super) async fn query_history(
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

impl DynamoStore {
    /// The chats on the `active-chats` index in `state`, from `from` on (the range key, a
    /// fixed-width time), all pages.
    pub(super) async fn query_active(
        &self,
        state: &str,
        from: Option<&str>,
    ) -> StoreResult<Vec<ActiveChat>> {
        let mut ids = Vec::new();
        let mut start_key = None;
        loop {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(ACTIVE_CHATS_INDEX)
                .expression_attribute_names("#state", ACTIVE_STATE)
                .expression_attribute_values(":state", string(state))
                .set_exclusive_start_key(start_key.take());
            let query = match from {
                Some(from) => query
                    .key_condition_expression("#state = :state AND #at >= :from")
                    .expression_attribute_names("#at", ACTIVE_AT)
                    .expression_attribute_values(":from", string(from)),
                None => query.key_condition_expression("#state = :state"),
            };
            let output = query
                .send()
                .await
                .map_err(|error| unavailable("Query", &error))?;
            for item in output.items.unwrap_or_default() {
                let id = item
                    .get(PK)
                    .and_then(|pk| pk.as_s().ok())
                    .and_then(|pk| pk.strip_prefix("CHAT#"))
                    .ok_or_else(|| StoreError::Corrupt("an active chat has no chat key".into()))?;
                let counters_moved = item
                    .get(COUNTERS_MOVED)
                    .and_then(|moved| moved.as_bool().ok())
                    .is_some_and(|moved| *moved);
                ids.push(ActiveChat {
                    id: ChatId::new(id),
                    counters_moved,
                });
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(ids),
            }
        }
    }

    /// Every item of a chat's partition whose sort key starts with `prefix` (its send keys,
    /// its subscriptions): a consistent `Query`, all pages.
    pub(super) async fn query_prefix(&self, chat: &ChatId, prefix: &str) -> StoreResult<Vec<Item>> {
        let mut items: Vec<Item> = Vec::new();
        let mut start_key = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", string(ItemKey::chat(chat).pk))
                .expression_attribute_values(":prefix", string(prefix))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|error| unavailable("Query", &error))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(items),
            }
        }
    }
}

/// Which part of a chat's history one query reads.
#[derive(Clone, Copy)]
pub(super) enum HistoryCondition<'a> {
    Newest,
    Oldest,
    Before(&'a str),
    After(&'a str),
}

fn query_limit(items: usize) -> i32 {
    i32::try_from(items).unwrap_or(i32::MAX).max(1)
}
