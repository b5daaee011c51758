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
//! | visitor | `VISITOR#<visitor key>` | `VISITOR` | `record`; with an identity or a `visitor_ref`: `person_ref` (S, `VisitorRecord::person_key`) |
//! | a visitor's start claim | `VISITOR#<visitor key>` | `STARTCLAIM` | as a send key in flight or unknown |
//! | chat | `CHAT#<chat id>` | `CHAT` | `record`, `version` (N); when owned: `owner` (S, visitor key), `chat_order` (S, `<created_at sortable or empty>#<chat id>`) |
//! | message | `CHAT#<chat id>` | `MSG#<message id>` | `record`, `version` (N); when it has a `created_at`: `msg_order` (S, the [`OrderKey`]) |
//! | feed position | `CHAT#<chat id>` | `FEED` | `position` (N): the last sync feed position handed out |
//! | feed entry | `CHAT#<chat id>` | `FEED#<position, 20 digits>` | `record` (the message at its latest visible change), `expires_at` as the message's |
//! | send key | `CHAT#<chat id>` | `SENDKEY#<key>` | `state` (S: `in_flight`, `unknown` or `sent`); in flight or unknown: `since` (S, fixed-width RFC 3339), `claimed_by` (S, the request that holds it), `text_digest` (S, SHA-256 of the text); sent: `message_id` (S) |
//! | where the reconciler's sweep stopped | `RECONCILE` | `CURSOR` | `after` (S, a chat id) |
//!
//! The real-time feed's items (connections, subscriptions, away-notification bookkeeping) are
//! in `connections.rs`, the token buckets against floods in `rate.rs`. [`item_kind`] tells every kind apart by its keys.
//!
//! Where things are: this file holds the [`ChatStore`] operations, most of them a few lines
//! over the files beside it: `item.rs` (keys, attribute values, expiry), `records.rs` (records
//! as items), `requests.rs` (reads, conditional writes, the read-fold-write), `retry.rs`,
//! `error.rs`, `feed.rs` (the sync feed), `placement.rs` (placement by chat), `claims.rs`
//! (send keys and start claims), `recording.rs` (a sent message, a started chat), `history.rs`
//! (a visitor's chats, history pages), `active.rs` (the reconciler's reads and its cursor),
//! `connections.rs` ([`crate::store::SubscriptionStore`]), `rate.rs`, `erasure.rs`,
//! `schema.rs` (the table as created) and `stream.rs` (the table's stream records).
//!
//! `expires_at` (N, epoch seconds) is the table's TTL attribute, and every kind of item has one
//! when retention is on: chats and messages from [`StoreContext::expiry`] (pending records after
//! the pending TTL, known ones the retention period after their creation); everything about a
//! chat or visitor (visitors, send keys, the feed position, notification bookkeeping) from
//! [`StoreContext::retained`], renewed with every write, so it outlives what it is about;
//! feed entries as their message. Transient items expire whether retention is on or off (see
//! [`crate::store::START_CLAIM_TTL`]): start claims, the sweep cursor, connections,
//! subscriptions and token buckets. DynamoDB deletes expired items lazily, so every read treats
//! an item whose `expires_at` has passed as absent, as the in-memory store does (a claim's slot
//! is free; the feed and notification positions are counters that must not go back and are read
//! as they are: they outlive every entry they counted); a write over such an item is
//! conditioned on its version like any other.
//!
//! GSI `visitor-refs` (`person_ref`, keys only): the visitors an identity subject or a
//! `visitor_ref` names, for the operator's erasure (`erasure.rs`).
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
//! | `get_visitor_and_chat`, `get_visitor_chat_and_feed`, `send_context` | 1 `BatchGetItem` (consistent) of the 2–3 keys; repeated only for `UnprocessedKeys` |
//! | `feed_page` | 1 `Query` (consistent) of the chat's `FEED#` entries between the two positions, `Limit` the page size; more only past 1 MB |
//! | `visitor_chats` | 1 `Query` on `visitor-chats`, newest first (eventually consistent, as every GSI read; more pages only past 1 MB) |
//! | `history_page` | 1 `Query` on `history` (consistent): `Latest` descending with `Limit` limit+1; `Before` `msg_order < cursor` descending, limit+1; `After` `msg_order > cursor` (or the whole chat for the start cursor) ascending, limit. Descending pages are reversed to oldest first; the extra item tells `has_older`. A second request only when DynamoDB cut the page at 1 MB |
//! | `apply_chat_event`, `apply_message_event` | `GetItem` (consistent), the domain fold, then on `Write` a `PutItem` conditioned on `attribute_not_exists(pk)` (new) or `version = <read version>` with the version bumped, on `Delete` a `DeleteItem` conditioned on the version; nothing for `Unchanged` / `Ignore`. A message write that changes what history shows (`feed.rs`) reads the chat's feed position (`GetItem`) and is one `TransactWriteItems` instead: the message on its version, the position moved on the condition that it is unchanged, the new feed entry put and the old one deleted: 3 round trips. A failed condition (a concurrent writer) re-reads and re-folds, at least 8 attempts and on for 2.5 s, with a few jittered milliseconds between (`retry.rs`), then `Contention`. 2 round trips, 1 when nothing changes. Placement by chat (`placement.rs`): a message resource without `room_id` first reads its chat (`GetItem`), and once more after writing if it had to wait; a chat placed in the room for the first time then `Query`s its items and places the messages that waited (a conditional `PutItem` each) |
//! | `reserve_send`, `take_over_send` | 1 `PutItem` of an in-flight claim conditioned on `attribute_not_exists(pk) OR (state = in_flight AND claimed_by = me)` (a retried write of our own claim is ours), or for a take-over on `state IN (in_flight, unknown) AND claimed_by = the holder found out about`; when taken, the holder's state comes back with the failure (`ReturnValuesOnConditionCheckFailure = ALL_OLD`; a `GetItem` if it does not) |
//! | `mark_send_unknown` | 1 `UpdateItem` `SET state = unknown` conditioned on `state = in_flight AND claimed_by = me` |
//! | `release_send` | 1 `DeleteItem` conditioned on `state IN (in_flight, unknown) AND claimed_by = me` |
//! | `record_sent_message` | Usually 1 `TransactWriteItems`: the message folded from nothing, put only if absent, the send key marked sent, and the visitor when given. If the message already exists (its webhook echo won the race), the event is folded in like a webhook (`GetItem` + conditional `PutItem`) and then the send key and visitor are written (1 `PutItem` or `TransactWriteItems`): 4 round trips on that rare path |
//! | `record_started_chat` | Usually 1 `TransactWriteItems`: the chat folded from nothing, put only if absent, and the visitor. If a webhook stored the chat first, the event is folded in (`GetItem` + conditional `PutItem`) and the visitor put: 3 round trips on that rare path. Then one `Query` of the chat's items, placing any message whose webhook won the race (usually none) |
//! | `write_rate_state` | 1 `PutItem` conditioned on no live state past by a time (`attribute_not_exists(tat_ms) OR tat_ms <= :at OR expires_at <= :now`) or on the `tat_ms` read; a failed condition answers the item as it is (`ReturnValuesOnConditionCheckFailure = ALL_OLD`; a `GetItem` if it does not), and a lost `tat_ms` is counted in `StoreConflicts`. A request not in a burst makes 1 round trip, one in a burst 2 |
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

mod active;
mod claims;
mod connections;
mod erasure;
mod error;
mod feed;
mod history;
mod item;
mod placement;
mod rate;
mod recording;
mod records;
mod requests;
mod retry;
mod schema;
mod stream;

use aws_sdk_dynamodb::Client;

pub use item::item_kind;
pub use schema::{
    ACTIVE_CHATS_INDEX, EXPIRES_AT, HISTORY_INDEX, TableStream, VISITOR_CHATS_INDEX,
    VISITOR_REFS_INDEX, create_table, create_table_with,
};
pub use stream::{NotAStreamBatch, StreamBatch, StreamChange, read_stream_batch};

use super::{
    ActiveChat, Applied, ChatStore, Claim, FeedEntry, HistoryPage, Reservation, START_CLAIM_TTL,
    SendContext, SendState, SentMessage, StoreContext, StoreError, StoreResult, transient_expiry,
};
use crate::domain::chat::{ChatEvent, ChatRecord, check_counters};
use crate::domain::counters::Counters;
use crate::domain::cursor::PageRequest;
use crate::domain::message::{MessageEvent, MessageRecord};
use crate::domain::visitor::{VisitorKey, VisitorRecord};
use crate::domain::{ChatId, GiosgTime, MessageId};
use claims::{ClaimWrite, FREE_OR_HELD_BY, FREE_OR_OURS, decode_send_state};
use item::{Item, ItemKey, is_expired};
use records::{Versioned, decode_visitor, visitor_item};

#[cfg(doc)]
use crate::domain::message::OrderKey;
#[cfg(doc)]
use crate::domain::visitor::PersonKey;

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
}

impl ChatStore for DynamoStore {
    async fn get_visitor(&self, key: &VisitorKey) -> StoreResult<Option<VisitorRecord>> {
        decode_visitor(self.get_item(&ItemKey::visitor(key)).await?)
    }

    async fn put_visitor(
        &self,
        visitor: &VisitorRecord,
        context: &StoreContext,
    ) -> StoreResult<()> {
        self.put(visitor_item(visitor, context.retained(None))?, "PutItem")
            .await
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
        Ok((decode_visitor(visitor)?, Versioned::decode(chat)?.record))
    }

    async fn get_visitor_chat_and_feed(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
    ) -> StoreResult<(Option<VisitorRecord>, Option<ChatRecord>, u64)> {
        let chat_key = ItemKey::chat(chat);
        let position_key = ItemKey::feed_position(&chat_key.pk);
        let keys = [ItemKey::visitor(key), chat_key, position_key];
        let [visitor, chat, position] = <[Option<Item>; 3]>::try_from(self.batch_get(&keys).await?)
            .map_err(|_| StoreError::Corrupt("BatchGetItem answered the wrong keys".into()))?;
        Ok((
            decode_visitor(visitor)?,
            Versioned::<ChatRecord>::decode(chat)?.record,
            feed::position_of(position.as_ref())?,
        ))
    }

    async fn feed_position(&self, chat: &ChatId) -> StoreResult<u64> {
        let key = ItemKey::feed_position(&ItemKey::chat(chat).pk);
        feed::position_of(self.get_item(&key).await?.as_ref())
    }

    async fn feed_page(
        &self,
        chat: &ChatId,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> StoreResult<Vec<FeedEntry>> {
        self.query_feed(chat, after, upto, limit).await
    }

    async fn visitor_chats(&self, key: &VisitorKey) -> StoreResult<Vec<ChatRecord>> {
        self.list_visitor_chats(key).await
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
        self.read_history_page(chat, request).await
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
        let key_state = match key_state {
            Some(item) if !is_expired(&item, "send key")? => Some(decode_send_state(&item)?),
            _ => None,
        };
        Ok(SendContext {
            visitor: decode_visitor(visitor)?,
            chat: Versioned::decode(chat)?.record,
            key_state,
        })
    }

    async fn reserve_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        claim: &Claim,
        context: &StoreContext,
    ) -> StoreResult<Reservation> {
        let key = ItemKey::send_key(chat, idempotency_key);
        let claim = ClaimWrite::new(&key, claim, context.retained(None));
        // Free, or ours already: an SDK retry of a write that landed must not see a stranger.
        self.put_claim(claim, FREE_OR_OURS, &claim.claim.owner)
            .await
    }

    async fn take_over_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        from: &str,
        claim: &Claim,
        context: &StoreContext,
    ) -> StoreResult<Reservation> {
        let key = ItemKey::send_key(chat, idempotency_key);
        let claim = ClaimWrite::new(&key, claim, context.retained(None));
        self.put_claim(claim, FREE_OR_HELD_BY, from).await
    }

    async fn mark_send_unknown(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        owner: &str,
    ) -> StoreResult<()> {
        self.mark_unknown(&ItemKey::send_key(chat, idempotency_key), owner)
            .await
    }

    async fn release_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        owner: &str,
    ) -> StoreResult<()> {
        self.release_claim(&ItemKey::send_key(chat, idempotency_key), owner)
            .await
    }

    async fn active_chats(&self, ended_since: GiosgTime) -> StoreResult<Vec<ActiveChat>> {
        self.active(ended_since).await
    }

    async fn set_counters_checked(
        &self,
        chat: &ChatId,
        counters: Counters,
        context: &StoreContext,
    ) -> StoreResult<()> {
        self.apply_folded(
            &ItemKey::chat(chat),
            context,
            |current: Option<&ChatRecord>| check_counters(current, counters),
        )
        .await?;
        Ok(())
    }

    async fn reconcile_cursor(&self) -> StoreResult<Option<ChatId>> {
        self.read_reconcile_cursor().await
    }

    async fn set_reconcile_cursor(&self, cursor: Option<&ChatId>) -> StoreResult<()> {
        self.write_reconcile_cursor(cursor).await
    }

    async fn open_send_claims(&self, chat: &ChatId) -> StoreResult<Vec<(String, SendState)>> {
        self.open_sends(chat).await
    }

    async fn claim_start(&self, visitor: &VisitorKey, claim: &Claim) -> StoreResult<Reservation> {
        let key = ItemKey::start_claim(visitor);
        let claim = ClaimWrite::new(&key, claim, Some(transient_expiry(START_CLAIM_TTL)));
        self.put_claim(claim, FREE_OR_OURS, &claim.claim.owner)
            .await
    }

    async fn take_over_start(
        &self,
        visitor: &VisitorKey,
        from: &str,
        claim: &Claim,
    ) -> StoreResult<Reservation> {
        let key = ItemKey::start_claim(visitor);
        let claim = ClaimWrite::new(&key, claim, Some(transient_expiry(START_CLAIM_TTL)));
        self.put_claim(claim, FREE_OR_HELD_BY, from).await
    }

    async fn mark_start_unknown(&self, visitor: &VisitorKey, owner: &str) -> StoreResult<()> {
        self.mark_unknown(&ItemKey::start_claim(visitor), owner)
            .await
    }

    async fn release_start(&self, visitor: &VisitorKey, owner: &str) -> StoreResult<()> {
        self.release_claim(&ItemKey::start_claim(visitor), owner)
            .await
    }

    async fn record_sent_message(
        &self,
        sent: &SentMessage,
        context: &StoreContext,
    ) -> StoreResult<MessageRecord> {
        self.record_sent(sent, context).await
    }

    async fn record_started_chat(
        &self,
        visitor: &VisitorRecord,
        chat_id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<ChatRecord> {
        self.record_started(visitor, chat_id, event, context).await
    }

    async fn apply_chat_event(
        &self,
        id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<ChatRecord>)> {
        self.fold_chat(id, event, context).await
    }

    async fn apply_message_event(
        &self,
        chat: &ChatId,
        id: &MessageId,
        event: &MessageEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<MessageRecord>)> {
        self.fold_message(chat, id, event, context).await
    }
}
