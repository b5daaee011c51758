//! The store port: everything the handlers need from storage, as a few coarse operations so
//! that each adapter can meet the round-trip budget (at most two per frontend call).
//!
//! Both adapters ([`memory::MemoryStore`], [`dynamodb::DynamoStore`]) fold events with the same
//! domain functions ([`apply_chat_event`](crate::domain::chat::apply_chat_event),
//! [`apply_message_event`](crate::domain::message::apply_message_event)); the conformance suite
//! in `shared/tests/store_conformance/` runs against both.
//!
//! Here: the [`ChatStore`] port with the results its operations return and [`StoreError`].
//! Beside it: `context.rs` ([`StoreContext`] and the lifetimes of transient items), `sends.rs`
//! (claims on idempotency keys and starts, what a send reads and records), and the smaller
//! ports `subscriptions.rs` ([`SubscriptionStore`]), `rate.rs` ([`RateLimitStore`]) and
//! `erasure.rs` ([`ErasureStore`]); `announcing.rs` wraps a store to announce its feed changes.

pub mod announcing;
mod context;
pub mod dynamodb;
mod erasure;
pub mod memory;
mod rate;
mod sends;
mod subscriptions;

pub use context::{RECONCILE_CURSOR_TTL, START_CLAIM_TTL, StoreContext, transient_expiry};
pub use erasure::{Erased, ErasedChat, ErasureStore, ItemKind};
pub use rate::{RateLimitStore, RateWrite};
pub use sends::{Claim, Reservation, SendContext, SendState, SentMessage};
pub use subscriptions::SubscriptionStore;

use std::future::Future;

use crate::domain::chat::{ChatEvent, ChatRecord};
use crate::domain::counters::Counters;
use crate::domain::cursor::PageRequest;
use crate::domain::message::{MessageEvent, MessageRecord};
use crate::domain::visitor::{VisitorKey, VisitorRecord};
use crate::domain::{ChatId, GiosgTime, MessageId};

/// A message as the sync feed lists it: at its latest visible change.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedEntry {
    pub position: u64,
    pub message: MessageRecord,
}

/// A chat the reconciler looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveChat {
    pub id: ChatId,
    /// Giosg's counters moved since they were last found consistent with the stored messages.
    pub counters_moved: bool,
}

/// What happened to an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Stored,
    /// Already reflected: a redelivery.
    Unchanged,
    /// Another room's resource: not stored.
    Ignored,
    /// A pending record that turned out to be another room's was deleted.
    Deleted,
}

/// One page of history, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryPage {
    pub messages: Vec<MessageRecord>,
    /// Whether messages older than the first one on this page exist.
    pub has_older: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("a stored item could not be read: {0}")]
    Corrupt(String),
    #[error("the write kept conflicting with concurrent writes")]
    Contention,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The storage port. Methods are coarse on purpose: each is one round trip in DynamoDB unless
/// its doc says otherwise. The frontend flows' token buckets ([`RateLimitStore`]) come with it.
pub trait ChatStore: RateLimitStore + Send + Sync + 'static {
    fn get_visitor(
        &self,
        key: &VisitorKey,
    ) -> impl Future<Output = StoreResult<Option<VisitorRecord>>> + Send;

    /// Creates or replaces a visitor, its expiry renewed ([`StoreContext::retained`]).
    fn put_visitor(
        &self,
        visitor: &VisitorRecord,
        context: &StoreContext,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    fn get_chat(&self, id: &ChatId)
    -> impl Future<Output = StoreResult<Option<ChatRecord>>> + Send;

    /// The visitor and a chat, read together.
    fn get_visitor_and_chat(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
    ) -> impl Future<Output = StoreResult<(Option<VisitorRecord>, Option<ChatRecord>)>> + Send;

    /// Chats started by this visitor, newest first.
    fn visitor_chats(
        &self,
        key: &VisitorKey,
    ) -> impl Future<Output = StoreResult<Vec<ChatRecord>>> + Send;

    fn get_message(
        &self,
        chat: &ChatId,
        id: &MessageId,
    ) -> impl Future<Output = StoreResult<Option<MessageRecord>>> + Send;

    /// The visitor, a chat and the chat's sync feed position (0 before any change), read
    /// together: a reader that lists the feed up to that position never skips a change
    /// (`domain::feed`).
    fn get_visitor_chat_and_feed(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
    ) -> impl Future<Output = StoreResult<(Option<VisitorRecord>, Option<ChatRecord>, u64)>> + Send;

    /// The chat's sync feed position now (0 before any change). One consistent read.
    fn feed_position(&self, chat: &ChatId) -> impl Future<Output = StoreResult<u64>> + Send;

    /// The chat's sync feed after position `after` up to `upto` (a position read before), in
    /// the order the changes were stored, at most `limit` entries: each message at its latest
    /// visible change, with its state then. One query.
    fn feed_page(
        &self,
        chat: &ChatId,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<FeedEntry>>> + Send;

    /// One page of a chat's history (messages with a `created_at`), oldest first: one query.
    fn history_page(
        &self,
        chat: &ChatId,
        request: &PageRequest,
    ) -> impl Future<Output = StoreResult<HistoryPage>> + Send;

    /// The visitor, the chat and the idempotency key's state, read together.
    fn send_context(
        &self,
        key: &VisitorKey,
        chat: &ChatId,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = StoreResult<SendContext>> + Send;

    /// Claims an idempotency key for a send: `Reserved` when the key was free (or expired) or
    /// is already this owner's (its own earlier write, retried), else the holder's state. The
    /// key lives as long as its chat ([`StoreContext::retained`]).
    fn reserve_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        claim: &Claim,
        context: &StoreContext,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;

    /// Takes a key over from `from` (an owner whose outcome was found out: its message did not
    /// land): `Reserved` only if `from` still holds it and it is not sent.
    fn take_over_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        from: &str,
        claim: &Claim,
        context: &StoreContext,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;

    /// Records that `owner`'s send has an unknown outcome (Giosg may have the message). Does
    /// nothing if `owner` no longer holds the key in flight.
    fn mark_send_unknown(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        owner: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Gives up `owner`'s claim after a send that certainly did not reach Giosg, so that a retry
    /// may send. Does nothing if another owner holds it or it is sent.
    fn release_send(
        &self,
        chat: &ChatId,
        idempotency_key: &str,
        owner: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The chats the reconciler looks at ([`ChatRecord::activity`]): open, or ended at or after
    /// `ended_since`; by id, each with whether Giosg's counters moved since they were last
    /// checked ([`ChatRecord::counters_moved`]). One `Query` per state on the `active-chats`
    /// index (keys and that flag).
    fn active_chats(
        &self,
        ended_since: GiosgTime,
    ) -> impl Future<Output = StoreResult<Vec<ActiveChat>>> + Send;

    /// Records that `counters` were found consistent with the chat's stored messages
    /// ([`crate::domain::chat::check_counters`]); nothing when the chat is not stored.
    fn set_counters_checked(
        &self,
        chat: &ChatId,
        counters: Counters,
        context: &StoreContext,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Where the reconciler's sweep stopped last (the last chat it finished), if mid-sweep.
    fn reconcile_cursor(&self) -> impl Future<Output = StoreResult<Option<ChatId>>> + Send;

    /// Keeps where the sweep stopped (`None`: the sweep is complete, the next starts over), for
    /// [`RECONCILE_CURSOR_TTL`].
    fn set_reconcile_cursor(
        &self,
        cursor: Option<&ChatId>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The chat's idempotency keys still in flight or with an unknown outcome, to match a
    /// visitor message's echo to the send that made it. One `Query` of the chat's send keys.
    fn open_send_claims(
        &self,
        chat: &ChatId,
    ) -> impl Future<Output = StoreResult<Vec<(String, SendState)>>> + Send;

    /// Claims the right to start a chat for a visitor (overlapping starts with one token open
    /// at most one Giosg chat): like [`ChatStore::reserve_send`], on the visitor's start slot.
    /// A start never becomes `Sent`: its chat is recorded on the visitor and the claim released.
    /// A claim expires after [`START_CLAIM_TTL`].
    fn claim_start(
        &self,
        visitor: &VisitorKey,
        claim: &Claim,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;

    /// Like [`ChatStore::take_over_send`], for the visitor's start slot.
    fn take_over_start(
        &self,
        visitor: &VisitorKey,
        from: &str,
        claim: &Claim,
    ) -> impl Future<Output = StoreResult<Reservation>> + Send;

    /// Like [`ChatStore::mark_send_unknown`]: Giosg may have started the chat.
    fn mark_start_unknown(
        &self,
        visitor: &VisitorKey,
        owner: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Like [`ChatStore::release_send`]: the start is over (stored, or certainly not made).
    fn release_start(
        &self,
        visitor: &VisitorKey,
        owner: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Stores a sent message (folded like any event, so a webhook echo that came first merges),
    /// marks its idempotency key sent, and saves the visitor if given, together.
    fn record_sent_message(
        &self,
        sent: &SentMessage,
        context: &StoreContext,
    ) -> impl Future<Output = StoreResult<MessageRecord>> + Send;

    /// Stores a chat Giosg just started for `visitor` (folded like any event, so a webhook that
    /// got there first merges) together with the visitor (its latest chat and session). One
    /// transaction unless a webhook stored the chat first.
    fn record_started_chat(
        &self,
        visitor: &VisitorRecord,
        chat_id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> impl Future<Output = StoreResult<ChatRecord>> + Send;

    /// Folds a chat event into the stored chat, without read-modify-write races. Returns the
    /// chat as stored afterwards (`None` when ignored or deleted).
    fn apply_chat_event(
        &self,
        id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> impl Future<Output = StoreResult<(Applied, Option<ChatRecord>)>> + Send;

    /// Folds a message event into the stored message, without read-modify-write races.
    fn apply_message_event(
        &self,
        chat: &ChatId,
        id: &MessageId,
        event: &MessageEvent,
        context: &StoreContext,
    ) -> impl Future<Output = StoreResult<(Applied, Option<MessageRecord>)>> + Send;
}
