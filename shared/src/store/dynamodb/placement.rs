//! Placement by chat in DynamoDB: a message Giosg described in full is in the room when its
//! chat is ([`place_by_chat`]). A message written after its chat is placed as it is written; one
//! that arrived first waits (pending, with the pending TTL) and is placed when its chat arrives.
//! The writer of each re-reads the other, so whichever lands second places the message.

use std::sync::atomic::{AtomicBool, Ordering};

use super::DynamoStore;
use super::error::unavailable;
use super::item::{ItemKey, string};
use super::records::Versioned;
use super::schema::{PK, SK};
use crate::domain::chat::{ChatEvent, ChatRecord, apply_chat_event};
use crate::domain::message::{
    MessageEvent, MessageRecord, apply_message_event, may_place_by_chat, place_by_chat,
};
use crate::domain::{ChatId, Decision, MessageId};
use crate::store::{Applied, ChatStore, StoreContext, StoreResult};

impl DynamoStore {
    /// Folds a message event in, placing the message by its chat (see the module doc). One
    /// more `GetItem` (the chat) only for an event that [`may_place_by_chat`], and one more when
    /// that message had to wait.
    pub(super) async fn fold_message(
        &self,
        chat: &ChatId,
        id: &MessageId,
        event: &MessageEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<MessageRecord>)> {
        let chat_record = if may_place_by_chat(event) {
            self.get_chat(chat).await?
        } else {
            None
        };
        let key = ItemKey::message(chat, id);
        let (applied, record) = self
            .apply_folded(&key, context, |current| {
                match apply_message_event(current, chat, id, event, &context.room_id) {
                    Decision::Write(record) => Decision::Write(
                        place_by_chat(&record, chat_record.as_ref(), &context.room_id)
                            .unwrap_or(record),
                    ),
                    other => other,
                }
            })
            .await?;
        let waits = record
            .as_ref()
            .is_some_and(|record| record.is_pending() && record.snapshot_seen.is_set());
        if waits && chat_record.is_none() {
            // The chat may have landed meanwhile, its writer not seeing this message yet.
            if let Some(chat_record) = self.get_chat(chat).await? {
                let (_, placed) = self.place(&key, &chat_record, context).await?;
                return Ok((applied, placed.or(record)));
            }
        }
        Ok((applied, record))
    }

    /// Folds a chat event in and, when that places the chat in the room for the first time,
    /// places the messages that waited for it.
    pub(super) async fn fold_chat(
        &self,
        id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<ChatRecord>)> {
        let newly_placed = AtomicBool::new(false);
        let (applied, record) = self
            .apply_folded(&ItemKey::chat(id), context, |current| {
                let decision = apply_chat_event(current, id, event, &context.room_id);
                let was_unplaced = current.is_none_or(ChatRecord::is_pending);
                let placed = matches!(&decision, Decision::Write(record) if !record.is_pending());
                newly_placed.store(was_unplaced && placed, Ordering::Relaxed);
                decision
            })
            .await?;
        if applied == Applied::Stored
            && newly_placed.load(Ordering::Relaxed)
            && let Some(chat) = &record
        {
            self.place_waiting_messages(chat, context).await?;
        }
        Ok((applied, record))
    }

    /// Places every message of `chat` that waited for it: one `Query` of the chat's items, and
    /// a conditional write per waiting message.
    pub(super) async fn place_waiting_messages(
        &self,
        chat: &ChatRecord,
        context: &StoreContext,
    ) -> StoreResult<()> {
        let pk = ItemKey::chat(&chat.id).pk;
        let mut start_key = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :msg)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", string(pk.as_str()))
                .expression_attribute_values(":msg", string("MSG#"))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|error| unavailable("Query", &error))?;
            for item in output.items.unwrap_or_default() {
                let stored: Versioned<MessageRecord> = Versioned::decode(Some(item))?;
                if let Some(message) = stored.record
                    && place_by_chat(&message, Some(chat), &context.room_id).is_some()
                {
                    let key = ItemKey::message(&chat.id, &message.id);
                    self.place(&key, chat, context).await?;
                }
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(()),
            }
        }
    }

    /// Places one stored message by its chat (nothing when it needs no placing).
    async fn place(
        &self,
        key: &ItemKey,
        chat: &ChatRecord,
        context: &StoreContext,
    ) -> StoreResult<(Applied, Option<MessageRecord>)> {
        self.apply_folded(
            key,
            context,
            |current: Option<&MessageRecord>| match current
                .and_then(|record| place_by_chat(record, Some(chat), &context.room_id))
            {
                Some(placed) => Decision::Write(placed),
                None => Decision::Unchanged,
            },
        )
        .await
    }
}
