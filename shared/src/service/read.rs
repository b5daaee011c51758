//! Reading a visitor's chats and a chat's history: the token must name a visitor, and a chat
//! that is not the caller's is indistinguishable from one that does not exist.

use super::{Service, ServiceError};
use crate::domain::ChatId;
use crate::domain::chat::ChatRecord;
use crate::domain::cursor::{Cursor, PageRequest};
use crate::domain::feed::FeedCursor;
use crate::domain::message::MessageRecord;
use crate::domain::visitor::VisitorToken;
use crate::store::ChatStore;

/// One page of a chat's history with the cursors that continue it.
#[derive(Debug)]
pub struct HistoryView {
    pub chat: ChatRecord,
    /// Oldest first.
    pub messages: Vec<MessageRecord>,
    /// Where the sync feed (`after`) continues: the chat's feed position when the page was
    /// read, so every change stored since comes next.
    pub next_cursor: FeedCursor,
    /// Where the older page (`before`) starts; `None` at the start of the chat.
    pub prev_cursor: Option<Cursor>,
}

/// One page of a chat's sync feed.
#[derive(Debug)]
pub struct FeedView {
    pub chat: ChatRecord,
    /// In the order the changes were stored, each message once with its latest state.
    pub messages: Vec<MessageRecord>,
    /// After the last message returned; on an empty page, the cursor given.
    pub next_cursor: FeedCursor,
}

impl<S: ChatStore, G> Service<S, G> {
    /// The caller's chats, newest first.
    pub async fn list_chats(&self, token: &VisitorToken) -> Result<Vec<ChatRecord>, ServiceError> {
        let owner = self
            .store
            .get_visitor(&token.key())
            .await?
            .ok_or(ServiceError::UnknownVisitor)?
            .chat_owner();
        Ok(self
            .store
            .visitor_chats(&owner)
            .await?
            .into_iter()
            .filter(|chat| chat.is_visible_to(&owner))
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
        let owner = visitor.ok_or(ServiceError::UnknownVisitor)?.chat_owner();
        chat.filter(|chat| chat.is_visible_to(&owner))
            .ok_or(ServiceError::ChatNotFound)
    }

    /// A page of the chat's history: the newest messages, or those before a cursor. Two round
    /// trips: the token, chat and feed position together, then the page.
    pub async fn history(
        &self,
        token: &VisitorToken,
        chat_id: &ChatId,
        request: &PageRequest,
    ) -> Result<HistoryView, ServiceError> {
        let (chat, position) = self.readable_chat(token, chat_id).await?;
        let page = self.store.history_page(chat_id, request).await?;
        let cursor_of = |message: Option<&MessageRecord>| {
            message.and_then(MessageRecord::order_key).map(Cursor::at)
        };
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
            next_cursor: FeedCursor::at(position),
            prev_cursor,
        })
    }

    /// A page of the chat's sync feed after `after` (spec §1): every message stored or changed
    /// since, in the order the changes were stored. Two round trips, like history.
    pub async fn feed(
        &self,
        token: &VisitorToken,
        chat_id: &ChatId,
        after: FeedCursor,
        limit: usize,
    ) -> Result<FeedView, ServiceError> {
        let (chat, position) = self.readable_chat(token, chat_id).await?;
        let entries = self
            .store
            .feed_page(chat_id, after.position(), position, limit)
            .await?;
        let next_cursor = entries
            .last()
            .map_or(after, |entry| FeedCursor::at(entry.position));
        Ok(FeedView {
            chat,
            messages: entries.into_iter().map(|entry| entry.message).collect(),
            next_cursor,
        })
    }

    /// The chat if the token is valid and the chat is the caller's, with its feed position.
    async fn readable_chat(
        &self,
        token: &VisitorToken,
        chat_id: &ChatId,
    ) -> Result<(ChatRecord, u64), ServiceError> {
        let key = token.key();
        let (visitor, chat, position) = self.store.get_visitor_chat_and_feed(&key, chat_id).await?;
        let owner = visitor.ok_or(ServiceError::UnknownVisitor)?.chat_owner();
        let chat = chat
            .filter(|chat| chat.is_visible_to(&owner))
            .ok_or(ServiceError::ChatNotFound)?;
        Ok((chat, position))
    }
}
