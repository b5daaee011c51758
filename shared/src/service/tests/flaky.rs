//! A store that fails when told to: the in-memory store behind a counter of writes, failing
//! the chosen one either before it is made or after (the write landed, its answer was lost,
//! as when DynamoDB's response does not arrive).

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::domain::chat::{ChatEvent, ChatRecord};
use crate::domain::counters::Counters;
use crate::domain::cursor::PageRequest;
use crate::domain::message::{MessageEvent, MessageRecord};
use crate::domain::rate::{Expected, RateKey, RateState};
use crate::domain::visitor::{VisitorKey, VisitorRecord};
use crate::domain::{ChatId, GiosgTime, MessageId};
use crate::store::memory::MemoryStore;
use crate::store::{
    ActiveChat, Applied, ChatStore, Claim, FeedEntry, HistoryPage, RateLimitStore, RateWrite,
    Reservation, SendContext, SendState, SentMessage, StoreContext, StoreError, StoreResult,
};

#[derive(Default)]
pub(super) struct FlakyStore {
    pub(super) inner: MemoryStore,
    writes: AtomicUsize,
    /// The write (counted from 1) that fails; 0 for none.
    fail_at: AtomicUsize,
    /// Whether it fails after it was made.
    fail_after: std::sync::atomic::AtomicBool,
}

/// What happens to one write.
pub(super) enum Step {
    Fine,
    FailBefore,
    FailAfter,
}

impl Step {
    fn before(&self) -> StoreResult<()> {
        match self {
            Self::FailBefore => Err(StoreError::Unavailable("injected: the write failed".into())),
            Self::Fine | Self::FailAfter => Ok(()),
        }
    }

    fn after<T>(&self, done: StoreResult<T>) -> StoreResult<T> {
        match self {
            Self::FailAfter => {
                done?;
                Err(StoreError::Unavailable(
                    "injected: the write's answer was lost".into(),
                ))
            }
            Self::Fine | Self::FailBefore => done,
        }
    }
}

impl FlakyStore {
    /// Fails the `nth` write from now (1 = the next one), before or after it is made.
    pub(super) fn fail_write(&self, nth: usize, after: bool) {
        let done = self.writes.load(Ordering::SeqCst);
        self.fail_at.store(done + nth, Ordering::SeqCst);
        self.fail_after.store(after, Ordering::SeqCst);
    }

    fn step(&self) -> Step {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n != self.fail_at.load(Ordering::SeqCst) {
            Step::Fine
        } else if self.fail_after.load(Ordering::SeqCst) {
            Step::FailAfter
        } else {
            Step::FailBefore
        }
    }
}

/// Limits pass through: the faults are the chat writes'.
impl RateLimitStore for FlakyStore {
    async fn write_rate_state(
        &self,
        key: &RateKey,
        expected: Expected,
        next: RateState,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<RateWrite> {
        self.inner
            .write_rate_state(key, expected, next, expires_at)
            .await
    }
}

impl ChatStore for FlakyStore {
    async fn active_chats(&self, ended_since: GiosgTime) -> StoreResult<Vec<ActiveChat>> {
        self.inner.active_chats(ended_since).await
    }

    async fn set_counters_checked(
        &self,
        chat: &ChatId,
        counters: Counters,
        context: &StoreContext,
    ) -> StoreResult<()> {
        let fault = self.step();
        fault.before()?;
        let done = self
            .inner
            .set_counters_checked(chat, counters, context)
            .await;
        fault.after(done)
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
        let fault = self.step();
        fault.before()?;
        let done = self.inner.put_visitor(visitor, context).await;
        fault.after(done)
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
        let fault = self.step();
        fault.before()?;
        let done = self
            .inner
            .reserve_send(chat, idempotency_key, claim, context)
            .await;
        fault.after(done)
    }

    async fn take_over_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        from: &str,
        claim: &Claim,
        context: &StoreContext,
    ) -> StoreResult<Reservation> {
        let fault = self.step();
        fault.before()?;
        let done = self
            .inner
            .take_over_send(chat, idempotency_key, from, claim, context)
            .await;
        fault.after(done)
    }

    async fn mark_send_unknown(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        owner: &str,
    ) -> StoreResult<()> {
        let fault = self.step();
        fault.before()?;
        let done = self
            .inner
            .mark_send_unknown(chat, idempotency_key, owner)
            .await;
        fault.after(done)
    }

    async fn release_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        owner: &str,
    ) -> StoreResult<()> {
        let fault = self.step();
        fault.before()?;
        let done = self.inner.release_send(chat, idempotency_key, owner).await;
        fault.after(done)
    }

    async fn claim_start(&self, visitor: &VisitorKey, claim: &Claim) -> StoreResult<Reservation> {
        let fault = self.step();
        fault.before()?;
        let done = self.inner.claim_start(visitor, claim).await;
        fault.after(done)
    }

    async fn take_over_start(
        &self,
        visitor: &VisitorKey,
        from: &str,
        claim: &Claim,
    ) -> StoreResult<Reservation> {
        let fault = self.step();
        fault.before()?;
        let done = self.inner.take_over_start(visitor, from, claim).await;
        fault.after(done)
    }

    async fn mark_start_unknown(&self, visitor: &VisitorKey, owner: &str) -> StoreResult<()> {
        let fault = self.step();
        fault.before()?;
        let done = self.inner.mark_start_unknown(visitor, owner).await;
        fault.after(done)
    }

    async fn release_start(&self, visitor: &VisitorKey, owner: &str) -> StoreResult<()> {
        let fault = self.step();
        fault.before()?;
        let done = self.inner.release_start(visitor, owner).await;
        fault.after(done)
    }

    async fn record_sent_message(
        &self,
        sent: &SentMessage,
        context: &StoreContext,
    ) -> StoreResult<MessageRecord> {
        let fault = self.step();
        fault.before()?;
        let done = self.inner.record_sent_message(sent, context).await;
        fault.after(done)
    }

    async fn record_started_chat(
        &self,
        visitor: &VisitorRecord,
        chat_id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<ChatRecord> {
        let fault = self.step();
        fault.before()?;
        let done = self
            .inner
            .record_started_chat(visitor, chat_id, event, context)
            .await;
        fault.after(done)
    }

    async fn apply_chat_event(
        &self,
        id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<ChatRecord>)> {
        let fault = self.step();
        fault.before()?;
        let done = self.inner.apply_chat_event(id, event, context).await;
        fault.after(done)
    }

    async fn apply_message_event(
        &self,
        chat: &ChatId,
        id: &MessageId,
        event: &MessageEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<MessageRecord>)> {
        let fault = self.step();
        fault.before()?;
        let done = self
            .inner
            .apply_message_event(chat, id, event, context)
            .await;
        fault.after(done)
    }
}
