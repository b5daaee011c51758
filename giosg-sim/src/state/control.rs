//! What only the control API asks of the model beyond agents: a visitor message by chat id,
//! the website widget visitor in the other room, and the overviews of chats and visitors.
//!
//! Built from the visitor, chat and message operations, so it sits above them.

use chrono::Utc;

use crate::control_types::{ChatDetail, ChatOverview, VisitorOverview};
use crate::resources::{ChatResource, MessageResource};

use super::SimState;
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
