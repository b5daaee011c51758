//! Sending a visitor's message: the idempotency protocol (a key is claimed, sent once, and
//! replayed after), Giosg's refusals in the API's terms, and the message stored at once from
//! Giosg's answer so that it is in history before the webhook echo.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Service, ServiceError, session};
use crate::domain::chat::ChatEvent;
use crate::domain::input::{IdempotencyKey, MessageText, text_digest};
use crate::domain::message::{MessageEvent, MessageRecord};
use crate::domain::rate::RateKey;
use crate::domain::visitor::VisitorToken;
use crate::domain::{
    ChatId, ChatResource, EventAction, Field, GiosgTime, MessageId, MessageResource, SenderType,
};
use crate::giosg::{GiosgError, GiosgPort, VisitorSession};
use crate::store::{ChatStore, Claim, Reservation, SendState, SentMessage};

/// After this long an in-flight send whose sender never finished is treated as an unknown
/// outcome: longer than the send function's timeout (10 s in the template), so its sender is
/// gone, maybe after Giosg took the message.
pub const SEND_CLAIM_STALE_AFTER: Duration = Duration::from_secs(20);

/// How much earlier than its claim a landed message may be stamped by Giosg (clock skew between
/// Giosg and us) and still be recognised as the claim's.
const LANDING_SKEW: chrono::Duration = chrono::Duration::minutes(2);

/// `POST /v1/chats/{chat_id}/messages`.
#[derive(Debug)]
pub struct SendMessage {
    pub token: VisitorToken,
    pub chat_id: ChatId,
    pub text: MessageText,
    pub idempotency_key: Option<IdempotencyKey>,
    /// Who is asking (the request id): the owner of the key's claim.
    pub request_id: String,
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
            request_id,
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
            .filter(|chat| chat.is_visible_to(&visitor.chat_owner()))
            .ok_or(ServiceError::ChatNotFound)?;
        if let Some(SendState::Sent { message_id }) = &context.key_state {
            crate::correlation::name(message_id.as_str());
            return Ok(SendOutcome::Replayed(
                self.replay(&chat_id, message_id).await?,
            ));
        }
        if chat.is_ended.is_set() {
            return Err(ServiceError::ChatEnded);
        }
        // A replay and a send to an ended chat cost nothing in Giosg: only a send takes a token.
        self.take_token(RateKey::Sends(key.clone())).await?;
        let mut session = session::open(&visitor, &token)?;
        let claim = Claim {
            owner: request_id,
            text_digest: text.digest(),
        };
        if let Some(idempotency_key) = &idempotency_key {
            let claimed = self
                .claim_key(&mut session, &chat_id, idempotency_key.as_str(), &claim)
                .await;
            let refreshed = session::keep_refreshed(&mut visitor, &mut session, &token);
            if refreshed
                && let Err(error) = self
                    .store
                    .put_visitor(&visitor, &self.rules.store_context)
                    .await
            {
                tracing::warn!(%error, "could not save a refreshed Giosg session");
            }
            if let Some(landed) = claimed? {
                return Ok(SendOutcome::Replayed(landed));
            }
        }

        let sent = self
            .giosg
            .send_message(&mut session, &chat_id, text.as_str())
            .await;
        // A refreshed token (or a visitor Giosg replaced) is worth keeping either way.
        let refreshed = session::keep_refreshed(&mut visitor, &mut session, &token);
        let mut resource = match sent {
            Ok(resource) => resource,
            Err(error) => {
                if let Some(idempotency_key) = &idempotency_key {
                    self.settle_failed_claim(&chat_id, idempotency_key.as_str(), &claim, &error)
                        .await;
                }
                if refreshed
                    && let Err(store_error) = self
                        .store
                        .put_visitor(&visitor, &self.rules.store_context)
                        .await
                {
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
        // From here on, the request's log lines carry the message's id (its webhook's do too).
        crate::correlation::name(message_id.as_str());
        self.ours(&chat_id, &mut resource);
        let key = idempotency_key.map(IdempotencyKey::into_string);
        let recorded = self
            .store
            .record_sent_message(
                &SentMessage {
                    chat_id: chat_id.clone(),
                    message_id,
                    event: MessageEvent {
                        action: EventAction::Added,
                        resource: Some(resource),
                        client_message_id: key.clone(),
                    },
                    idempotency_key: key.clone(),
                    visitor: refreshed.then_some(visitor),
                },
                &self.rules.store_context,
            )
            .await;
        match recorded {
            Ok(record) => Ok(SendOutcome::Sent(record)),
            Err(error) => {
                // Giosg has the message; the echo webhook or a retry (which finds it in Giosg)
                // stores it. Say so on the key where storage still answers, so that the retry
                // finds out at once instead of waiting for the claim to go stale.
                if let Some(key) = &key
                    && let Err(also) = self
                        .store
                        .mark_send_unknown(&chat_id, key, &claim.owner)
                        .await
                {
                    tracing::warn!(error = %also, "could not mark a sent message's key after storing it failed");
                }
                Err(error.into())
            }
        }
    }

    /// Giosg's answer is about our chat in our room even where it leaves that unsaid.
    fn ours(&self, chat_id: &ChatId, resource: &mut MessageResource) {
        if resource.room_id.is_absent() {
            resource.room_id = Field::Value(self.rules.room_id().clone());
        }
        if resource.chat_id.is_absent() {
            resource.chat_id = Field::Value(chat_id.clone());
        }
    }

    /// Claims the idempotency key for this request: `None` when it is this request's to send,
    /// or the key's message when it is in Giosg already (answer with it, send nothing). A
    /// holder whose outcome is unknown (Giosg failed halfway, or its sender died) is found out
    /// first; only when Giosg shows its message did not land is the key taken over.
    async fn claim_key(
        &self,
        session: &mut VisitorSession,
        chat_id: &ChatId,
        idempotency_key: &str,
        claim: &Claim,
    ) -> Result<Option<MessageRecord>, ServiceError> {
        let mut reservation = self
            .store
            .reserve_send(chat_id, idempotency_key, claim, &self.rules.store_context)
            .await?;
        // One take-over at most: a second stranger in between is a concurrent retry.
        for _ in 0..2 {
            let held = match reservation {
                Reservation::Reserved => return Ok(None),
                Reservation::Taken(SendState::Sent { message_id }) => {
                    return Ok(Some(self.replay(chat_id, &message_id).await?));
                }
                Reservation::Taken(held) => held,
            };
            let Some((holder, since)) =
                held.to_find_out(Utc::now(), self.rules.send_claim_stale_after)
            else {
                return Err(ServiceError::SendInProgress);
            };
            if let Some(record) = self
                .find_landed(session, chat_id, idempotency_key, holder, since)
                .await?
            {
                return Ok(Some(record));
            }
            tracing::info!(
                chat_id = %chat_id,
                "a send with an unknown outcome did not land in Giosg; sending it now"
            );
            reservation = self
                .store
                .take_over_send(
                    chat_id,
                    idempotency_key,
                    &holder.owner,
                    claim,
                    &self.rules.store_context,
                )
                .await?;
        }
        Err(ServiceError::SendInProgress)
    }

    /// The message `holder`'s send put in Giosg, if it landed: the visitor's message with the
    /// claim's text, stamped no earlier than the claim (less clock skew) and not another key's.
    /// Giosg's own listing decides; found, it is stored as the key's message.
    async fn find_landed(
        &self,
        session: &mut VisitorSession,
        chat_id: &ChatId,
        idempotency_key: &str,
        holder: &Claim,
        since: DateTime<Utc>,
    ) -> Result<Option<MessageRecord>, ServiceError> {
        let mut candidates: Vec<MessageResource> = self
            .giosg
            .visitor_messages(session, chat_id)
            .await
            .map_err(ServiceError::Giosg)?
            .into_iter()
            .filter(|m| {
                m.id.is_some()
                    && sent_by_claim(
                        holder,
                        since,
                        m.sender_type.value(),
                        m.message.value().map(String::as_str),
                        m.created_at.value().copied(),
                    )
            })
            .collect();
        candidates.sort_by_key(|m| m.created_at.value().copied());
        for mut resource in candidates {
            let Some(message_id) = resource.id.clone() else {
                continue;
            };
            let stored = self.store.get_message(chat_id, &message_id).await?;
            let claimed_by_another = stored
                .as_ref()
                .and_then(|record| record.client_message_id.as_deref())
                .is_some_and(|other| other != idempotency_key);
            if claimed_by_another {
                continue;
            }
            crate::correlation::name(message_id.as_str());
            tracing::info!(
                chat_id = %chat_id,
                message_id = %message_id,
                "a send with an unknown outcome had landed in Giosg; answering with it"
            );
            self.ours(chat_id, &mut resource);
            let record = self
                .store
                .record_sent_message(
                    &SentMessage {
                        chat_id: chat_id.clone(),
                        message_id,
                        event: MessageEvent {
                            action: EventAction::Added,
                            resource: Some(resource),
                            client_message_id: Some(idempotency_key.to_owned()),
                        },
                        idempotency_key: Some(idempotency_key.to_owned()),
                        visitor: None,
                    },
                    &self.rules.store_context,
                )
                .await?;
            return Ok(Some(record));
        }
        Ok(None)
    }

    /// After a failed Giosg call: a call Giosg may have carried out leaves the claim with an
    /// unknown outcome (a retry finds out); one that certainly did not reach Giosg gives the
    /// key back.
    async fn settle_failed_claim(
        &self,
        chat_id: &ChatId,
        idempotency_key: &str,
        claim: &Claim,
        error: &GiosgError,
    ) {
        let settled = if error.may_have_acted() {
            self.store
                .mark_send_unknown(chat_id, idempotency_key, &claim.owner)
                .await
        } else {
            self.store
                .release_send(chat_id, idempotency_key, &claim.owner)
                .await
        };
        if let Err(store_error) = settled {
            tracing::warn!(error = %store_error, "could not settle a send claim after a Giosg failure");
        }
    }

    /// The first answer for an idempotency key that was already used.
    async fn replay(
        &self,
        chat_id: &ChatId,
        message_id: &MessageId,
    ) -> Result<MessageRecord, ServiceError> {
        self.store
            .get_message(chat_id, message_id)
            .await?
            .ok_or_else(|| ServiceError::Internal("a sent idempotency key names no message".into()))
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

/// Whether a message is the one `claim` (made at `since`) sent: the visitor's, with the
/// claim's text, stamped no earlier than the claim less clock skew. The one rule for finding
/// out from Giosg's listing and for matching an echo.
fn sent_by_claim(
    claim: &Claim,
    since: DateTime<Utc>,
    sender: Option<&SenderType>,
    text: Option<&str>,
    created_at: Option<GiosgTime>,
) -> bool {
    sender == Some(&SenderType::Visitor)
        && created_at.is_some_and(|at| at >= GiosgTime::from(since - LANDING_SKEW))
        && text.is_some_and(|text| text_digest(text) == claim.text_digest)
}

impl<S: ChatStore, G> Service<S, G> {
    /// A visitor's message just stored from its webhook echo, with no idempotency key: if a
    /// send of that text is still open in the chat (in flight, or with an unknown outcome
    /// because Giosg's answer was lost), this is its message. The key is marked sent with it and
    /// the message carries the key, so the frontend that sent it recognises it in the feed and
    /// a retry answers with it. Best effort: a failure here leaves the retry to find out.
    pub(super) async fn match_echo(
        &self,
        chat_id: &ChatId,
        record: &MessageRecord,
        event: &MessageEvent,
    ) {
        if record.client_message_id.is_some()
            || record.is_pending()
            || record.sender_type.get() != Some(&SenderType::Visitor)
        {
            return;
        }
        let open = match self.store.open_send_claims(chat_id).await {
            Ok(open) => open,
            Err(error) => {
                tracing::warn!(%error, "could not read a chat's open sends to match an echo");
                return;
            }
        };
        let matching = open.into_iter().find(|(_, state)| match state {
            SendState::InFlight { since, claim } | SendState::Unknown { since, claim } => {
                sent_by_claim(
                    claim,
                    *since,
                    record.sender_type.get(),
                    record.text.get().map(String::as_str),
                    record.created_at,
                )
            }
            SendState::Sent { .. } => false,
        });
        let Some((key, _)) = matching else {
            return;
        };
        let sent = SentMessage {
            chat_id: chat_id.clone(),
            message_id: record.id.clone(),
            event: MessageEvent {
                client_message_id: Some(key.clone()),
                ..event.clone()
            },
            idempotency_key: Some(key),
            visitor: None,
        };
        match self
            .store
            .record_sent_message(&sent, &self.rules.store_context)
            .await
        {
            Ok(_) => tracing::info!(
                chat_id = %chat_id,
                message_id = %record.id,
                "a visitor message's echo matched an open send; its key is settled"
            ),
            Err(error) => tracing::warn!(%error, "could not settle a send with its echo"),
        }
    }
}
