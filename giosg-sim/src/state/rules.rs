//! The rooms' automation rules (`sender_type: rule`): the greeting a rule posts as an
//! `autosuggest` when a chat starts and the `system` notice that follows an agent joining (both
//! only with [`Behaviour::extra_message_types`](crate::config::Behaviour::extra_message_types)),
//! and rule messages posted through the control API.

use crate::resources::{
    Attachment, AttachmentAction, MessageResource, MessageType, WebhookAction, to_json,
};

use super::SimState;
use super::error::StateError;
use super::model::{push_message, with_ids};

/// The text of the greeting rule's autosuggestion.
pub(super) const GREETING_TEXT: &str = "Hi! How can we help you today?";

/// Which rule of the chat's room posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    /// The greeting rule (autosuggestions; control API rule messages).
    Greeting,
    /// The notices rule (`system` messages).
    Notices,
}

impl SimState {
    /// A rule of the chat's room posts a message: emits message `added` only (the caller emits
    /// the chat `changed` of the whole operation).
    pub(super) fn push_rule_message(
        &mut self,
        chat_id: &str,
        rule: Rule,
        kind: MessageType,
        text: Option<String>,
        attachments: Vec<Attachment>,
    ) -> Result<MessageResource, StateError> {
        let room_id = &self
            .chats
            .get(chat_id)
            .ok_or(StateError::ChatNotFound)?
            .room_id;
        let rules = self.rules_of(room_id);
        let sender = match rule {
            Rule::Greeting => rules.greeting.clone(),
            Rule::Notices => rules.notices.clone(),
        };
        let now = self.now();
        let chat = self
            .chats
            .get_mut(chat_id)
            .ok_or(StateError::ChatNotFound)?;
        let attachments = attachments.into_iter().map(with_ids).collect();
        let message_id = push_message(chat, kind, now, sender, text, attachments);
        chat.updated_at = now;
        let resource = self.render_message(chat_id, &message_id, &self.stamper())?;
        self.emit_message(
            WebhookAction::Added,
            chat_id,
            &message_id,
            Some(to_json(&resource)),
        );
        Ok(resource)
    }

    /// The room's greeting rule greets a new chat with an `autosuggest` card (called when extra
    /// message types are on): emits message `added` and chat `changed` (`updated_at`).
    pub(super) fn greet(&mut self, chat_id: &str) -> Result<(), StateError> {
        let before = self.canonical_chat(chat_id)?;
        let card = Attachment {
            text: Some("Choose a topic, or just type your question.".to_owned()),
            actions: vec![AttachmentAction {
                text: Some("Talk to an agent".to_owned()),
                kind: Some("button".to_owned()),
                value: Some("talk_to_agent".to_owned()),
                style: Some("brand_primary".to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        };
        self.push_rule_message(
            chat_id,
            Rule::Greeting,
            MessageType::Autosuggest,
            Some(GREETING_TEXT.to_owned()),
            vec![card],
        )?;
        self.emit_chat_changed(chat_id, &before)
    }

    /// When extra message types are on, the room's notices rule says that an agent joined:
    /// emits message `added` (`system`) only.
    pub(super) fn announce_join(
        &mut self,
        chat_id: &str,
        agent_public_name: &str,
    ) -> Result<(), StateError> {
        if self.behaviour.extra_message_types {
            let text = format!("{agent_public_name} joined the chat");
            self.push_rule_message(
                chat_id,
                Rule::Notices,
                MessageType::System,
                Some(text),
                Vec::new(),
            )?;
        }
        Ok(())
    }

    /// The chat room's greeting rule posts a message of any type (control API): emits message
    /// `added` and chat `changed`.
    pub(super) fn rule_message(
        &mut self,
        chat_id: &str,
        kind: MessageType,
        text: Option<String>,
        attachments: Vec<Attachment>,
    ) -> Result<MessageResource, StateError> {
        let before = self.canonical_chat(chat_id)?;
        let resource = self.push_rule_message(chat_id, Rule::Greeting, kind, text, attachments)?;
        self.emit_chat_changed(chat_id, &before)?;
        Ok(resource)
    }
}
