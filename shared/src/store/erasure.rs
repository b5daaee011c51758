//! The operator's erasure port (spec §1d): finding a person's visitors and deleting every item
//! of a chat or of a visitor, counted by kind. Nothing is deleted in Giosg.

use std::future::Future;

use serde::Serialize;

use super::StoreResult;
use crate::domain::ChatId;
use crate::domain::connection::ConnectionId;
use crate::domain::visitor::{PersonKey, VisitorKey};

/// The kinds of item the store holds (DynamoDB: told apart by their keys, see
/// `dynamodb::item_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKind {
    Visitor,
    StartClaim,
    Connection,
    /// A connection noted in its visitor's partition (DynamoDB only).
    ConnectionNote,
    Chat,
    Message,
    FeedPosition,
    FeedEntry,
    SendKey,
    Subscription,
    NotifyPosition,
    Notification,
    ReconcileCursor,
    /// A token bucket against floods: a visitor's sends or starts, or anonymous starts.
    RateBucket,
}

impl ItemKind {
    pub const ALL: &'static [ItemKind] = &[
        Self::Visitor,
        Self::StartClaim,
        Self::Connection,
        Self::ConnectionNote,
        Self::Chat,
        Self::Message,
        Self::FeedPosition,
        Self::FeedEntry,
        Self::SendKey,
        Self::Subscription,
        Self::NotifyPosition,
        Self::Notification,
        Self::ReconcileCursor,
        Self::RateBucket,
    ];

    /// Transient bookkeeping that expires whether retention is on or off (see
    /// [`super::START_CLAIM_TTL`]); every other kind is about a chat or a visitor and lives as
    /// long as retention says (forever when it is off).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::StartClaim
                | Self::Connection
                | Self::ConnectionNote
                | Self::Subscription
                | Self::ReconcileCursor
                | Self::RateBucket
        )
    }
}

/// What an erasure deleted, by kind of item (expired items not swept yet included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub visitors: usize,
    /// A visitor's claim on starting a chat.
    pub start_claims: usize,
    /// Real-time feed connections.
    pub connections: usize,
    pub chats: usize,
    pub messages: usize,
    /// A chat's sync feed position.
    pub feed_positions: usize,
    /// Messages in a chat's sync feed.
    pub feed_entries: usize,
    /// Idempotency keys of sends.
    pub send_keys: usize,
    /// Real-time feed subscriptions.
    pub subscriptions: usize,
    /// How far a chat's away notifications were considered.
    pub notify_positions: usize,
    /// A message's claim on its one away notification.
    pub notifications: usize,
    /// A visitor's token buckets (its sends and starts).
    pub rate_buckets: usize,
}

impl Erased {
    pub fn total(&self) -> usize {
        let Self {
            visitors,
            start_claims,
            connections,
            chats,
            messages,
            feed_positions,
            feed_entries,
            send_keys,
            subscriptions,
            notify_positions,
            notifications,
            rate_buckets,
        } = *self;
        visitors
            + start_claims
            + connections
            + chats
            + messages
            + feed_positions
            + feed_entries
            + send_keys
            + subscriptions
            + notify_positions
            + notifications
            + rate_buckets
    }

    /// Counts one erased item of `kind` (a connection's note is not counted: its connection
    /// is; the reconciler's cursor is nobody's).
    pub fn count(&mut self, kind: ItemKind) {
        let counter = match kind {
            ItemKind::Visitor => &mut self.visitors,
            ItemKind::StartClaim => &mut self.start_claims,
            ItemKind::Connection => &mut self.connections,
            ItemKind::Chat => &mut self.chats,
            ItemKind::Message => &mut self.messages,
            ItemKind::FeedPosition => &mut self.feed_positions,
            ItemKind::FeedEntry => &mut self.feed_entries,
            ItemKind::SendKey => &mut self.send_keys,
            ItemKind::Subscription => &mut self.subscriptions,
            ItemKind::NotifyPosition => &mut self.notify_positions,
            ItemKind::Notification => &mut self.notifications,
            ItemKind::RateBucket => &mut self.rate_buckets,
            ItemKind::ConnectionNote | ItemKind::ReconcileCursor => return,
        };
        *counter += 1;
    }

    pub fn add(&mut self, other: &Self) {
        self.visitors += other.visitors;
        self.start_claims += other.start_claims;
        self.connections += other.connections;
        self.chats += other.chats;
        self.messages += other.messages;
        self.feed_positions += other.feed_positions;
        self.feed_entries += other.feed_entries;
        self.send_keys += other.send_keys;
        self.subscriptions += other.subscriptions;
        self.notify_positions += other.notify_positions;
        self.notifications += other.notifications;
        self.rate_buckets += other.rate_buckets;
    }
}

/// A chat's items erased, and the connections that were subscribed to it (whose records still
/// name the chat).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErasedChat {
    pub erased: Erased,
    pub subscribers: Vec<ConnectionId>,
}

/// Finding and deleting everything stored about a chat or a person. Each method also sees
/// items whose TTL has passed but which DynamoDB has not deleted yet, so that nothing of what
/// is erased stays behind.
pub trait ErasureStore: Send + Sync {
    /// The visitors `person` names (their [`crate::domain::visitor::VisitorRecord::person_key`]).
    fn visitors_of(
        &self,
        person: &PersonKey,
    ) -> impl Future<Output = StoreResult<Vec<VisitorKey>>> + Send;

    /// The ids of every chat stored as the visitor's.
    fn chats_of(
        &self,
        visitor: &VisitorKey,
    ) -> impl Future<Output = StoreResult<Vec<ChatId>>> + Send;

    /// Deletes every item of the chat: the chat, its messages, its feed position and entries,
    /// its send keys, subscriptions and away-notification bookkeeping.
    fn erase_chat(&self, chat: &ChatId) -> impl Future<Output = StoreResult<ErasedChat>> + Send;

    /// Deletes the visitor's own items: its record, its start claim, its connections and its
    /// token buckets.
    fn erase_visitor(
        &self,
        visitor: &VisitorKey,
    ) -> impl Future<Output = StoreResult<Erased>> + Send;
}
