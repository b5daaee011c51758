//! A store that announces what it stored: the local runner's stand-in for the table's DynamoDB
//! stream. It wraps any store, passes every call through, and after a write that stored
//! something sends which chat's sync feed or state moved on a channel; the local notifier turns
//! those into [`crate::service::Changes`] for [`crate::service::Service::push_changes`], the
//! same notifier the Lambda function runs on the stream.

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedSender;

use crate::domain::ChatId;
use crate::domain::chat::{ChatEvent, ChatRecord};
use crate::domain::connection::{ConnectionId, ConnectionRecord, SubscriptionRecord};
use crate::domain::counters::Counters;
use crate::domain::cursor::PageRequest;
use crate::domain::message::{MessageEvent, MessageRecord};
use crate::domain::rate::{Expected, RateKey, RateState};
use crate::domain::visitor::{PersonKey, VisitorKey, VisitorRecord};
use crate::domain::{GiosgTime, MessageId};
use crate::store::{
    ActiveChat, Applied, ChatStore, Claim, Erased, ErasedChat, ErasureStore, FeedEntry,
    HistoryPage, RateLimitStore, RateWrite, Reservation, SendContext, SendState, SentMessage,
    StoreContext, StoreResult, SubscriptionStore,
};

/// What moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// The chat's sync feed may have moved.
    Feed(ChatId),
    /// The chat itself changed.
    Chat(ChatId),
}

/// `inner`, announcing its writes on `signals`.
pub struct Announcing<S> {
    inner: S,
    signals: UnboundedSender<Signal>,
}

impl<S> Announcing<S> {
    pub fn new(inner: S, signals: UnboundedSender<Signal>) -> Self {
        Self { inner, signals }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn announce(&self, signal: Signal) {
        // Nobody listening (the notifier stopped): nothing to push to either.
        let _ = self.signals.send(signal);
    }
}

impl<S: ChatStore> ChatStore for Announcing<S> {
    async fn active_chats(&self, ended_since: GiosgTime) -> StoreResult<Vec<ActiveChat>> {
        self.inner.active_chats(ended_since).await
    }

    async fn set_counters_checked(
        &self,
        chat: &ChatId,
        counters: Counters,
        context: &StoreContext,
    ) -> StoreResult<()> {
        self.inner
            .set_counters_checked(chat, counters, context)
            .await
    }

    async fn get_visitor_chat_and_feed(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
    ) -> StoreResult<(Option<VisitorRecord>, Option<ChatRecord>, u64)> {
        self.inner.get_visitor_chat_and_feed(key, chat).await
    }

    async fn feed_position(&self, chat: &ChatId) -> StoreResult<u64> {
        self.inner.feed_position(chat).await
    }

    async fn feed_page(
        &self,
        chat: &ChatId,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> StoreResult<Vec<FeedEntry>> {
        self.inner.feed_page(chat, after, upto, limit).await
    }

    async fn reconcile_cursor(&self) -> StoreResult<Option<ChatId>> {
        self.inner.reconcile_cursor().await
    }

    async fn set_reconcile_cursor(&self, cursor: Option<&ChatId>) -> StoreResult<()> {
        self.inner.set_reconcile_cursor(cursor).await
    }

    async fn open_send_claims(&self, chat: &ChatId) -> StoreResult<Vec<(String, SendState)>> {
        self.inner.open_send_claims(chat).await
    }

    async fn get_visitor(&self, key: &VisitorKey) -> StoreResult<Option<VisitorRecord>> {
        self.inner.get_visitor(key).await
    }

    async fn put_visitor(
        &self,
        visitor: &VisitorRecord,
        context: &StoreContext,
    ) -> StoreResult<()> {
        self.inner.put_visitor(visitor, context).await
    }

    async fn get_chat(&self, id: &ChatId) -> StoreResult<Option<ChatRecord>> {
        self.inner.get_chat(id).await
    }

    async fn get_visitor_and_chat(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
    ) -> StoreResult<(Option<VisitorRecord>, Option<ChatRecord>)> {
        self.inner.get_visitor_and_chat(key, chat).await
    }

    async fn visitor_chats(&self, key: &VisitorKey) -> StoreResult<Vec<ChatRecord>> {
        self.inner.visitor_chats(key).await
    }

    async fn get_message(
        &self,
        chat: &ChatId,
        id: &MessageId,
    ) -> StoreResult<Option<MessageRecord>> {
        self.inner.get_message(chat, id).await
    }

    async fn history_page(&self, chat: &ChatId, request: &PageRequest) -> StoreResult<HistoryPage> {
        self.inner.history_page(chat, request).await
    }

    async fn send_context(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
        idempotency_key: Option<&str>,
    ) -> StoreResult<SendContext> {
        self.inner.send_context(key, chat, idempotency_key).await
    }

    async fn reserve_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        claim: &Claim,
        context: &StoreContext,
    ) -> StoreResult<Reservation> {
        self.inner
            .reserve_send(chat, idempotency_key, claim, context)
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
        self.inner
            .take_over_send(chat, idempotency_key, from, claim, context)
            .await
    }

    async fn mark_send_unknown(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        owner: &str,
    ) -> StoreResult<()> {
        self.inner
            .mark_send_unknown(chat, idempotency_key, owner)
            .await
    }

    async fn release_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        owner: &str,
    ) -> StoreResult<()> {
        self.inner.release_send(chat, idempotency_key, owner).await
    }

    async fn claim_start(&self, visitor: &VisitorKey, claim: &Claim) -> StoreResult<Reservation> {
        self.inner.claim_start(visitor, claim).await
    }

    async fn take_over_start(
        &self,
        visitor: &VisitorKey,
        from: &str,
        claim: &Claim,
    ) -> StoreResult<Reservation> {
        self.inner.take_over_start(visitor, from, claim).await
    }

    async fn mark_start_unknown(&self, visitor: &VisitorKey, owner: &str) -> StoreResult<()> {
        self.inner.mark_start_unknown(visitor, owner).await
    }

    async fn release_start(&self, visitor: &VisitorKey, owner: &str) -> StoreResult<()> {
        self.inner.release_start(visitor, owner).await
    }

    async fn record_sent_message(
        &self,
        sent: &SentMessage,
        context: &StoreContext,
    ) -> StoreResult<MessageRecord> {
        let done = self.inner.record_sent_message(sent, context).await?;
        self.announce(Signal::Feed(sent.chat_id.clone()));
        Ok(done)
    }

    async fn record_started_chat(
        &self,
        visitor: &VisitorRecord,
        chat_id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<ChatRecord> {
        let done = self
            .inner
            .record_started_chat(visitor, chat_id, event, context)
            .await?;
        self.announce(Signal::Feed(chat_id.clone()));
        Ok(done)
    }

    async fn apply_chat_event(
        &self,
        id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<ChatRecord>)> {
        let done = self.inner.apply_chat_event(id, event, context).await?;
        if done.0 == Applied::Stored {
            // A chat placed in the room for the first time places its waiting messages too.
            self.announce(Signal::Chat(id.clone()));
            self.announce(Signal::Feed(id.clone()));
        }
        Ok(done)
    }

    async fn apply_message_event(
        &self,
        chat: &ChatId,
        id: &MessageId,
        event: &MessageEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<MessageRecord>)> {
        let done = self
            .inner
            .apply_message_event(chat, id, event, context)
            .await?;
        if done.0 == Applied::Stored {
            self.announce(Signal::Feed(chat.clone()));
        }
        Ok(done)
    }
}

impl<S: SubscriptionStore> SubscriptionStore for Announcing<S> {
    async fn put_connection(&self, connection: &ConnectionRecord) -> StoreResult<()> {
        self.inner.put_connection(connection).await
    }

    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<ConnectionRecord>> {
        self.inner.get_connection(id).await
    }

    async fn delete_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        self.inner.delete_connection(id).await
    }

    async fn put_subscription(&self, subscription: &SubscriptionRecord) -> StoreResult<()> {
        self.inner.put_subscription(subscription).await
    }

    async fn subscriptions(&self, chat: &ChatId) -> StoreResult<Vec<SubscriptionRecord>> {
        self.inner.subscriptions(chat).await
    }

    async fn advance_subscription(
        &self,
        chat: &ChatId,
        connection: &ConnectionId,
        to: u64,
    ) -> StoreResult<()> {
        self.inner.advance_subscription(chat, connection, to).await
    }

    async fn delete_subscription(
        &self,
        chat: &ChatId,
        connection: &ConnectionId,
    ) -> StoreResult<()> {
        self.inner.delete_subscription(chat, connection).await
    }

    async fn notify_position(&self, chat: &ChatId) -> StoreResult<u64> {
        self.inner.notify_position(chat).await
    }

    async fn advance_notify_position(
        &self,
        chat: &ChatId,
        to: u64,
        context: &StoreContext,
    ) -> StoreResult<()> {
        self.inner.advance_notify_position(chat, to, context).await
    }

    async fn claim_notification(
        &self,
        chat: &ChatId,
        message: &MessageId,
        context: &StoreContext,
    ) -> StoreResult<bool> {
        self.inner.claim_notification(chat, message, context).await
    }
}

/// Limits are nobody's feed: nothing to announce.
impl<S: RateLimitStore> RateLimitStore for Announcing<S> {
    async fn write_rate_state(
        &self,
        key: &RateKey,
        expected: Expected,
        next: RateState,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<RateWrite> {
        self.inner
            .write_rate_state(key, expected, next, expires_at)
            .await
    }
}

/// Erasure deletes only: nothing to push, nothing to announce.
impl<S: ErasureStore> ErasureStore for Announcing<S> {
    async fn visitors_of(&self, person: &PersonKey) -> StoreResult<Vec<VisitorKey>> {
        self.inner.visitors_of(person).await
    }

    async fn chats_of(&self, visitor: &VisitorKey) -> StoreResult<Vec<ChatId>> {
        self.inner.chats_of(visitor).await
    }

    async fn erase_chat(&self, chat: &ChatId) -> StoreResult<ErasedChat> {
        self.inner.erase_chat(chat).await
    }

    async fn erase_visitor(&self, visitor: &VisitorKey) -> StoreResult<Erased> {
        self.inner.erase_visitor(visitor).await
    }
}
