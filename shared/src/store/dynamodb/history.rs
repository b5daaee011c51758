//! The list reads: a visitor's chats (the `visitor-chats` GSI) and a chat's history pages (the
//! `history` LSI), as the operations table in the module above describes them.

use super::DynamoStore;
use super::error::unavailable;
use super::item::string;
use super::records::Versioned;
use super::requests::HistoryCondition;
use super::schema::{OWNER, VISITOR_CHATS_INDEX};
use crate::domain::ChatId;
use crate::domain::chat::ChatRecord;
use crate::domain::cursor::PageRequest;
use crate::domain::message::MessageRecord;
use crate::domain::visitor::VisitorKey;
use crate::store::{HistoryPage, StoreResult};

impl DynamoStore {
    /// The visitor's chats, newest first: every page of its `Query`.
    pub(super) async fn list_visitor_chats(
        &self,
        key: &VisitorKey,
    ) -> StoreResult<Vec<ChatRecord>> {
        let mut chats = Vec::new();
        let mut start_key = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(VISITOR_CHATS_INDEX)
                .key_condition_expression("#owner = :owner")
                .expression_attribute_names("#owner", OWNER)
                .expression_attribute_values(":owner", string(key.as_str()))
                .scan_index_forward(false)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|error| unavailable("Query", &error))?;
            for item in output.items.unwrap_or_default() {
                chats.extend(Versioned::<ChatRecord>::decode(Some(item))?.record);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(chats),
            }
        }
    }

    /// One page of the chat's history, oldest first.
    pub(super) async fn read_history_page(
        &self,
        chat: &ChatId,
        request: &PageRequest,
    ) -> StoreResult<HistoryPage> {
        let limit = request.limit();
        let (condition, wanted) = match request {
            PageRequest::Latest { .. } => (HistoryCondition::Newest, limit + 1),
            PageRequest::Before { cursor, .. } if cursor.is_start() => {
                return Ok(HistoryPage {
                    messages: Vec::new(),
                    has_older: false,
                });
            }
            PageRequest::Before { cursor, .. } => {
                (HistoryCondition::Before(cursor.key().as_str()), limit + 1)
            }
            PageRequest::After { cursor, .. } => {
                if limit == 0 {
                    return Ok(HistoryPage {
                        messages: Vec::new(),
                        has_older: !cursor.is_start(),
                    });
                }
                let condition = if cursor.is_start() {
                    HistoryCondition::Oldest
                } else {
                    HistoryCondition::After(cursor.key().as_str())
                };
                (condition, limit)
            }
        };
        let items = self.query_history(chat, condition, wanted).await?;
        let read = items.len();
        let mut messages = Vec::with_capacity(read.min(limit));
        for item in items.into_iter().take(limit) {
            messages.extend(Versioned::<MessageRecord>::decode(Some(item))?.record);
        }
        let has_older = match request {
            PageRequest::After { cursor, .. } => !cursor.is_start(),
            // Read newest first, one more than the page: that one says whether older exist.
            PageRequest::Latest { .. } | PageRequest::Before { .. } => {
                messages.reverse();
                read > limit
            }
        };
        Ok(HistoryPage {
            messages,
            has_older,
        })
    }
}
