//! What only the control API asks of the model beyond agents: a visitor message by chat id,
//! a message of any type from any sender, the website widget visitor in the other room, and the
//! overviews of chats and visitors.
//!
//! Built from the visitor, chat and message operations, so it sits above them.

use chrono::Utc;

use crate::control_types::{AgentMessageRequest, ChatDetail, ChatOverview, VisitorOverview};
use crate::resources::{ChatResource, MessageResource, MessageType, ParticipantType};

use super::SimState;
use super::agents::DEFAULT_AGENT;
use super::error::StateError;
use super::model::{Chat, USERNAME_VARIABLE, Visitor};

impl SimState {
    /// A visitor message sent without the API, as from another device or the website widget.
    pub(crate) fn visitor_message_in_chat(
        &mut self,
        chat_id: &str,
        text: &str,
    ) -> Result<MessageResource, StateError> {
        let visitor_id = self
            .chats
            .get(chat_id)
            .ok_or(StateError::ChatNotFound)?
            .visitor_id
            .clone();
        self.visitor_message(&visitor_id, chat_id, text)
    }

    /// `POST /_sim/chats/{chat}/messages`: a message of `request.kind` (default `msg`) from
    /// `request.sender_type` (default the agent `request.agent_name`).
    pub(crate) fn control_message(
        &mut self,
        chat_id: &str,
        request: AgentMessageRequest,
    ) -> Result<MessageResource, StateError> {
        let kind = request.kind.unwrap_or(MessageType::Msg);
        if matches!(kind, MessageType::Join | MessageType::Leave) {
            return Err(StateError::Invalid {
                field: "type",
                message: "Join and leave messages come from /join and /leave.".to_owned(),
            });
        }
        let text = request.text;
        if text.as_deref().is_none_or(|t| t.trim().is_empty()) && request.attachments.is_empty() {
            return Err(StateError::Invalid {
                field: "text",
                message: "A message needs a text or an attachment.".to_owned(),
            });
        }
        let chat = self.chats.get(chat_id).ok_or(StateError::ChatNotFound)?;
        if chat.is_ended {
            return Err(StateError::ChatEnded);
        }
        let visitor_id = chat.visitor_id.clone();
        match request.sender_type.unwrap_or(ParticipantType::User) {
            ParticipantType::User => {
                let agent = request.agent_name.as_deref().unwrap_or(DEFAULT_AGENT);
                self.agent_message(chat_id, agent, kind, text, request.attachments)
            }
            ParticipantType::Visitor => {
                self.visitor_post(&visitor_id, chat_id, kind, text, request.attachments)
            }
            ParticipantType::Rule => self.rule_message(chat_id, kind, text, request.attachments),
        }
    }

    /// A website widget visitor starts a chat in the other room, optionally with a first message.
    pub(crate) fn widget_chat(
        &mut self,
        visitor_name: Option<String>,
        first_message: Option<&str>,
    ) -> Result<(String, ChatResource), StateError> {
        let room_id = self.other_room_id.clone();
        let visitor_id = self.create_visitor();
        if let Some(name) = visitor_name {
            self.set_variable(&visitor_id, &room_id, USERNAME_VARIABLE.to_owned(), name)?;
        }
        self.join_room(&visitor_id, &room_id, None)?;
        let chat = self.start_chat(&visitor_id, &room_id)?;
        if let Some(text) = first_message {
            self.visitor_message(&visitor_id, &chat.id, text)?;
        }
        let chat = self.render_chat(&chat.id, &self.stamper())?;
        Ok((visitor_id, chat))
    }

    pub(crate) fn chat_overviews(&self) -> Vec<ChatOverview> {
        let stamper = self.stamper();
        let mut chats: Vec<&Chat> = self.chats.values().collect();
        chats.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        chats
            .into_iter()
            .map(|c| ChatOverview {
                visitor_id: c.visitor_id.clone(),
                visitor_name: self.visitors.get(&c.visitor_id).and_then(Visitor::name),
                in_configured_room: c.room_id == self.room_id,
                messages_total: c.messages.len(),
                chat: self.chat_resource(c, &stamper),
            })
            .collect()
    }

    pub(crate) fn chat_detail(&self, chat_id: &str) -> Result<ChatDetail, StateError> {
        let chat = self.chats.get(chat_id).ok_or(StateError::ChatNotFound)?;
        Ok(ChatDetail {
            visitor_id: chat.visitor_id.clone(),
            visitor_name: self.visitors.get(&chat.visitor_id).and_then(Visitor::name),
            in_configured_room: chat.room_id == self.room_id,
            chat: self.chat_resource(chat, &self.stamper()),
            messages: self
                .messages(chat_id)?
                .into_iter()
                .map(|(_, m)| m)
                .collect(),
            memberships: self
                .memberships(chat_id)?
                .into_iter()
                .map(|(_, m)| m)
                .collect(),
        })
    }

    pub(crate) fn visitor_overviews(&self) -> Vec<VisitorOverview> {
        let now = Utc::now();
        let mut visitors: Vec<VisitorOverview> = self
            .visitors
            .values()
            .map(|v| {
                let mut chat_ids: Vec<&Chat> = self
                    .chats
                    .values()
                    .filter(|c| c.visitor_id == v.id)
                    .collect();
                chat_ids.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                VisitorOverview {
                    visitor_id: v.id.clone(),
                    name: v.name(),
                    variables: v.variables.clone(),
                    rooms: v.presence.keys().cloned().collect(),
                    chat_ids: chat_ids.into_iter().map(|c| c.id.clone()).collect(),
                    valid_tokens: self
                        .grants
                        .values()
                        .filter(|g| g.visitor_id == v.id && g.expires_at > now)
                        .count(),
                }
            })
            .collect();
        visitors.sort_by(|a, b| a.visitor_id.cmp(&b.visitor_id));
        visitors
    }
}
