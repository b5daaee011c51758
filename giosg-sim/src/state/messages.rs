//! Chat messages: a visitor sends and lists them; the control API edits, purges and deletes
//! them.

use crate::pagination::SortKey;
use crate::resources::{Attachment, MessageResource, MessageType, WebhookAction, to_json};

use super::SimState;
use super::emit::changed_keys;
use super::error::StateError;
use super::model::{Message, push_message, with_ids};

impl SimState {
    /// A visitor sends a message: emits message `added` (when echoing) and chat `changed`.
    pub(crate) fn visitor_message(
        &mut self,
        visitor_id: &str,
        chat_id: &str,
        text: &str,
    ) -> Result<MessageResource, StateError> {
        self.visitor_post(
            visitor_id,
            chat_id,
            MessageType::Msg,
            Some(text.to_owned()),
            Vec::new(),
        )
    }

    /// A visitor posts a message of any type (a text `msg`, or e.g. an `action` pressing a
    /// button): emits message `added` (when echoing) and chat `changed`. Only a `msg` counts and
    /// makes the chat wait.
    pub(super) fn visitor_post(
        &mut self,
        visitor_id: &str,
        chat_id: &str,
        kind: MessageType,
        text: Option<String>,
        attachments: Vec<Attachment>,
    ) -> Result<MessageResource, StateError> {
        let chat = self.visitor_chat_ref(visitor_id, chat_id)?;
        if chat.is_ended {
            return Err(StateError::ChatEnded);
        }
        let max = self.behaviour.max_message_chars;
        if text.as_deref().is_some_and(|t| t.chars().count() > max) {
            return Err(StateError::Invalid {
                field: "message",
                message: format!("Ensure this field has no more than {max} characters."),
            });
        }
        let sender = self
            .visitors
            .get(visitor_id)
            .ok_or(StateError::VisitorNotFound)?
            .participant();
        let before = self.canonical_chat(chat_id)?;
        let now = self.now();
        let waiting_on_visitor = self.behaviour.waiting_on_visitor_message;
        let chat = self
            .chats
            .get_mut(chat_id)
            .ok_or(StateError::ChatNotFound)?;
        let attachments = attachments.into_iter().map(with_ids).collect();
        tracing::info!(%chat_id, %visitor_id, text = text.as_deref().unwrap_or_default(), ?kind, "visitor message");
        let message_id = push_message(chat, kind, now, sender, text, attachments);
        if kind == MessageType::Msg {
            if let Some(membership) = chat.membership_mut(visitor_id) {
                membership.message_count += 1;
                membership.updated_at = now;
            }
            if waiting_on_visitor && !chat.is_waiting {
                chat.is_waiting = true;
                chat.waiting_started_at = Some(now);
            }
        }
        chat.updated_at = now;
        let resource = self.render_message(chat_id, &message_id, &self.stamper())?;
        if self.behaviour.echo_visitor_messages {
            self.emit_message(
                WebhookAction::Added,
                chat_id,
                &message_id,
                Some(to_json(&resource)),
            );
        }
        self.emit_chat_changed(chat_id, &before)?;
        Ok(resource)
    }

    /// The messages of one chat of the visitor, in `(created_at, id)` order.
    pub(crate) fn visitor_messages(
        &self,
        visitor_id: &str,
        chat_id: &str,
    ) -> Result<Vec<(SortKey, MessageResource)>, StateError> {
        self.visitor_chat_ref(visitor_id, chat_id)?;
        self.messages(chat_id)
    }

    /// The messages of any chat (organization side), in `(created_at, id)` order.
    pub(crate) fn messages(
        &self,
        chat_id: &str,
    ) -> Result<Vec<(SortKey, MessageResource)>, StateError> {
        let chat = self.chats.get(chat_id).ok_or(StateError::ChatNotFound)?;
        let stamper = self.stamper();
        let mut messages: Vec<&Message> = chat.messages.iter().collect();
        messages.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(messages
            .into_iter()
            .map(|m| {
                (
                    SortKey::new(m.created_at, &m.id),
                    self.message_resource(chat, m, &stamper),
                )
            })
            .collect())
    }

    /// Edits a message's text: emits message `changed` with the new `message`.
    pub(crate) fn edit_message(
        &mut self,
        chat_id: &str,
        message_id: &str,
        text: String,
    ) -> Result<MessageResource, StateError> {
        let before = self.canonical_message(chat_id, message_id)?;
        let chat = self
            .chats
            .get_mut(chat_id)
            .ok_or(StateError::ChatNotFound)?;
        let index = chat.message_index(message_id)?;
        chat.messages[index].text = Some(text);
        self.emit_message_changed(chat_id, message_id, &before)?;
        self.render_message(chat_id, message_id, &self.stamper())
    }

    /// Purges a message's sensitive data: emits message `changed` with `message: null` and
    /// `sensitive_data_purged_at` (and `attachments: []` when it had some).
    pub(crate) fn purge_message(
        &mut self,
        chat_id: &str,
        message_id: &str,
    ) -> Result<MessageResource, StateError> {
        let before = self.canonical_message(chat_id, message_id)?;
        let now = self.now();
        let chat = self
            .chats
            .get_mut(chat_id)
            .ok_or(StateError::ChatNotFound)?;
        let index = chat.message_index(message_id)?;
        let message = &mut chat.messages[index];
        message.text = None;
        message.attachments.clear();
        message.purged_at.get_or_insert(now);
        self.emit_message_changed(chat_id, message_id, &before)?;
        self.render_message(chat_id, message_id, &self.stamper())
    }

    /// Deletes a message: emits message `removed`, then chat `changed` when its counters moved.
    pub(crate) fn delete_message(
        &mut self,
        chat_id: &str,
        message_id: &str,
    ) -> Result<(), StateError> {
        let before = self.canonical_chat(chat_id)?;
        let last_state = to_json(&self.render_message(chat_id, message_id, &self.stamper())?);
        let now = self.now();
        let chat = self
            .chats
            .get_mut(chat_id)
            .ok_or(StateError::ChatNotFound)?;
        let index = chat.message_index(message_id)?;
        let removed = chat.messages.remove(index);
        if removed.kind == MessageType::Msg
            && let Some(membership) = chat.membership_mut(&removed.sender.id)
        {
            membership.message_count = membership.message_count.saturating_sub(1);
        }
        let resource = self.removed_message_resource(chat_id, last_state);
        self.emit_message(WebhookAction::Removed, chat_id, message_id, resource);
        let after = self.canonical_chat(chat_id)?;
        if !changed_keys(&before, &after).is_empty() {
            if let Some(chat) = self.chats.get_mut(chat_id) {
                chat.updated_at = now;
            }
            self.emit_chat_changed(chat_id, &before)?;
        }
        Ok(())
    }
}
