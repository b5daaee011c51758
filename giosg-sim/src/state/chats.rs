//! The chat lifecycle: a visitor starts a chat, reads it, ends it; the organization reads it and
//! its memberships; the control API deletes it.

use crate::ids;
use crate::pagination::SortKey;
use crate::resources::{ChatResource, MembershipResource, WebhookAction, to_json};

use super::SimState;
use super::error::StateError;
use super::model::{Chat, Membership};
use super::render::membership_resource;

impl SimState {
    /// A visitor starts a chat: emits chat `added` (then, with extra message types, the room's
    /// greeting: message `added` of an `autosuggest`, chat `changed`).
    pub(crate) fn start_chat(
        &mut self,
        visitor_id: &str,
        room_id: &str,
    ) -> Result<ChatResource, StateError> {
        self.require_room(room_id)?;
        let visitor = self
            .visitors
            .get(visitor_id)
            .ok_or(StateError::VisitorNotFound)?;
        if self.behaviour.require_room_join && !visitor.presence.contains_key(room_id) {
            return Err(StateError::NotJoined);
        }
        if !self.room_online(room_id) {
            return Err(StateError::RoomOffline);
        }
        let member = visitor.participant();
        let now = self.now();
        let chat = Chat {
            id: ids::uuid(),
            room_id: room_id.to_owned(),
            visitor_id: visitor_id.to_owned(),
            created_at: now,
            updated_at: now,
            is_ended: false,
            ended_at: None,
            is_waiting: false,
            waiting_started_at: None,
            messages: Vec::new(),
            memberships: vec![Membership {
                member,
                created_at: now,
                updated_at: now,
                is_participating: true,
                is_present: true,
                message_count: 0,
            }],
        };
        let chat_id = chat.id.clone();
        self.chats.insert(chat_id.clone(), chat);
        tracing::info!(%chat_id, %visitor_id, %room_id, "chat started");
        let resource = self.render_chat(&chat_id, &self.stamper())?;
        self.emit_chat(WebhookAction::Added, &chat_id, Some(to_json(&resource)));
        if !self.behaviour.extra_message_types {
            return Ok(resource);
        }
        self.greet(&chat_id)?;
        self.render_chat(&chat_id, &self.stamper())
    }

    /// A chat of the visitor, or why not.
    pub(super) fn visitor_chat_ref(
        &self,
        visitor_id: &str,
        chat_id: &str,
    ) -> Result<&Chat, StateError> {
        let chat = self.chats.get(chat_id).ok_or(StateError::ChatNotFound)?;
        if chat.visitor_id != visitor_id {
            return Err(StateError::ForeignChat);
        }
        Ok(chat)
    }

    /// The visitor's chats, in creation order.
    pub(crate) fn visitor_chats(&self, visitor_id: &str) -> Vec<(SortKey, ChatResource)> {
        let stamper = self.stamper();
        let mut chats: Vec<&Chat> = self
            .chats
            .values()
            .filter(|c| c.visitor_id == visitor_id)
            .collect();
        chats.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        chats
            .into_iter()
            .map(|c| {
                (
                    SortKey::new(c.created_at, &c.id),
                    self.chat_resource(c, &stamper),
                )
            })
            .collect()
    }

    /// One chat of the visitor.
    pub(crate) fn visitor_chat(
        &self,
        visitor_id: &str,
        chat_id: &str,
    ) -> Result<ChatResource, StateError> {
        let chat = self.visitor_chat_ref(visitor_id, chat_id)?;
        Ok(self.chat_resource(chat, &self.stamper()))
    }

    /// The visitor ends their chat (a no-op on an ended chat).
    pub(crate) fn visitor_end_chat(
        &mut self,
        visitor_id: &str,
        chat_id: &str,
    ) -> Result<ChatResource, StateError> {
        self.visitor_chat_ref(visitor_id, chat_id)?;
        self.end_chat(chat_id)
    }

    /// Ends a chat: emits chat `changed` with `is_ended` and `ended_at` (nothing when already ended).
    pub(crate) fn end_chat(&mut self, chat_id: &str) -> Result<ChatResource, StateError> {
        let before = self.canonical_chat(chat_id)?;
        let now = self.now();
        let chat = self
            .chats
            .get_mut(chat_id)
            .ok_or(StateError::ChatNotFound)?;
        if !chat.is_ended {
            chat.is_ended = true;
            chat.ended_at = Some(now);
            chat.is_waiting = false;
            chat.waiting_started_at = None;
            chat.updated_at = now;
            tracing::info!(%chat_id, "chat ended");
            self.emit_chat_changed(chat_id, &before)?;
        }
        self.render_chat(chat_id, &self.stamper())
    }

    pub(crate) fn owned_chat(&self, chat_id: &str) -> Result<ChatResource, StateError> {
        self.render_chat(chat_id, &self.stamper())
    }

    pub(crate) fn memberships(
        &self,
        chat_id: &str,
    ) -> Result<Vec<(SortKey, MembershipResource)>, StateError> {
        let chat = self.chats.get(chat_id).ok_or(StateError::ChatNotFound)?;
        let stamper = self.stamper();
        Ok(chat
            .memberships
            .iter()
            .map(|m| {
                (
                    SortKey::new(m.created_at, &m.member.id),
                    membership_resource(chat, m, &stamper),
                )
            })
            .collect())
    }

    /// Deletes a chat with its messages: emits chat `removed`.
    pub(crate) fn delete_chat(&mut self, chat_id: &str) -> Result<(), StateError> {
        let last_state = to_json(&self.render_chat(chat_id, &self.stamper())?);
        self.chats.remove(chat_id);
        let resource = self.removed_resource(last_state);
        self.emit_chat(WebhookAction::Removed, chat_id, resource);
        Ok(())
    }
}
