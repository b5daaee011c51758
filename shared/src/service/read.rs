//! Reading a visitor's chats and a chat's history: the token must name a visitor, and a chat
//! that is not the caller's is indistinguishable from one that does not exist.

use super::{Service, ServiceError};
use crate::domain::ChatId;
use crate::domain::chat::ChatRecord;
use crate::domain::cursor::{Cursor, PageRequest};
use crate::domain::message::MessageRecord;
use crate::domain::visitor::VisitorToken;
use crate::store::ChatStore;

/// One page of a chat's history with the cursors that continue it.
#[derive(Debug)]
pub struct HistoryView {
    pub chat: ChatRecord,
    /// Oldest first.
    pub messages: Vec<MessageRecord>,
    /// Where a sync poll (`after`) continues: the last message returned, or on an empty page
    /// the cursor given (the start for a first history read).
    pub next_cursor: Cursor,
    /// Where the older page (`before`) starts; `None` at the start of the chat.
    pub prev_cursor: Option<Cursor>,
}

impl<S: ChatStore, G> Service<S, G> {
    /// The caller's chats, newest first.
    pub async fn list_chats(&self, token: &VisitorToken) -> Result<Vec<ChatRecord>, ServiceError> {
        let key = token.key();
        self.store
            .get_visitor(&key)
            .await?
            .ok_or(ServiceError::UnknownVisitor)?;
        Ok(self
            .store
            .visitor_chats(&key)
            .await?
            .into_iter()
            .filter(|chat| chat.is_visible_to(&key))
            .collect())
    }

    /// The chat if the token is valid and the chat is the caller's. One round trip.
    pub async fn get_chat(
        &self,
        token: &VisitorToken,
        chat_id: &ChatId,
    ) -> Result<ChatRecord, ServiceError> {
        let key = token.key();
        let (visitor, chat) = self.store.get_visitor_and_chat(&key, chat_id).await?;
        visitor.ok_or(ServiceError::UnknownVisitor)?;
        chat.filter(|chat| chat.is_visible_to(&key))
            .ok_or(ServiceError::ChatNotFound)
    }

    /// A page of the chat's history (or of its sync feed, for `After`).
    pub async fn history(
        &self,
        token: &VisitorToken,
        chat_id: &ChatId,
        request: &PageRequest,
    ) -> Result<HistoryView, ServiceError> {
        let chat = self.get_chat(token, chat_id).await?;
        let page = self.store.history_page(chat_id, request).await?;
        let cursor_of = |message: Option<&MessageRecord>| {
            message.and_then(MessageRecord::order_key).map(Cursor::at)
        };
        let next_cursor = cursor_of(page.messages.last()).unwrap_or_else(|| match request {
            PageRequest::After { cursor, .. } | PageRequest::Before { cursor, .. } => {
                cursor.clone()
            }
            PageRequest::Latest { .. } => Cursor::start(),
        });
        let prev_cursor = if !page.has_older {
            None
        } else if page.messages.is_empty() {
            match request {
                PageRequest::After { cursor, .. } => Some(cursor.clone()),
                _ => None,
            }
        } else {
            cursor_of(page.messages.first())
        };
        Ok(HistoryView {
            chat,
            messages: page.messages,
            next_cursor,
            prev_cursor,
        })
    }
}
