//! Sending a visitor's message: the idempotency protocol (a key is claimed, sent once, and
//! replayed after), Giosg's refusals in the API's terms, and the message stored at once from
//! Giosg's answer so that it is in history before the webhook echo.

use std::time::Duration;

use chrono::Utc;

use super::{Service, ServiceError, session};
use crate::domain::chat::ChatEvent;
use crate::domain::input::{IdempotencyKey, MessageText};
use crate::domain::message::{MessageEvent, MessageRecord};
use crate::domain::visitor::VisitorToken;
use crate::domain::{ChatId, ChatResource, EventAction, Field, GiosgTime, MessageId};
use crate::giosg::{GiosgError, GiosgPort};
use crate::store::{ChatStore, Reservation, SendState, SentMessage};

/// After this long an in-flight send whose sender never finished may be retried.
pub const SEND_CLAIM_STALE_AFTER: Duration = Duration::from_secs(60);

/// `POST /v1/chats/{chat_id}/messages`.
#[derive(Debug)]
pub struct SendMessage {
    pub token: VisitorToken,
    pub chat_id: ChatId,
    pub text: MessageText,
    pub idempotency_key: Option<IdempotencyKey>,
}

#[derive(Debug)]
pub enum SendOutcome {
    /// Sent now.
    Sent(MessageRecord),
    /// The idempotency key was used before: the message it sent, nothing sent now.
    Replayed(MessageRecord),
}

impl<S: ChatStore, G: GiosgPort> Service<S, G> {
    pub async fn send_message(&self, command: SendMessage) -> Result<SendOutcome, ServiceError> {
        let SendMessage {
            token,
            chat_id,
            text,
            idempotency_key,
        } = command;
        let key = token.key();
        let context = self
            .store
            .send_context(
                &key,
                &chat_id,
                idempotency_key.as_ref().map(IdempotencyKey::as_str),
            )
            .await?;
        let mut visitor = context.visitor.ok_or(ServiceError::UnknownVisitor)?;
        let chat = context
            .chat
            .filter(|chat| chat.is_visible_to(&key))
            .ok_or(ServiceError::ChatNotFound)?;
        if let Some(SendState::Sent { message_id }) = &context.key_state {
            return self.replay(&chat_id, message_id).await;
        }
        if chat.is_ended.is_set() {
            return Err(ServiceError::ChatEnded);
        }
        if let Some(idempotency_key) = &idempotency_key {
            match self
                .store
                .reserve_send(&chat_id, idempotency_key.as_str(), SEND_CLAIM_STALE_AFTER)
                .await?
            {
                Reservation::Reserved => {}
                Reservation::Taken(SendState::Sent { message_id }) => {
                    return self.replay(&chat_id, &message_id).await;
                }
                Reservation::Taken(SendState::InFlight { .. }) => {
                    return Err(ServiceError::SendInProgress);
                }
            }
        }

        let mut session = session::open(&visitor, &token)?;
        let sent = self
            .giosg
            .send_message(&mut session, &chat_id, text.as_str())
            .await;
        // A refreshed token (or a visitor Giosg replaced) is worth keeping either way.
        let refreshed = session::keep_refreshed(&mut visitor, &mut session, &token);
        let mut resource = match sent {
            Ok(resource) => resource,
            Err(error) => {
                if let Some(idempotency_key) = &idempotency_key
                    && let Err(release_error) = self
                        .store
                        .release_send(&chat_id, idempotency_key.as_str())
                        .await
                {
                    tracing::warn!(error = %release_error, "could not release a send claim");
                }
                if refreshed && let Err(store_error) = self.store.put_visitor(&visitor).await {
                    tracing::warn!(error = %store_error, "could not save a refreshed Giosg session");
                }
                return Err(self.refusal(&chat_id, error).await);
            }
        };
        let message_id = resource.id.clone().ok_or_else(|| {
            ServiceError::Giosg(GiosgError::InvalidResponse {
                endpoint: "send_message",
                reason: "the message has no id".into(),
            })
        })?;
        // Giosg's answer is about our chat in our room even where it leaves that unsaid.
        if resource.room_id.is_absent() {
            resource.room_id = Field::Value(self.rules.room_id().clone());
        }
        if resource.chat_id.is_absent() {
            resource.chat_id = Field::Value(chat_id.clone());
        }
        let idempotency_key = idempotency_key.map(IdempotencyKey::into_string);
        let record = self
            .store
            .record_sent_message(
                &SentMessage {
                    chat_id,
                    message_id,
                    event: MessageEvent {
                        action: EventAction::Added,
                        resource: Some(resource),
                        client_message_id: idempotency_key.clone(),
                    },
                    idempotency_key,
                    visitor: refreshed.then_some(visitor),
                },
                &self.rules.store_context,
            )
            .await?;
        Ok(SendOutcome::Sent(record))
    }

    /// The first answer for an idempotency key that was already used.
    async fn replay(
        &self,
        chat_id: &ChatId,
        message_id: &MessageId,
    ) -> Result<SendOutcome, ServiceError> {
        let record = self
            .store
            .get_message(chat_id, message_id)
            .await?
            .ok_or_else(|| {
                ServiceError::Internal("a sent idempotency key names no message".into())
            })?;
        Ok(SendOutcome::Replayed(record))
    }

    /// Giosg's refusal of a send, in the API's terms. What a 4xx means is not documented, so a
    /// refusal ends the chat only when Giosg's organization API shows the chat ended; the end is
    /// then recorded (its "ended" webhook is late or was lost), so that the visitor is offered a
    /// new chat instead of resuming this one.
    async fn refusal(&self, chat_id: &ChatId, error: GiosgError) -> ServiceError {
        if let GiosgError::VisitorReplaced { .. } = error {
            // Giosg no longer knows the visitor who owns this chat: only a new chat can go on.
            tracing::warn!(%error, "Giosg replaced the visitor of a chat");
            self.mark_ended(chat_id, None).await;
            return ServiceError::ChatEnded;
        }
        if !error.is_refused() {
            return ServiceError::Giosg(error);
        }
        match self.giosg.owned_chat(chat_id).await {
            Ok(chat) if chat.is_ended.value() == Some(&true) => {
                self.mark_ended(chat_id, chat.ended_at.value().copied())
                    .await;
                ServiceError::ChatEnded
            }
            // The chat is open: the refusal is about this message.
            Ok(_) if error.status() == Some(400) => ServiceError::TextRefused,
            Ok(_) => ServiceError::Giosg(error),
            Err(lookup) if lookup.is_refused() && lookup.status() == Some(404) => {
                ServiceError::ChatNotFound
            }
            Err(lookup) => {
                tracing::warn!(%error, %lookup, "Giosg refused a message and the chat could not be read to tell why");
                ServiceError::Giosg(error)
            }
        }
    }

    /// Records that a chat has ended, when Giosg says (from its own copy of the chat) or now.
    /// The real webhook, when it comes, changes nothing more.
    async fn mark_ended(&self, chat_id: &ChatId, ended_at: Option<GiosgTime>) {
        let event = ChatEvent {
            action: EventAction::Changed,
            resource: Some(ChatResource {
                is_ended: Field::Value(true),
                ended_at: Field::Value(ended_at.unwrap_or_else(|| GiosgTime::from(Utc::now()))),
                ..ChatResource::default()
            }),
            owner: None,
        };
        if let Err(error) = self
            .store
            .apply_chat_event(chat_id, &event, &self.rules.store_context)
            .await
        {
            tracing::warn!(%error, "could not record that a chat has ended");
        }
    }
}
