//! One chat reconciled: read as the organization sees it (the chat, then every page of its
//! messages) and folded in through the same merge rules as webhooks, so a repair never breaks a
//! one-way rule and a webhook that arrives later changes nothing more. What changed visibly is
//! a repair: something a webhook should have brought and did not.

use std::collections::HashMap;

use serde::Serialize;

use crate::domain::chat::{Chat, ChatEvent, ChatRecord};
use crate::domain::counters::{self, Counters};
use crate::domain::cursor::{Cursor, PageRequest};
use crate::domain::message::{Message, MessageEvent, MessageRecord};
use crate::domain::{ChatId, EventAction, MessageId};
use crate::giosg::GiosgPort;
use crate::service::{Service, ServiceError};
use crate::store::{Applied, ChatStore};

/// History is read in pages of this many messages to know what is stored.
const STORED_PAGE: usize = 100;

/// What reconciling one chat found missing and repaired (counts only, never message text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChatRepair {
    pub chat_id: ChatId,
    /// The chat as the frontend sees it changed (its status, end, or it was unknown or gone).
    pub chat_changed: bool,
    /// Messages Giosg has that history did not show.
    pub messages_added: usize,
    /// Messages whose visible content changed (an edit, a purge).
    pub messages_changed: usize,
    /// Messages history showed that Giosg no longer has (a lost removal).
    pub messages_removed: usize,
    /// Giosg calls made: the chat, then each page of its messages.
    pub giosg_calls: usize,
}

impl ChatRepair {
    fn of(chat_id: &ChatId) -> Self {
        Self {
            chat_id: chat_id.clone(),
            chat_changed: false,
            messages_added: 0,
            messages_changed: 0,
            messages_removed: 0,
            giosg_calls: 0,
        }
    }

    /// Whether anything was missing.
    pub fn repaired(&self) -> bool {
        self.chat_changed
            || self.messages_added > 0
            || self.messages_changed > 0
            || self.messages_removed > 0
    }
}

/// A chat as the frontend could see it: none while pending or removed.
fn visible_chat(record: Option<&ChatRecord>) -> Option<Chat> {
    record
        .filter(|chat| !chat.is_pending() && chat.removed.is_unset())
        .map(ChatRecord::view)
}

/// A message as history shows it: none while pending.
fn visible_message(record: Option<&MessageRecord>) -> Option<Message> {
    record
        .filter(|message| !message.is_pending())
        .map(MessageRecord::view)
}

impl<S: ChatStore, G: GiosgPort> Service<S, G> {
    /// Reads one chat and its messages from Giosg's organization API and folds them in.
    pub async fn reconcile_chat(&self, chat_id: &ChatId) -> Result<ChatRepair, ServiceError> {
        let context = &self.rules.store_context;
        let mut repair = ChatRepair::of(chat_id);
        let before = self.store.get_chat(chat_id).await?;
        repair.giosg_calls += 1;
        // A chat Giosg does not show (a 404) is left alone: the same answer comes from a
        // misconfigured organization or token, and a removal can never be undone. Removals
        // come from Giosg's `removed` webhooks.
        let resource = self.giosg.owned_chat(chat_id).await?;
        let reported = counters::reported(&resource);
        let event = ChatEvent {
            action: EventAction::Added,
            resource: Some(resource),
            owner: None,
        };
        let (_, after) = self
            .store
            .apply_chat_event(chat_id, &event, context)
            .await?;
        repair.chat_changed = visible_chat(before.as_ref()) != visible_chat(after.as_ref());
        if visible_chat(after.as_ref()).is_none() {
            // Not this room's, or removed: nothing of it is shown.
            return Ok(repair);
        }

        let mut stored = self.stored_messages(chat_id).await?;
        let listing = self.giosg.owned_chat_messages(chat_id).await?;
        repair.giosg_calls += listing.pages;
        for resource in listing.items {
            let Some(message_id) = resource.id.clone() else {
                continue;
            };
            let shown = stored.remove(&message_id);
            let event = MessageEvent {
                action: EventAction::Added,
                resource: Some(resource),
                client_message_id: None,
            };
            let (applied, record) = self
                .store
                .apply_message_event(chat_id, &message_id, &event, context)
                .await?;
            if applied != Applied::Stored {
                continue;
            }
            match (shown, visible_message(record.as_ref())) {
                (None, Some(_)) => repair.messages_added += 1,
                (Some(was), Some(now)) if was != now => repair.messages_changed += 1,
                _ => {}
            }
        }
        // The listing was complete (every page read): what history shows beyond it is gone.
        for (message_id, shown) in stored {
            if shown.deleted {
                continue;
            }
            let removed = MessageEvent {
                action: EventAction::Removed,
                resource: None,
                client_message_id: None,
            };
            let (applied, _) = self
                .store
                .apply_message_event(chat_id, &message_id, &removed, context)
                .await?;
            if applied == Applied::Stored {
                repair.messages_removed += 1;
            }
        }
        // Giosg's messages are all in: its counters of that moment are consistent with them,
        // however Giosg counts.
        let checked = after.as_ref().and_then(|chat| chat.counters_checked);
        if !reported.is_unknown() && checked != Some(reported) {
            self.store
                .set_counters_checked(chat_id, reported, context)
                .await?;
        }
        if repair.repaired() {
            crate::metrics::reconcile_repair();
            tracing::warn!(
                chat_id = %chat_id,
                chat_changed = repair.chat_changed,
                messages_added = repair.messages_added,
                messages_changed = repair.messages_changed,
                messages_removed = repair.messages_removed,
                "reconciliation repaired what webhooks did not bring"
            );
        }
        Ok(repair)
    }

    /// Checks Giosg's counters of a chat, as last reported, against its stored messages, with
    /// no Giosg call: `true` when they agree (and records that), `false` when a message
    /// webhook may have been lost.
    pub(super) async fn counters_agree(&self, chat_id: &ChatId) -> Result<bool, ServiceError> {
        let Some(chat) = self.store.get_chat(chat_id).await? else {
            return Ok(true);
        };
        let giosg = chat.giosg_counters.latest();
        let stored = Counters::of_history(self.stored_messages(chat_id).await?.values());
        if giosg.disagrees_with(&stored) {
            tracing::info!(
                chat_id = %chat_id,
                giosg_messages = giosg.messages,
                stored_messages = stored.messages,
                "Giosg counts messages history does not show"
            );
            return Ok(false);
        }
        self.store
            .set_counters_checked(chat_id, giosg, &self.rules.store_context)
            .await?;
        Ok(true)
    }

    /// Every message the chat's history shows, by id.
    async fn stored_messages(
        &self,
        chat_id: &ChatId,
    ) -> Result<HashMap<MessageId, Message>, ServiceError> {
        let mut shown = HashMap::new();
        let mut request = PageRequest::Latest { limit: STORED_PAGE };
        loop {
            let page = self.store.history_page(chat_id, &request).await?;
            let oldest = page.messages.first().and_then(MessageRecord::order_key);
            for message in &page.messages {
                shown.insert(message.id.clone(), message.view());
            }
            match oldest {
                Some(key) if page.has_older => {
                    request = PageRequest::Before {
                        cursor: Cursor::at(key),
                        limit: STORED_PAGE,
                    };
                }
                _ => return Ok(shown),
            }
        }
    }
}
