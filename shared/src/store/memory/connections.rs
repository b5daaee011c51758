//! The real-time feed's connections and subscriptions in the memory store (not kept in
//! snapshots: connections do not outlive the process).

use chrono::Utc;

use super::{Expiring, MemoryStore};
use crate::domain::connection::{ConnectionId, ConnectionRecord, SubscriptionRecord};
use crate::domain::{ChatId, MessageId};
use crate::store::{StoreContext, StoreResult, SubscriptionStore};

impl SubscriptionStore for MemoryStore {
    async fn put_connection(&self, connection: &ConnectionRecord) -> StoreResult<()> {
        self.lock_for_write()
            .connections
            .insert(connection.id.clone(), connection.clone());
        Ok(())
    }

    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<ConnectionRecord>> {
        Ok(self
            .lock()
            .connections
            .get(id)
            .filter(|connection| connection.expires_at > Utc::now())
            .cloned())
    }

    async fn delete_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        self.lock_for_write().connections.remove(id);
        Ok(())
    }

    async fn put_subscription(&self, subscription: &SubscriptionRecord) -> StoreResult<()> {
        self.lock_for_write().subscriptions.insert(
            (
                subscription.chat_id.clone(),
                subscription.connection_id.clone(),
            ),
            subscription.clone(),
        );
        Ok(())
    }

    async fn subscriptions(&self, chat: &ChatId) -> StoreResult<Vec<SubscriptionRecord>> {
        let now = Utc::now();
        Ok(self
            .lock()
            .subscriptions
            .values()
            .filter(|subscription| &subscription.chat_id == chat && subscription.expires_at > now)
            .cloned()
            .collect())
    }

    async fn advance_subscription(
        &self,
        chat: &ChatId,
        connection: &ConnectionId,
        to: u64,
    ) -> StoreResult<()> {
        let mut state = self.lock_for_write();
        if let Some(subscription) = state
            .subscriptions
            .get_mut(&(chat.clone(), connection.clone()))
        {
            subscription.position = subscription.position.max(to);
        }
        Ok(())
    }

    async fn delete_subscription(
        &self,
        chat: &ChatId,
        connection: &ConnectionId,
    ) -> StoreResult<()> {
        self.lock_for_write()
            .subscriptions
            .remove(&(chat.clone(), connection.clone()));
        Ok(())
    }

    async fn notify_position(&self, chat: &ChatId) -> StoreResult<u64> {
        Ok(self
            .lock()
            .notify_positions
            .get(chat)
            .map_or(0, |position| position.record))
    }

    async fn advance_notify_position(
        &self,
        chat: &ChatId,
        to: u64,
        context: &StoreContext,
    ) -> StoreResult<()> {
        let mut state = self.lock_for_write();
        let position = state
            .notify_positions
            .entry(chat.clone())
            .or_insert(Expiring {
                record: 0,
                expires_at: None,
            });
        if position.record < to {
            position.record = to;
            position.expires_at = context.retained(None);
        }
        Ok(())
    }

    async fn claim_notification(
        &self,
        chat: &ChatId,
        message: &MessageId,
        context: &StoreContext,
    ) -> StoreResult<bool> {
        let mut state = self.lock_for_write();
        let slot = (chat.clone(), message.clone());
        if state.notified.contains_key(&slot) {
            return Ok(false);
        }
        state.notified.insert(slot, context.retained(None));
        Ok(true)
    }
}
