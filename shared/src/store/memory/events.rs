//! Folding events into the memory store, as the DynamoDB store's read-fold-write does: a chat or
//! message event through the domain's fold, the messages that waited for their chat placed when
//! it arrives, and a sent message recorded with its send key and visitor.

use super::{Expiring, State};
use crate::domain::Decision;
use crate::domain::chat::{ChatEvent, ChatRecord, apply_chat_event};
use crate::domain::message::{
    MessageEvent, MessageRecord, apply_message_event, may_place_by_chat, place_by_chat,
};
use crate::domain::{ChatId, MessageId};
use crate::store::{Applied, SendState, SentMessage, StoreContext, StoreError, StoreResult};

impl State {
    /// Places the messages that waited for their chat to arrive (see [`place_by_chat`]).
    pub(super) fn place_waiting_messages(&mut self, chat: &ChatId, context: &StoreContext) {
        let Some(messages) = self.messages.get(chat) else {
            return;
        };
        let chat_record = self.chat(chat).cloned();
        let placed: Vec<MessageRecord> = messages
            .by_id
            .values()
            .filter_map(Expiring::live)
            .filter_map(|record| place_by_chat(record, chat_record.as_ref(), &context.room_id))
            .collect();
        let messages = self.messages.entry(chat.clone()).or_default();
        for record in placed {
            let expires_at = context.expiry(record.is_pending(), record.created_at);
            messages.put(record, expires_at, context);
        }
    }

    pub(super) fn apply_message(
        &mut self,
        chat: &ChatId,
        id: &MessageId,
        event: &MessageEvent,
        context: &StoreContext,
    ) -> (Applied, Option<MessageRecord>) {
        let current = self.message(chat, id).cloned();
        let decision =
            match apply_message_event(current.as_ref(), chat, id, event, &context.room_id) {
                Decision::Write(record) if may_place_by_chat(event) => Decision::Write(
                    place_by_chat(&record, self.chat(chat), &context.room_id).unwrap_or(record),
                ),
                other => other,
            };
        match decision {
            Decision::Write(record) => {
                let expires_at = context.expiry(record.is_pending(), record.created_at);
                let record = self
                    .messages
                    .entry(chat.clone())
                    .or_default()
                    .put(record, expires_at, context);
                (Applied::Stored, Some(record))
            }
            Decision::Unchanged => (Applied::Unchanged, current),
            Decision::Ignore => (Applied::Ignored, None),
            Decision::Delete => {
                if let Some(messages) = self.messages.get_mut(chat) {
                    messages.remove(id);
                }
                (Applied::Deleted, None)
            }
        }
    }

    /// Folds a chat event into the stored chat; a chat placed in the room for the first time
    /// places the messages that waited for it.
    pub(super) fn apply_chat(
        &mut self,
        id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> (Applied, Option<ChatRecord>) {
        let current = self.chat(id).cloned();
        match apply_chat_event(current.as_ref(), id, event, &context.room_id) {
            Decision::Write(record) => {
                let expires_at = context.expiry(record.is_pending(), record.created_at);
                self.chats.insert(
                    id.clone(),
                    Expiring {
                        record: record.clone(),
                        expires_at,
                    },
                );
                if current.as_ref().is_none_or(ChatRecord::is_pending) {
                    self.place_waiting_messages(id, context);
                }
                (Applied::Stored, Some(record))
            }
            Decision::Unchanged => (Applied::Unchanged, current),
            Decision::Ignore => (Applied::Ignored, None),
            Decision::Delete => {
                self.chats.remove(id);
                (Applied::Deleted, None)
            }
        }
    }

    /// Stores a sent message (folded like any event), marks its idempotency key sent and saves
    /// the visitor if given.
    pub(super) fn record_sent(
        &mut self,
        sent: &SentMessage,
        context: &StoreContext,
    ) -> StoreResult<MessageRecord> {
        let (_, record) = self.apply_message(&sent.chat_id, &sent.message_id, &sent.event, context);
        let record = record
            .ok_or_else(|| StoreError::Corrupt("a sent message was not stored as ours".into()))?;
        if let Some(key) = &sent.idempotency_key {
            self.send_keys.insert(
                (sent.chat_id.clone(), key.clone()),
                Expiring {
                    record: SendState::Sent {
                        message_id: sent.message_id.clone(),
                    },
                    expires_at: context.retained(None),
                },
            );
        }
        if let Some(visitor) = &sent.visitor {
            self.put_visitor(visitor, context.retained(None));
        }
        Ok(record)
    }
}
