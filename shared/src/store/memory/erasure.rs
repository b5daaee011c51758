//! Erasure in memory ([`ErasureStore`]), with the same counts as the DynamoDB store's, and
//! [`MemoryStore::inventory`]: what it holds, as the DynamoDB table's items would be.

use chrono::{DateTime, Utc};

use super::{Expiring, MemoryStore};
use crate::domain::ChatId;
use crate::domain::rate::RateKey;
use crate::domain::visitor::{PersonKey, VisitorKey};
use crate::store::{Erased, ErasedChat, ErasureStore, ItemKind, StoreResult};

/// One item the store holds: its kind, its key (what it belongs to: a chat or visitor id, with
/// the item's own id after a space where it has one) followed by its record as JSON, and when
/// it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredItem {
    pub kind: ItemKind,
    pub key: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl ErasureStore for MemoryStore {
    async fn visitors_of(&self, person: &PersonKey) -> StoreResult<Vec<VisitorKey>> {
        let state = self.lock();
        let mut found: Vec<VisitorKey> = state
            .visitors
            .values()
            .filter(|visitor| visitor.record.person_key().as_ref() == Some(person))
            .map(|visitor| visitor.record.key.clone())
            .collect();
        found.sort();
        Ok(found)
    }

    async fn chats_of(&self, visitor: &VisitorKey) -> StoreResult<Vec<ChatId>> {
        let state = self.lock();
        let mut found: Vec<ChatId> = state
            .chats
            .values()
            .filter(|chat| {
                (chat.record.owner.as_ref()).is_some_and(|owner| &owner.visitor == visitor)
            })
            .map(|chat| chat.record.id.clone())
            .collect();
        found.sort();
        Ok(found)
    }

    async fn erase_chat(&self, chat: &ChatId) -> StoreResult<ErasedChat> {
        let mut state = self.lock_for_write();
        let mut erased = ErasedChat::default();
        let counted = &mut erased.erased;
        if state.chats.remove(chat).is_some() {
            counted.count(ItemKind::Chat);
        }
        if let Some(messages) = state.messages.remove(chat) {
            counted.messages += messages.by_id.len();
            counted.feed_entries += messages.feed_entries().count();
            if messages.position() > 0 {
                counted.count(ItemKind::FeedPosition);
            }
        }
        let before = state.send_keys.len();
        state.send_keys.retain(|(of, _), _| of != chat);
        counted.send_keys += before - state.send_keys.len();
        let mut subscribers = Vec::new();
        state.subscriptions.retain(|(of, connection), _| {
            let erase = of == chat;
            if erase {
                subscribers.push(connection.clone());
            }
            !erase
        });
        subscribers.sort();
        counted.subscriptions += subscribers.len();
        erased.subscribers = subscribers;
        if state.notify_positions.remove(chat).is_some() {
            erased.erased.count(ItemKind::NotifyPosition);
        }
        let before = state.notified.len();
        state.notified.retain(|(of, _), _| of != chat);
        erased.erased.notifications += before - state.notified.len();
        Ok(erased)
    }

    async fn erase_visitor(&self, visitor: &VisitorKey) -> StoreResult<Erased> {
        let mut state = self.lock_for_write();
        let mut erased = Erased::default();
        if state.visitors.remove(visitor).is_some() {
            erased.count(ItemKind::Visitor);
        }
        if state.start_claims.remove(visitor).is_some() {
            erased.count(ItemKind::StartClaim);
        }
        let before = state.connections.len();
        state
            .connections
            .retain(|_, connection| &connection.visitor != visitor);
        erased.connections += before - state.connections.len();
        let before = state.rate_buckets.len();
        state
            .rate_buckets
            .retain(|key, _| key.visitor() != Some(visitor));
        erased.rate_buckets += before - state.rate_buckets.len();
        Ok(erased)
    }
}

impl MemoryStore {
    /// Everything the store holds, expired items not forgotten yet included, in a stable
    /// order: what a scan of the DynamoDB table would find (without its connection notes).
    pub fn inventory(&self) -> Vec<StoredItem> {
        let state = self.lock();
        let mut items = Vec::new();
        let mut add = |kind, key: String, expires_at| {
            items.push(StoredItem {
                kind,
                key,
                expires_at,
            });
        };
        for (key, visitor) in &state.visitors {
            let key = described(key.as_str().to_owned(), &visitor.record);
            add(ItemKind::Visitor, key, visitor.expires_at);
        }
        for (key, claim) in &state.start_claims {
            let key = described(key.as_str().to_owned(), &claim.record);
            add(ItemKind::StartClaim, key, claim.expires_at);
        }
        for (id, connection) in &state.connections {
            let key = described(id.to_string(), connection);
            add(ItemKind::Connection, key, Some(connection.expires_at));
        }
        for (id, chat) in &state.chats {
            let key = described(id.to_string(), &chat.record);
            add(ItemKind::Chat, key, chat.expires_at);
        }
        for (chat, messages) in &state.messages {
            for (id, message) in &messages.by_id {
                let key = described(format!("{chat} {id}"), &message.record);
                add(ItemKind::Message, key, message.expires_at);
            }
            for (position, expires_at) in messages.feed_entries() {
                let key = format!("{chat} {position}");
                add(ItemKind::FeedEntry, key, expires_at);
            }
            if messages.position() > 0 {
                let expires_at = messages.position_expires_at;
                add(ItemKind::FeedPosition, chat.to_string(), expires_at);
            }
        }
        for ((chat, key), held) in &state.send_keys {
            let key = described(format!("{chat} {key}"), &held.record);
            add(ItemKind::SendKey, key, held.expires_at);
        }
        for ((chat, connection), subscription) in &state.subscriptions {
            let key = described(format!("{chat} {connection}"), subscription);
            add(ItemKind::Subscription, key, Some(subscription.expires_at));
        }
        for (chat, position) in &state.notify_positions {
            let key = chat.to_string();
            add(ItemKind::NotifyPosition, key, position.expires_at);
        }
        for ((chat, message), expires_at) in &state.notified {
            let key = format!("{chat} {message}");
            add(ItemKind::Notification, key, *expires_at);
        }
        for (key, bucket) in &state.rate_buckets {
            let owner = match key {
                RateKey::Sends(visitor) | RateKey::Starts(visitor) => visitor.as_str(),
                RateKey::AnonymousStartsFrom(source) => source.as_str(),
                RateKey::AnonymousStarts => "anyone",
            };
            let key = described(format!("{owner} {}", key.kind().as_str()), &bucket.record);
            add(ItemKind::RateBucket, key, bucket.expires_at);
        }
        if let Some(Expiring { record, expires_at }) = &state.reconcile_cursor {
            add(ItemKind::ReconcileCursor, record.to_string(), *expires_at);
        }
        items.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
        items
    }
}

/// `key` and, after a space, `record` as JSON.
fn described(key: String, record: &impl serde::Serialize) -> String {
    let json = serde_json::to_string(record).unwrap_or_default();
    format!("{key} {json}")
}
