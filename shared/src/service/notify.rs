//! Away notifications (spec §1b): after the notifier pushed a chat's changes, each agent
//! message stored since the chat was last considered that no live subscription received gets
//! one event. "One" is a claim in the store, taken before publishing: a retried batch or a
//! later edit of the message publishes nothing more (at most once; a publish that fails after
//! its claim is logged, not retried).

use serde::Serialize;
use tracing::Instrument;

use super::realtime::Changes;
use super::{Service, ServiceError};
use crate::domain::ChatId;
use crate::domain::message::{Message, SenderKind};
use crate::domain::resource::MessageType;
use crate::notify::{AwayNotification, NotifyPort};
use crate::store::{ChatStore, SubscriptionStore};

const NOTIFY_PAGE: usize = 100;

/// What one round of away notifications did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NotifyReport {
    pub published: usize,
    /// Publishes that failed (their messages stay claimed: at most one event each).
    pub failed: usize,
}

/// An agent's text message, not removed: what a visitor who is away is told about.
fn is_agent_message(message: &Message) -> bool {
    message.sender.sender_type == SenderKind::Agent
        && message.message_type == MessageType::Msg
        && !message.deleted
}

impl<S: ChatStore + SubscriptionStore, G> Service<S, G> {
    /// Publishes the away notifications the chats in `changes.feeds` call for. `preview`:
    /// whether events carry the text's first characters.
    pub async fn notify_away<N: NotifyPort>(
        &self,
        changes: &Changes,
        notifier: &N,
        preview: bool,
    ) -> Result<NotifyReport, ServiceError> {
        let mut report = NotifyReport::default();
        for chat in &changes.feeds {
            self.notify_chat(chat, notifier, preview, &mut report)
                .await?;
        }
        Ok(report)
    }

    async fn notify_chat<N: NotifyPort>(
        &self,
        chat: &ChatId,
        notifier: &N,
        preview: bool,
        report: &mut NotifyReport,
    ) -> Result<(), ServiceError> {
        let from = self.store.notify_position(chat).await?;
        let upto = self.store.feed_position(chat).await?;
        if upto <= from {
            return Ok(());
        }
        // What a live subscription received: everything up to its position.
        let delivered = self
            .store
            .subscriptions(chat)
            .await?
            .iter()
            .map(|subscription| subscription.position)
            .max()
            .unwrap_or(0);
        let mut visitor_ref = None;
        let mut after = from;
        loop {
            let page = self.store.feed_page(chat, after, upto, NOTIFY_PAGE).await?;
            let Some(last) = page.last().map(|entry| entry.position) else {
                break;
            };
            for entry in page.iter().filter(|entry| entry.position > delivered) {
                let message = entry.message.view();
                if !is_agent_message(&message)
                    || !self
                        .store
                        .claim_notification(chat, &message.id, &self.rules.store_context)
                        .await?
                {
                    continue;
                }
                if visitor_ref.is_none() {
                    visitor_ref = Some(self.visitor_ref_of(chat).await?);
                }
                let notification =
                    AwayNotification::of(&message, visitor_ref.clone().flatten(), preview);
                let span = tracing::info_span!(
                    "notify",
                    chat_id = %chat,
                    correlation_id = %message.id
                );
                let published = notifier
                    .publish(&notification)
                    .instrument(span.clone())
                    .await;
                crate::metrics::notification(published.is_ok());
                span.in_scope(|| match published {
                    Ok(()) => {
                        report.published += 1;
                        tracing::info!("away notification published");
                    }
                    Err(error) => {
                        report.failed += 1;
                        tracing::warn!(message_id = %message.id, %error,
                            "an away notification was not published");
                    }
                });
            }
            after = last;
        }
        self.store
            .advance_notify_position(chat, upto, &self.rules.store_context)
            .await?;
        Ok(())
    }

    /// The `visitor_ref` the chat's visitor gave at start, if any.
    async fn visitor_ref_of(&self, chat: &ChatId) -> Result<Option<String>, ServiceError> {
        let Some(owner) = self.store.get_chat(chat).await?.and_then(|chat| chat.owner) else {
            return Ok(None);
        };
        Ok(self
            .store
            .get_visitor(&owner.visitor)
            .await?
            .and_then(|visitor| visitor.visitor_ref))
    }
}
