//! Away notifications (spec §1b): when an agent's message is stored and no live subscription
//! received it, one event per message goes to the company's own push service through an SNS
//! topic ([`sns`]); locally the runner logs them.

pub mod sns;

use serde::Serialize;

use crate::domain::message::Message;
use crate::domain::{ChatId, GiosgTime, MessageId};

/// How much of the text a notification may carry, when previews are on.
pub const PREVIEW_CHARS: usize = 100;

/// The event published for one agent message (`{"event": "agent_message", ...}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AwayNotification {
    pub event: &'static str,
    pub chat_id: ChatId,
    pub message_id: MessageId,
    /// What the frontend called the visitor at start (`visitor_ref`), if anything.
    pub visitor_ref: Option<String>,
    pub created_at: Option<GiosgTime>,
    /// The agent's public name.
    pub sender_name: Option<String>,
    /// The text's first [`PREVIEW_CHARS`] characters, only when previews are configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

impl AwayNotification {
    pub fn of(message: &Message, visitor_ref: Option<String>, preview: bool) -> Self {
        Self {
            event: "agent_message",
            chat_id: message.chat_id.clone(),
            message_id: message.id.clone(),
            visitor_ref,
            created_at: message.created_at,
            sender_name: message.sender.name.clone(),
            preview: message
                .text
                .as_ref()
                .filter(|_| preview)
                .map(|text| text.chars().take(PREVIEW_CHARS).collect()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("publishing a notification failed: {0}")]
pub struct NotifyError(pub String);

/// Publishes away notifications.
pub trait NotifyPort: Send + Sync {
    fn publish(
        &self,
        notification: &AwayNotification,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

/// Logs each notification (ids only): the local runner's stand-in for the topic.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogNotifier;

impl NotifyPort for LogNotifier {
    async fn publish(&self, notification: &AwayNotification) -> Result<(), NotifyError> {
        tracing::info!(
            chat_id = %notification.chat_id,
            message_id = %notification.message_id,
            has_visitor_ref = notification.visitor_ref.is_some(),
            "away notification (locally only logged; on AWS it goes to the SNS topic)"
        );
        Ok(())
    }
}
