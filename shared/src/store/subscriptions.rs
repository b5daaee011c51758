//! The real-time feed's port: its connections and subscriptions, and the away notifications'
//! bookkeeping.

use std::future::Future;

use super::{StoreContext, StoreResult};
use crate::domain::ChatId;
use crate::domain::MessageId;
use crate::domain::connection::{ConnectionId, ConnectionRecord, SubscriptionRecord};

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
