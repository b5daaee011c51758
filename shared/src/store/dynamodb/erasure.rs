//! Erasure in DynamoDB ([`ErasureStore`]): a chat is its partition (`CHAT#<id>`: one `Query`
//! of its keys), a visitor its own (`VISITOR#<key>`: the record, the start claim and a note per
//! connection, each naming a `CONN#<id>` item); both are deleted with `BatchWriteItem`, 25 keys
//! a request. A person's visitors are found on the sparse `visitor-refs` index, a visitor's
//! chats on `visitor-chats` (both eventually consistent, keys only).

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

use super::DynamoStore;
use super::error::{built, unavailable};
use super::item::{
    CHAT_PREFIX, CHAT_SK, CONNECTION_PREFIX, Item, ItemKey, SUBSCRIPTION_PREFIX, VISITOR_PREFIX,
    VISITOR_SK, item_kind, string,
};
use super::retry::Attempts;
use super::schema::{OWNER, PERSON_REF, PK, SK, VISITOR_CHATS_INDEX, VISITOR_REFS_INDEX};
use crate::domain::ChatId;
use crate::domain::connection::ConnectionId;
use crate::domain::visitor::{PersonKey, VisitorKey};
use crate::store::{Erased, ErasedChat, ErasureStore, ItemKind, StoreError, StoreResult};

/// The most keys one `BatchWriteItem` takes.
const BATCH_WRITE_MAX: usize = 25;

impl ErasureStore for DynamoStore {
    async fn visitors_of(&self, person: &PersonKey) -> StoreResult<Vec<VisitorKey>> {
        let items = self
            .query_keys(Some(VISITOR_REFS_INDEX), PERSON_REF, person.as_str())
            .await?;
        Ok(items
            .iter()
            .filter_map(ItemKey::of)
            .filter(|key| key.sort_key() == VISITOR_SK)
            .filter_map(|key| {
                let visitor = key.pk.strip_prefix(VISITOR_PREFIX)?;
                Some(VisitorKey::from_stored(visitor.to_owned()))
            })
            .collect())
    }

    async fn chats_of(&self, visitor: &VisitorKey) -> StoreResult<Vec<ChatId>> {
        let items = self
            .query_keys(Some(VISITOR_CHATS_INDEX), OWNER, visitor.as_str())
            .await?;
        Ok(items
            .iter()
            .filter_map(ItemKey::of)
            .filter(|key| key.sort_key() == CHAT_SK)
            .filter_map(|key| Some(ChatId::new(key.pk.strip_prefix(CHAT_PREFIX)?)))
            .collect())
    }

    async fn erase_chat(&self, chat: &ChatId) -> StoreResult<ErasedChat> {
        let partition = ItemKey::chat(chat).pk;
        let keys: Vec<ItemKey> = self
            .query_keys(None, PK, &partition)
            .await?
            .iter()
            .filter_map(ItemKey::of)
            .collect();
        let mut erased = ErasedChat::default();
        for key in &keys {
            let Some(kind) = item_kind(&key.pk, key.sort_key()) else {
                continue;
            };
            erased.erased.count(kind);
            if let Some(connection) = key.sort_key().strip_prefix(SUBSCRIPTION_PREFIX) {
                erased.subscribers.push(ConnectionId::new(connection));
            }
        }
        self.delete_all(keys).await?;
        Ok(erased)
    }

    async fn erase_visitor(&self, visitor: &VisitorKey) -> StoreResult<Erased> {
        let partition = ItemKey::visitor(visitor).pk;
        let mut keys: Vec<ItemKey> = self
            .query_keys(None, PK, &partition)
            .await?
            .iter()
            .filter_map(ItemKey::of)
            .collect();
        let mut erased = Erased::default();
        let mut connections = Vec::new();
        for key in &keys {
            match item_kind(&key.pk, key.sort_key()) {
                Some(ItemKind::ConnectionNote) => {
                    let connection = &key.sort_key()[CONNECTION_PREFIX.len()..];
                    erased.count(ItemKind::Connection);
                    connections.push(ItemKey::connection(connection));
                }
                Some(kind) => erased.count(kind),
                None => {}
            }
        }
        keys.extend(connections);
        self.delete_all(keys).await?;
        Ok(erased)
    }
}

impl DynamoStore {
    /// The keys of every item whose `attribute` is `value`, on the table (`attribute` is its
    /// partition key) or a keys-only read of an index; consistent on the table, all pages.
    async fn query_keys(
        &self,
        index: Option<&str>,
        attribute: &str,
        value: &str,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .consistent_read(index.is_none())
                .key_condition_expression("#key = :value")
                .projection_expression("#pk, #sk")
                .expression_attribute_names("#key", attribute)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":value", string(value))
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

    /// Deletes the items, 25 to a `BatchWriteItem`, repeating what DynamoDB left unprocessed.
    async fn delete_all(&self, keys: Vec<ItemKey>) -> StoreResult<()> {
        for chunk in keys.chunks(BATCH_WRITE_MAX) {
            let mut requests = chunk
                .iter()
                .map(|key| {
                    let delete = built(
                        DeleteRequest::builder()
                            .set_key(Some(key.attributes()))
                            .build(),
                    )?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let mut attempts = Attempts::new();
            while !requests.is_empty() {
                if !attempts.another().await {
                    return Err(StoreError::Unavailable(
                        "DynamoDB BatchWriteItem kept leaving items unprocessed".into(),
                    ));
                }
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|error| unavailable("BatchWriteItem", &error))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }
}
