//! The operator's flows (spec §1d): a chat's export, and the erasure of a chat or of a person
//! (every visitor a `visitor_ref` names, with all their chats). Erasure deletes only what this
//! service stores, never anything in Giosg; a second erasure finds nothing and says so (zero
//! counts).

use super::{Service, ServiceError};
use crate::domain::ChatId;
use crate::domain::chat::ChatRecord;
use crate::domain::cursor::{Cursor, PageRequest};
use crate::domain::input::VisitorRef;
use crate::domain::message::MessageRecord;
use crate::domain::visitor::PersonKey;
use crate::store::{ChatStore, Erased, ErasureStore, SubscriptionStore};

/// Messages read per history query of an export.
const EXPORT_PAGE: usize = 100;

/// A chat as an operator exports it.
#[derive(Debug)]
pub struct ChatExport {
    pub chat: ChatRecord,
    /// Every message in history order (removed ones as stored: without their text).
    pub messages: Vec<MessageRecord>,
    /// The visitor's name: its record's, or the one the chat was started with.
    pub visitor_name: Option<String>,
    pub visitor_ref: Option<String>,
}

/// What erasing a person found and deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ErasedPerson {
    /// The visitors the reference named.
    pub visitors_found: usize,
    pub erased: Erased,
}

impl<S: ChatStore, G> Service<S, G> {
    /// A stored chat (not a pending one), its messages and who its visitor is.
    pub async fn export_chat(&self, chat_id: &ChatId) -> Result<ChatExport, ServiceError> {
        let chat = self
            .store
            .get_chat(chat_id)
            .await?
            .filter(|chat| !chat.is_pending())
            .ok_or(ServiceError::ChatNotFound)?;
        let mut messages: Vec<MessageRecord> = Vec::new();
        let mut cursor = Cursor::start();
        loop {
            let request = PageRequest::After {
                cursor,
                limit: EXPORT_PAGE,
            };
            let page = self.store.history_page(chat_id, &request).await?;
            let full = page.messages.len() == EXPORT_PAGE;
            let last = page.messages.last().and_then(MessageRecord::order_key);
            messages.extend(page.messages);
            match last {
                Some(key) if full => cursor = Cursor::at(key),
                _ => break,
            }
        }
        let visitor = match &chat.owner {
            Some(owner) => self.store.get_visitor(&owner.visitor).await?,
            None => None,
        };
        let visitor_name = visitor
            .as_ref()
            .map(|visitor| visitor.name.clone())
            .or_else(|| chat.owner.as_ref().map(|owner| owner.visitor_name.clone()));
        Ok(ChatExport {
            visitor_ref: visitor.and_then(|visitor| visitor.visitor_ref),
            visitor_name,
            chat,
            messages,
        })
    }
}

impl<S: ChatStore + SubscriptionStore + ErasureStore, G> Service<S, G> {
    /// Deletes every item of the chat, and its mentions elsewhere: the connections subscribed
    /// to it forget it, and its visitor's latest chat is cleared if it was this one.
    pub async fn erase_chat(&self, chat_id: &ChatId) -> Result<Erased, ServiceError> {
        let owner = self
            .store
            .get_chat(chat_id)
            .await?
            .and_then(|chat| chat.owner);
        let erased = self.store.erase_chat(chat_id).await?;
        for connection_id in &erased.subscribers {
            if let Some(mut connection) = self.store.get_connection(connection_id).await?
                && connection.chats.contains(chat_id)
            {
                connection.chats.retain(|chat| chat != chat_id);
                self.store.put_connection(&connection).await?;
            }
        }
        if let Some(owner) = owner
            && let Some(mut visitor) = self.store.get_visitor(&owner.visitor).await?
            && visitor.latest_chat_id.as_ref() == Some(chat_id)
        {
            visitor.latest_chat_id = None;
            self.store
                .put_visitor(&visitor, &self.rules.store_context)
                .await?;
        }
        tracing::info!(chat_id = %chat_id, erased = erased.erased.total(), "a chat was erased");
        Ok(erased.erased)
    }

    /// Deletes every visitor `reference` names and everything about them: their chats (with
    /// every item of each), their records, start claims and connections.
    pub async fn erase_person(&self, reference: &VisitorRef) -> Result<ErasedPerson, ServiceError> {
        let visitors = self
            .store
            .visitors_of(&PersonKey::of(reference.as_str()))
            .await?;
        let mut person = ErasedPerson {
            visitors_found: visitors.len(),
            ..ErasedPerson::default()
        };
        for visitor in &visitors {
            let mut chats = self.store.chats_of(visitor).await?;
            if let Some(latest) = self
                .store
                .get_visitor(visitor)
                .await?
                .and_then(|record| record.latest_chat_id)
                && !chats.contains(&latest)
            {
                chats.push(latest);
            }
            for chat in &chats {
                person
                    .erased
                    .add(&self.store.erase_chat(chat).await?.erased);
            }
            person.erased.add(&self.store.erase_visitor(visitor).await?);
        }
        tracing::info!(
            visitors = person.visitors_found,
            erased = person.erased.total(),
            "a person was erased"
        );
        Ok(person)
    }
}
