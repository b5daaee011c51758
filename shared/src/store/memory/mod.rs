//! An in-memory [`ChatStore`]: the test double, and a working store for the local runner.
//!
//! One mutex guards everything, so each operation is atomic exactly like its DynamoDB
//! counterpart's conditional write or transaction. [`MemoryStore::snapshot`] and
//! [`MemoryStore::from_snapshot`] let the local runner keep the store in a file across restarts;
//! [`MemoryStore::revision`] tells it when there is something new to save.

mod active;
mod claims;
mod connections;
mod erasure;
mod messages;
mod rate;
mod snapshot;

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::{
    ActiveChat, Applied, ChatStore, Claim, FeedEntry, HistoryPage, RECONCILE_CURSOR_TTL,
    Reservation, START_CLAIM_TTL, SendContext, SendState, SentMessage, StoreContext, StoreResult,
    transient_expiry,
};
use crate::domain::Decision;
use crate::domain::chat::{ChatEvent, ChatRecord, apply_chat_event};
use crate::domain::connection::{ConnectionId, ConnectionRecord, SubscriptionRecord};
use crate::domain::counters::Counters;
use crate::domain::cursor::PageRequest;
use crate::domain::message::{
    MessageEvent, MessageRecord, apply_message_event, may_place_by_chat, place_by_chat,
};
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

    /// Places the messages that waited for their chat to arrive (see [`place_by_chat`]).
    fn place_waiting_messages(&mut self, chat: &ChatId, context: &StoreContext) {
        let Some(messages) = self.messages.get(chat) else {
            return;
        };
        let chat_record = self.chat(chat).cloned();
        let placed: Vec<MessageRecord> = messages
            .by_id
            .values()
            .filter_map(Expiring::live)
            .filter_map(|record| place_by_chat(record, chat_record.as_ref(), &context.room_id))
            .collect();
        let messages = self.messages.entry(chat.clone()).or_default();
        for record in placed {
            let expires_at = context.expiry(record.is_pending(), record.created_at);
            messages.put(record, expires_at, context);
        }
    }

    fn apply_message(
        &mut self,
        chat: &ChatId,
        id: &MessageId,
        event: &MessageEvent,
        context: &StoreContext,
    ) -> (Applied, Option<MessageRecord>) {
        let current = self.message(chat, id).cloned();
        let decision =
            match apply_message_event(current.as_ref(), chat, id, event, &context.room_id) {
                Decision::Write(record) if may_place_by_chat(event) => Decision::Write(
                    place_by_chat(&record, self.chat(chat), &context.room_id).unwrap_or(record),
                ),
                other => other,
            };
        match decision {
            Decision::Write(record) => {
                let expires_at = context.expiry(record.is_pending(), record.created_at);
                let record = self
                    .messages
                    .entry(chat.clone())
                    .or_default()
                    .put(record, expires_at, context);
                (Applied::Stored, Some(record))
            }
            Decision::Unchanged => (Applied::Unchanged, current),
            Decision::Ignore => (Applied::Ignored, None),
            Decision::Delete => {
                if let Some(messages) = self.messages.get_mut(chat) {
                    messages.remove(id);
                }
                (Applied::Deleted, None)
            }
        }
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
        let live = |id: &MessageId| messages.get(id).cloned();
        let limit = request.limit();
        let (page, has_older) = match request {
            PageRequest::Latest { .. } => {
                let mut newest: Vec<MessageRecord> = messages
                    .order
                    .values()
                    .rev()
                    .filter_map(live)
                    .take(limit + 1)
                    .collect();
                let has_older = newest.len() > limit;
                newest.truncate(limit);
                newest.reverse();
                (newest, has_older)
            }
            PageRequest::Before { cursor, .. } => {
                let mut older: Vec<MessageRecord> = messages
                    .order
                    .range(..cursor.key().clone())
                    .rev()
                    .map(|(_, id)| id)
                    .filter_map(live)
                    .take(limit + 1)
                    .collect();
                let has_older = older.len() > limit;
                older.truncate(limit);
                older.reverse();
                (older, has_older)
            }
            PageRequest::After { cursor, .. } => {
                let newer: Vec<MessageRecord> = messages
                    .order
                    .range((
                        std::ops::Bound::Excluded(cursor.key().clone()),
                        std::ops::Bound::Unbounded,
                    ))
                    .map(|(_, id)| id)
                    .filter_map(live)
                    .take(limit)
                    .collect();
                (newer, !cursor.is_start())
            }
        };
        Ok(HistoryPage {
            messages: page,
            has_older,
        })
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
        Ok(self
            .lock()
            .reconcile_cursor
            .as_ref()
            .and_then(Expiring::live)
            .cloned())
    }

    async fn set_reconcile_cursor(&self, cursor: Option<&ChatId>) -> StoreResult<()> {
        self.lock_for_write().reconcile_cursor = cursor.map(|after| Expiring {
            record: after.clone(),
            expires_at: Some(transient_expiry(RECONCILE_CURSOR_TTL)),
        });
        Ok(())
    }

    async fn open_send_claims(&self, chat: &ChatId) -> StoreResult<Vec<(String, SendState)>> {
        let state = self.lock();
        let mut open: Vec<(String, SendState)> = state
            .send_keys
            .iter()
            .filter_map(|(slot, held)| Some((slot, held.live()?)))
            .filter(|((of, _), claim)| of == chat && !matches!(claim, SendState::Sent { .. }))
            .map(|((_, key), claim)| (key.clone(), claim.clone()))
            .collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(open)
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
        let mut state = self.lock_for_write();
        let (_, record) =
            state.apply_message(&sent.chat_id, &sent.message_id, &sent.event, context);
        let record = record.ok_or_else(|| {
            super::StoreError::Corrupt("a sent message was not stored as ours".into())
        })?;
        if let Some(key) = &sent.idempotency_key {
            state.send_keys.insert(
                (sent.chat_id.clone(), key.clone()),
                Expiring {
                    record: SendState::Sent {
                        message_id: sent.message_id.clone(),
                    },
                    expires_at: context.retained(None),
                },
            );
        }
        if let Some(visitor) = &sent.visitor {
            state.put_visitor(visitor, context.retained(None));
        }
        Ok(record)
    }

    async fn record_started_chat(
        &self,
        visitor: &VisitorRecord,
        chat_id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<ChatRecord> {
        let (_, record) = self.apply_chat_event(chat_id, event, context).await?;
        let record = record.ok_or_else(|| {
            super::StoreError::Corrupt("a started chat was not stored as ours".into())
        })?;
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
        let mut state = self.lock_for_write();
        let current = state.chat(id).cloned();
        Ok(
            match apply_chat_event(current.as_ref(), id, event, &context.room_id) {
                Decision::Write(record) => {
                    let expires_at = context.expiry(record.is_pending(), record.created_at);
                    state.chats.insert(
                        id.clone(),
                        Expiring {
                            record: record.clone(),
                            expires_at,
                        },
                    );
                    if current.as_ref().is_none_or(ChatRecord::is_pending) {
                        state.place_waiting_messages(id, context);
                    }
                    (Applied::Stored, Some(record))
                }
                Decision::Unchanged => (Applied::Unchanged, current),
                Decision::Ignore => (Applied::Ignored, None),
                Decision::Delete => {
                    state.chats.remove(id);
                    (Applied::Deleted, None)
                }
            },
        )
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
