//! Folding Giosg's webhook deliveries into the store. No Giosg call: the store's fold makes order
//! and duplicates irrelevant; deliveries about another organization are acknowledged and ignored
//! (ids compare in any case).

use super::{Service, ServiceError};
use crate::domain::EventAction;
use crate::domain::webhook::{ChatWebhook, MessageWebhook};
use crate::store::{Applied, ChatStore};

/// What a delivery did, as the acknowledgement tells Giosg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    Stored,
    /// Already reflected: a redelivery.
    Duplicate,
    /// Another organization's or room's resource.
    Ignored,
}

impl WebhookOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
        }
    }
}

impl From<Applied> for WebhookOutcome {
    fn from(applied: Applied) -> Self {
        match applied {
            Applied::Stored | Applied::Deleted => Self::Stored,
            Applied::Unchanged => Self::Duplicate,
            Applied::Ignored => Self::Ignored,
        }
    }
}

impl<S: ChatStore, G> Service<S, G> {
    pub async fn apply_chat_webhook(
        &self,
        hook: &ChatWebhook,
    ) -> Result<WebhookOutcome, ServiceError> {
        if !hook.org_id.same_as(&self.rules.org_id) {
            return Ok(WebhookOutcome::Ignored);
        }
        let (applied, _) = self
            .store
            .apply_chat_event(&hook.chat_id, &hook.event, &self.rules.store_context)
            .await?;
        Ok(applied.into())
    }

    pub async fn apply_message_webhook(
        &self,
        hook: &MessageWebhook,
    ) -> Result<WebhookOutcome, ServiceError> {
        if !hook.org_id.same_as(&self.rules.org_id) {
            return Ok(WebhookOutcome::Ignored);
        }
        let (applied, record) = self
            .store
            .apply_message_event(
                &hook.chat_id,
                &hook.message_id,
                &hook.event,
                &self.rules.store_context,
            )
            .await?;
        if applied == Applied::Stored
            && hook.event.action == EventAction::Added
            && let Some(record) = record
        {
            self.match_echo(&hook.chat_id, &record, &hook.event).await;
        }
        Ok(applied.into())
    }
}
