//! The store port: everything the handlers need from storage, as a few coarse operations so
//! that each adapter can meet the round-trip budget (at most two per frontend call).
//!
//! Both adapters ([`memory::MemoryStore`], [`dynamodb::DynamoStore`]) fold events with the same
//! domain functions ([`apply_chat_event`](crate::domain::chat::apply_chat_event),
//! [`apply_message_event`](crate::domain::message::apply_message_event)); the conformance suite
//! in `shared/tests/store_conformance/` runs against both.

pub mod announcing;
pub mod dynamodb;
mod erasure;
pub mod memory;
mod rate;

pub use erasure::{Erased, ErasedChat, ErasureStore, ItemKind};
pub use rate::{RateLimitStore, RateWrite};

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::chat::{ChatEvent, ChatRecord};
use crate::domain::connection::{ConnectionId, ConnectionRecord, SubscriptionRecord};
use crate::domain::counters::Counters;
use crate::domain::cursor::PageRequest;
use crate::domain::message::{MessageEvent, MessageRecord};
use crate::domain::visitor::{VisitorKey, VisitorRecord};
use crate::domain::{ChatId, GiosgTime, MessageId, RoomId};

/// Settings every write needs: which room is ours and how long things live.
#[derive(Clone, Debug)]
pub struct StoreContext {
    /// The configured Giosg room: resources of other rooms are never stored.
    pub room_id: RoomId,
    /// How long a change for a not-yet-known chat or message is kept waiting for it.
    pub pending_ttl: Duration,
    /// Transcript retention (DynamoDB TTL), counted from the chat's or message's creation.
    pub retention: Option<Duration>,
}

impl StoreContext {
    pub fn new(room_id: RoomId) -> Self {
        Self {
            room_id,
            pending_ttl: Duration::from_secs(24 * 3600),
            retention: None,
        }
    }

    /// When a chat or message should expire: pending ones after `pending_ttl` from now, known
    /// ones after the retention period from their creation (never when retention is off).
    pub fn expiry(&self, pending: bool, created_at: Option<GiosgTime>) -> Option<DateTime<Utc>> {
        if pending {
            return Some(Utc::now() + self.pending_ttl);
        }
        let retention = chrono::Duration::from_std(self.retention?).ok()?;
        Some(created_at.map_or_else(Utc::now, |t| t.as_datetime()) + retention)
    }

    /// When an item about a chat or a visitor written now should expire (a visitor, a send key,
    /// a chat's feed position, its away-notification bookkeeping): the retention period from
    /// now, or from `not_before` when that is later (a visitor outlives the chat it is stored
    /// with); never when retention is off. Written again with every change, so such an item
    /// lives at least as long as what it is about.
    pub fn retained(&self, not_before: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let retention = chrono::Duration::from_std(self.retention?).ok()?;
        let now = Utc::now();
        Some(not_before.map_or(now, |at| at.max(now)) + retention)
    }
}

/// Items that are bookkeeping for a moment, not transcripts, live a bounded time whether
/// retention is on or off (retention is at least a day, so never longer than it):
///
/// | item | lifetime |
/// |---|---|
/// | a pending chat or message | [`StoreContext::pending_ttl`] (24 h) |
/// | a visitor's start claim | [`START_CLAIM_TTL`] |
/// | where the reconciler's sweep stopped | [`RECONCILE_CURSOR_TTL`] |
/// | a real-time feed connection, a subscription | [`crate::domain::connection::CONNECTION_TTL`] |
/// | a token bucket ([`RateLimitStore`]) | until it would be full again, plus a minute |
///
/// A start claim outlives any start (a request lasts seconds); an unknown outcome left by a
/// start that died is found out by the next start within a day, or forgotten.
pub const START_CLAIM_TTL: Duration = Duration::from_secs(24 * 3600);

/// A sweep that has not moved for this long starts over (its cursor is forgotten).
pub const RECONCILE_CURSOR_TTL: Duration = Duration::from_secs(24 * 3600);

/// When a transient item written now expires (see [`START_CLAIM_TTL`]).
pub fn transient_expiry(lifetime: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::days(1))
}

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

/// Who holds an idempotency key (or a visitor's start) and for which text: the request that
/// claimed it (so that a retry of its own claim write is not mistaken for someone else's, and a
/// late release cannot drop another request's claim) and a digest of the text it sends (to
/// recognise the message in Giosg when the outcome is unknown; empty for a start).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub owner: String,
    pub text_digest: String,
}

/// The state of an idempotency key (`client_message_id` / `Idempotency-Key`) within a chat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SendState {
    /// A send with this key is under way (or its sender died: once older than the function's
    /// timeout, it is treated like [`SendState::Unknown`]).
    InFlight {
        since: DateTime<Utc>,
        #[serde(flatten)]
        claim: Claim,
    },
    /// The call to Giosg failed in a way that leaves open whether Giosg stored the message: a
    /// retry must find out from Giosg before sending again.
    Unknown {
        since: DateTime<Utc>,
        #[serde(flatten)]
        claim: Claim,
    },
    /// Sent: the message Giosg created for it.
    Sent { message_id: MessageId },
}

impl SendState {
    /// The claim whose outcome must be found out from Giosg before the key is used again, with
    /// when it was made: an unknown outcome, or a send in flight for longer than a request can
    /// live (`stale_after`: its sender died, maybe after Giosg took the message).
    pub fn to_find_out(
        &self,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Option<(&Claim, DateTime<Utc>)> {
        match self {
            Self::Unknown { since, claim } => Some((claim, *since)),
            Self::InFlight { since, claim }
                if chrono::Duration::from_std(stale_after)
                    .is_ok_and(|limit| now - *since >= limit) =>
            {
                Some((claim, *since))
            }
            Self::InFlight { .. } | Self::Sent { .. } => None,
        }
    }
}

/// Everything the send-message handler reads before it decides, in one round trip.
#[derive(Clone, Debug, Default)]
pub struct SendContext {
    pub visitor: Option<VisitorRecord>,
    pub chat: Option<ChatRecord>,
    pub key_state: Option<SendState>,
}

/// The outcome of trying to claim an idempotency key.
#[derive(Clone, Debug, PartialEq)]
pub enum Reservation {
    Reserved,
    /// Someone holds or used the key: here is its state.
    Taken(SendState),
}

/// A message Giosg accepted from our send call, to be stored with its bookkeeping at once.
#[derive(Clone, Debug)]
pub struct SentMessage {
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub event: MessageEvent,
    pub idempotency_key: Option<String>,
    /// The visitor, when its Giosg session was refreshed and must be saved.
    pub visitor: Option<VisitorRecord>,
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

/// The real-time feed's connections and subscriptions (spec §1a): a small port of its own, as
/// only the WebSocket routes and the notifier use it. Expired records read as absent.
pub trait SubscriptionStore: Send + Sync {
    fn put_connection(
        &self,
        connection: &ConnectionRecord,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    fn get_connection(
        &self,
        id: &ConnectionId,
    ) -> impl Future<Output = StoreResult<Option<ConnectionRecord>>> + Send;

    fn delete_connection(&self, id: &ConnectionId) -> impl Future<Output = StoreResult<()>> + Send;

    fn put_subscription(
        &self,
        subscription: &SubscriptionRecord,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The chat's live subscriptions. One `Query` of the chat's partition.
    fn subscriptions(
        &self,
        chat: &ChatId,
    ) -> impl Future<Output = StoreResult<Vec<SubscriptionRecord>>> + Send;

    /// Moves a subscription's pushed position forward to `to` (never back).
    fn advance_subscription(
        &self,
        chat: &ChatId,
        connection: &ConnectionId,
        to: u64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    fn delete_subscription(
        &self,
        chat: &ChatId,
        connection: &ConnectionId,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The feed position up to which the chat's away notifications were considered.
    fn notify_position(&self, chat: &ChatId) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Moves it forward to `to` (never back); it lives as long as the chat
    /// ([`StoreContext::retained`]).
    fn advance_notify_position(
        &self,
        chat: &ChatId,
        to: u64,
        context: &StoreContext,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Claims the one notification a message may have: `true` for the one caller that gets it.
    /// The claim lives as long as the chat (an edit of the message must not notify again).
    fn claim_notification(
        &self,
        chat: &ChatId,
        message: &MessageId,
        context: &StoreContext,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
