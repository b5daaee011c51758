//! What Giosg accepted from our own calls, stored with its bookkeeping in one transaction when
//! nothing got there first: a sent message with its send key and visitor, a started chat with
//! its visitor (see the operations table in the module above).

use super::DynamoStore;
use super::claims::{MESSAGE_ID, SENT, STATE};
use super::feed::FeedWrite;
use super::item::{ItemKey, set_expiry, string};
use super::records::{StoredRecord, versioned_item, visitor_item};
use crate::domain::ChatId;
use crate::domain::Decision;
use crate::domain::chat::{ChatEvent, ChatRecord, apply_chat_event};
use crate::domain::message::{MessageRecord, apply_message_event};
use crate::domain::visitor::VisitorRecord;
use crate::store::{SentMessage, StoreContext, StoreError, StoreResult};

#[cfg(doc)]
use crate::store::ChatStore;

impl DynamoStore {
    /// Stores a sent message with its send key and visitor
    /// ([`ChatStore::record_sent_message`]).
    pub(super) async fn record_sent(
        &self,
        sent: &SentMessage,
        context: &StoreContext,
    ) -> StoreResult<MessageRecord> {
        let message_key = ItemKey::message(&sent.chat_id, &sent.message_id);
        let mut bookkeeping = Vec::new();
        if let Some(key) = &sent.idempotency_key {
            let mut item = ItemKey::send_key(&sent.chat_id, key).attributes();
            item.insert(STATE.into(), string(SENT));
            item.insert(MESSAGE_ID.into(), string(sent.message_id.as_str()));
            set_expiry(&mut item, context.retained(None));
            bookkeeping.push(item);
        }
        if let Some(visitor) = &sent.visitor {
            bookkeeping.push(visitor_item(visitor, context.retained(None))?);
        }
        let fold = |current: Option<&MessageRecord>| {
            apply_message_event(
                current,
                &sent.chat_id,
                &sent.message_id,
                &sent.event,
                &context.room_id,
            )
        };
        if let Decision::Write(record) = fold(None) {
            if MessageRecord::feeds(None, &record) {
                let written = self
                    .put_with_feed(&message_key, record, None, context, &bookkeeping)
                    .await?;
                if let FeedWrite::Written(record) = written {
                    return Ok(record);
                }
            } else {
                let (item, record) = versioned_item(&message_key, record, 1, context)?;
                if self.put_new_with(item, &bookkeeping).await? {
                    return Ok(record);
                }
            }
        }
        // The webhook echo stored the message first: merge into it like any event.
        let (_, record) = self.apply_folded(&message_key, context, fold).await?;
        let record = record
            .ok_or_else(|| StoreError::Corrupt("a sent message was not stored as ours".into()))?;
        self.put_all(bookkeeping).await?;
        Ok(record)
    }

    /// Stores a started chat with its visitor ([`ChatStore::record_started_chat`]).
    pub(super) async fn record_started(
        &self,
        visitor: &VisitorRecord,
        chat_id: &ChatId,
        event: &ChatEvent,
        context: &StoreContext,
    ) -> StoreResult<ChatRecord> {
        let chat_key = ItemKey::chat(chat_id);
        let fold = |current: Option<&ChatRecord>| {
            apply_chat_event(current, chat_id, event, &context.room_id)
        };
        let folded = fold(None);
        // The visitor lives at least as long as the chat it is stored with.
        let chat_created = match &folded {
            Decision::Write(chat) => chat.created_at.map(|at| at.as_datetime()),
            _ => None,
        };
        let bookkeeping = [visitor_item(visitor, context.retained(chat_created))?];
        if let Decision::Write(record) = folded {
            let (item, record) = versioned_item(&chat_key, record, 1, context)?;
            if self.put_new_with(item, &bookkeeping).await? {
                // Messages whose webhooks won the race wait for their chat.
                self.place_waiting_messages(&record, context).await?;
                return Ok(record);
            }
        }
        // A webhook stored the chat first: merge into it like any event.
        let (_, record) = self.fold_chat(chat_id, event, context).await?;
        let record = record
            .ok_or_else(|| StoreError::Corrupt("a started chat was not stored as ours".into()))?;
        self.put_all(bookkeeping.to_vec()).await?;
        Ok(record)
    }
}
