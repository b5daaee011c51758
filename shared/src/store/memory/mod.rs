//! An in-memory [`ChatStore`]: the test double, and a working store for the local runner.
//!
//! One mutex guards everything, so each operation is atomic exactly like its DynamoDB
//! counterpart's conditional write or transaction. [`MemoryStore::snapshot`] and
//! [`MemoryStore::from_snapshot`] let the local runner keep the store in a file across restarts;
//! [`MemoryStore::revision`] tells it when there is something new to save.
//!
//! Here: the state and the [`ChatStore`] operations. Beside it: `events.rs` (folding chat and
//! message events, placement by chat, a sent message recorded), `messages.rs` (one chat's
//! messages, its history and feed pages), `claims.rs` (idempotency keys and start claims),
//! `active.rs` (what the reconciler reads and writes), `connections.rs`
//! ([`crate::store::SubscriptionStore`]), `rate.rs`, `erasure.rs` and `snapshot.rs`.

mod active;
mod claims;
mod connections;
mod erasure;
mod events;
mod messages;
mod rate;
mod snapshot;

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::{
    ActiveChat, Applied, ChatStore, Claim, FeedEntry, HistoryPage, Reservation, START_CLAIM_TTL,
    SendContext, SendState, SentMessage, StoreContext, StoreError, StoreResult, transient_expiry,
};
use crate::domain::chat::{ChatEvent, ChatRecord};
use crate::domain::connection::{ConnectionId, ConnectionRecord, SubscriptionRecord};
use crate::domain::counters::Counters;
use crate::domain::cursor::PageRequest;
use crate::domain::message::{MessageEvent, MessageRecord};
use crate::domain::rate::{RateKey, RateState};
use crate::domain::visitor::{VisitorKey, VisitorRecord};
use crate::domain::{ChatId, GiosgTime, MessageId};

pub use erasure::StoredItem;
use messages::ChatMessages;
pub use snapshot::Snapshot;

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

/// Everything stored, each with the expiry the DynamoDB item would carry
/// ([`crate::store::StoreContext::retained`], [`crate::store::START_CLAIM_TTL`]...): reads treat
/// an expired one as absent, as the DynamoDB store does for items not swept yet.
#[derive(Default)]
struct State {
    visitors: HashMap<VisitorKey, Expiring<VisitorRecord>>,
    chats: HashMap<ChatId, Expiring<ChatRecord>>,
    messages: HashMap<ChatId, ChatMessages>,
    send_keys: claims::Slots<(ChatId, String)>,
    /// Where the reconciler's sweep stopped. Not kept in snapshots: a sweep starts over.
    reconcile_cursor: Option<Expiring<ChatId>>,
    /// Who is starting a chat for a visitor. Not kept in snapshots: a start lasts one request.
    start_claims: claims::Slots<VisitorKey>,
    /// The real-time feed's connections and subscriptions (not kept in snapshots either).
    connections: HashMap<ConnectionId, ConnectionRecord>,
    subscriptions: HashMap<(ChatId, ConnectionId), SubscriptionRecord>,
    /// Away notifications: how far each chat's feed was considered (read whatever its expiry,
    /// like the feed position), and the messages notified.
    notify_positions: HashMap<ChatId, Expiring<u64>>,
    notified: HashMap<(ChatId, MessageId), Option<DateTime<Utc>>>,
    /// Token buckets against floods (not kept in snapshots: full again within minutes).
    rate_buckets: HashMap<RateKey, Expiring<RateState>>,
    /// Bumped by every operation that may write, so a saver can tell when to save.
    revision: u64,
}

#[derive(Clone)]
struct Expiring<T> {
    record: T,
    expires_at: Option<DateTime<Utc>>,
}

impl<T> Expiring<T> {
    fn live(&self) -> Option<&T> {
        match self.expires_at {
            Some(at) if at <= Utc::now() => None,
            _ => Some(&self.record),
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied event: every mutation is a
        // single insert or remove. Keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lock, for an operation that may write: counts it in [`MemoryStore::revision`].
    fn lock_for_write(&self) -> std::sync::MutexGuard<'_, State> {
        let mut state = self.lock();
        state.revision = state.revision.wrapping_add(1);
        state
    }
}

impl State {
    fn chat(&self, id: &ChatId) -> Option<&ChatRecord> {
        self.chats.get(id).and_then(Expiring::live)
    }

    fn visitor(&self, key: &VisitorKey) -> Option<&VisitorRecord> {
        self.visitors.get(key).and_then(Expiring::live)
    }

    fn put_visitor(&mut self, visitor: &VisitorRecord, expires_at: Option<DateTime<Utc>>) {
        let record = visitor.clone();
        self.visitors
            .insert(visitor.key.clone(), Expiring { record, expires_at });
    }

    fn message(&self, chat: &ChatId, id: &MessageId) -> Option<&MessageRecord> {
        self.messages
            .get(chat)
            .and_then(|messages| messages.get(id))
    }
}

impl ChatStore for MemoryStore {
    async fn get_visitor(&self, key: &VisitorKey) -> StoreResult<Option<VisitorRecord>> {
        Ok(self.lock().visitor(key).cloned())
    }

    async fn put_visitor(
        &self,
        visitor: &VisitorRecord,
        context: &StoreContext,
    ) -> StoreResult<()> {
        self.lock_for_write()
            .put_visitor(visitor, context.retained(None));
        Ok(())
    }

    async fn get_chat(&self, id: &ChatId) -> StoreResult<Option<ChatRecord>> {
        Ok(self.lock().chat(id).cloned())
    }

    async fn get_visitor_and_chat(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
    ) -> StoreResult<(Option<VisitorRecord>, Option<ChatRecord>)> {
        let state = self.lock();
        Ok((state.visitor(key).cloned(), state.chat(chat).cloned()))
    }

    async fn get_visitor_chat_and_feed(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
    ) -> StoreResult<(Option<VisitorRecord>, Option<ChatRecord>, u64)> {
        let state = self.lock();
        let position = state.messages.get(chat).map_or(0, ChatMessages::position);
        Ok((
            state.visitor(key).cloned(),
            state.chat(chat).cloned(),
            position,
        ))
    }

    async fn feed_position(&self, chat: &ChatId) -> StoreResult<u64> {
        Ok(self
            .lock()
            .messages
            .get(chat)
            .map_or(0, ChatMessages::position))
    }

    async fn feed_page(
        &self,
        chat: &ChatId,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> StoreResult<Vec<FeedEntry>> {
        let state = self.lock();
        Ok(state
            .messages
            .get(chat)
            .map(|messages| messages.feed_page(after, upto, limit))
            .unwrap_or_default())
    }

    async fn visitor_chats(&self, key: &VisitorKey) -> StoreResult<Vec<ChatRecord>> {
        let state = self.lock();
        let mut chats: Vec<ChatRecord> = state
            .chats
            .values()
            .filter_map(Expiring::live)
            .filter(|chat| chat.owner.as_ref().is_some_and(|o| &o.visitor == key))
            .cloned()
            .collect();
        chats.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        Ok(chats)
    }

    async fn get_message(
        &self,
        chat: &ChatId,
        id: &MessageId,
    ) -> StoreResult<Option<MessageRecord>> {
        Ok(self.lock().message(chat, id).cloned())
    }

    async fn history_page(&self, chat: &ChatId, request: &PageRequest) -> StoreResult<HistoryPage> {
        let state = self.lock();
        let Some(messages) = state.messages.get(chat) else {
            return Ok(HistoryPage {
                messages: Vec::new(),
                has_older: false,
            });
        };
        Ok(messages.history_page(request))
    }

    async fn send_context(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
        idempotency_key: Option<&str>,
    ) -> StoreResult<SendContext> {
        let state = self.lock();
        Ok(SendContext {
            visitor: state.visitor(key).cloned(),
            chat: state.chat(chat).cloned(),
            key_state: idempotency_key.and_then(|k| {
                claims::state(&state.send_keys, &(chat.clone(), k.to_owned())).cloned()
            }),
        })
    }

    async fn reserve_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        claim: &Claim,
        context: &StoreContext,
    ) -> StoreResult<Reservation> {
        let slot = (chat.clone(), idempotency_key.to_owned());
        Ok(claims::reserve(
            &mut self.lock_for_write().send_keys,
            slot,
            claim,
            context.retained(None),
        ))
    }

    async fn take_over_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        from: &str,
        claim: &Claim,
        context: &StoreContext,
    ) -> StoreResult<Reservation> {
        let slot = (chat.clone(), idempotency_key.to_owned());
        Ok(claims::take_over(
            &mut self.lock_for_write().send_keys,
            slot,
            from,
            claim,
            context.retained(None),
        ))
    }

    async fn mark_send_unknown(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        owner: &str,
    ) -> StoreResult<()> {
        let slot = (chat.clone(), idempotency_key.to_owned());
        claims::mark_unknown(&mut self.lock_for_write().send_keys, slot, owner);
        Ok(())
    }

    async fn release_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        owner: &str,
    ) -> StoreResult<()> {
        let slot = (chat.clone(), idempotency_key.to_owned());
        claims::release(&mut self.lock_for_write().send_keys, slot, owner);
        Ok(())
    }

    async fn active_chats(&self, ended_since: GiosgTime) -> StoreResult<Vec<ActiveChat>> {
        Ok(self.active(ended_since))
    }

    async fn set_counters_checked(
        &self,
        chat: &ChatId,
        counters: Counters,
        context: &StoreContext,
    ) -> StoreResult<()> {
        self.check_counters(chat, counters, context);
        Ok(())
    }

    async fn reconcile_cursor(&self) -> StoreResult<Option<ChatId>> {
        Ok(self.cursor())
    }

    async fn set_reconcile_cursor(&self, cursor: Option<&ChatId>) -> StoreResult<()> {
        self.set_cursor(cursor);
        Ok(())
    }

    async fn open_send_claims(&self, chat: &ChatId) -> StoreResult<Vec<(String, SendState)>> {
        Ok(claims::open_sends(&self.lock().send_keys, chat))
    }

    async fn claim_start(&self, visitor: &VisitorKey, claim: &Claim) -> StoreResult<Reservation> {
        let mut state = self.lock_for_write();
        Ok(claims::reserve(
            &mut state.start_claims,
            visitor.clone(),
            claim,
            Some(transient_expiry(START_CLAIM_TTL)),
        ))
    }

    async fn take_over_start(
        &self,
        visitor: &VisitorKey,
        from: &str,
        claim: &Claim,
    ) -> StoreResult<Reservation> {
        let mut state = self.lock_for_write();
        Ok(claims::take_over(
            &mut state.start_claims,
            visitor.clone(),
            from,
            claim,
            Some(transient_expiry(START_CLAIM_TTL)),
        ))
    }

    async fn mark_start_unknown(&self, visitor: &VisitorKey, owner: &str) -> StoreResult<()> {
        let mut state = self.lock_for_write();
        claims::mark_unknown(&mut state.start_claims, visitor.clone(), owner);
        Ok(())
    }

    async fn release_start(&self, visitor: &VisitorKey, owner: &str) -> StoreResult<()> {
        let mut state = self.lock_for_write();
        claims::release(&mut state.start_claims, visitor.clone(), owner);
        Ok(())
    }

    async fn record_sent_message(
        &self,
        sent: &SentMessage,
        context: &StoreContext,
    ) -> StoreResult<MessageRecord> {
        self.lock_for_write().record_sent(sent, context)
    }

    async fn record_started_chat(
        &self,
        visitor: &VisitorRecord,
        chat_id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<ChatRecord> {
        let (_, record) = self.apply_chat_event(chat_id, event, context).await?;
        let record = record
            .ok_or_else(|| StoreError::Corrupt("a started chat was not stored as ours".into()))?;
        // The visitor lives at least as long as the chat it is stored with.
        let chat_created = record.created_at.map(|at| at.as_datetime());
        self.lock_for_write()
            .put_visitor(visitor, context.retained(chat_created));
        Ok(record)
    }

    async fn apply_chat_event(
        &self,
        id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<ChatRecord>)> {
        Ok(self.lock_for_write().apply_chat(id, event, context))
    }

    async fn apply_message_event(
        &self,
        chat: &ChatId,
        id: &MessageId,
        event: &MessageEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<MessageRecord>)> {
        Ok(self
            .lock_for_write()
            .apply_message(chat, id, event, context))
    }
}
