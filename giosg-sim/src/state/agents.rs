//! Agents, played through the control API: the roster (agents are created on first use by
//! name), joining a chat, replying, leaving.

use crate::resources::{Attachment, MessageResource, MessageType, WebhookAction, to_json};

use super::SimState;
use super::error::StateError;
use super::model::{Chat, Membership, Participant, new_agent, push_message, with_ids};

/// The agents online when the simulator starts: more than one default page.
pub(super) const DEFAULT_AGENTS: [(&str, bool); 4] = [
    ("Smith", true),
    ("Jones", false),
    ("Brown", true),
    ("Taylor", true),
];

/// The agent who acts when the control API names none.
pub(crate) const DEFAULT_AGENT: &str = "Smith";

impl SimState {
    fn agent(&mut self, name: &str) -> Result<Participant, StateError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StateError::Invalid {
                field: "agent_name",
                message: "This field may not be blank.".to_owned(),
            });
        }
        if let Some(agent) = self.agents.iter().find(|a| a.public_name == name) {
            return Ok(agent.participant());
        }
        let agent = new_agent(name, true, self.now());
        let participant = agent.participant();
        self.agents.push(agent);
        Ok(participant)
    }

    fn open_chat(&self, chat_id: &str) -> Result<&Chat, StateError> {
        let chat = self.chats.get(chat_id).ok_or(StateError::ChatNotFound)?;
        if chat.is_ended {
            return Err(StateError::ChatEnded);
        }
        Ok(chat)
    }

    /// An agent joins: emits message `added` (`join`), with extra message types a message
    /// `added` (`system` notice from the room's rule), and chat `changed` (member counts).
    /// Answers `None` when the agent already participates (nothing happens then).
    pub(crate) fn agent_join(
        &mut self,
        chat_id: &str,
        agent_name: &str,
    ) -> Result<Option<MessageResource>, StateError> {
        self.open_chat(chat_id)?;
        let agent = self.agent(agent_name)?;
        if self.open_chat(chat_id)?.is_participating(&agent.id) {
            return Ok(None);
        }
        let before = self.canonical_chat(chat_id)?;
        let now = self.now();
        let chat = self
            .chats
            .get_mut(chat_id)
            .ok_or(StateError::ChatNotFound)?;
        match chat.membership_mut(&agent.id) {
            Some(membership) => {
                membership.is_participating = true;
                membership.is_present = true;
                membership.updated_at = now;
            }
            None => chat.memberships.push(Membership {
                member: agent.clone(),
                created_at: now,
                updated_at: now,
                is_participating: true,
                is_present: true,
                message_count: 0,
            }),
        }
        tracing::info!(%chat_id, agent = %agent_name.trim(), "agent joined");
        let public_name = agent.public_name.clone().unwrap_or_default();
        let message_id = push_message(chat, MessageType::Join, now, agent, None, Vec::new());
        chat.updated_at = now;
        let resource = self.render_message(chat_id, &message_id, &self.stamper())?;
        self.emit_message(
            WebhookAction::Added,
            chat_id,
            &message_id,
            Some(to_json(&resource)),
        );
        self.announce_join(chat_id, &public_name)?;
        self.emit_chat_changed(chat_id, &before)?;
        Ok(Some(resource))
    }

    /// An agent posts a message of `kind`, joining first if needed: emits message `added`
    /// (`sender_type: user`) and chat `changed`. A `msg` is a reply: it counts and ends the
    /// chat's waiting (`is_waiting: false`).
    pub(crate) fn agent_message(
        &mut self,
        chat_id: &str,
        agent_name: &str,
        kind: MessageType,
        text: Option<String>,
        attachments: Vec<Attachment>,
    ) -> Result<MessageResource, StateError> {
        if text.as_deref().is_none_or(|t| t.trim().is_empty()) && attachments.is_empty() {
            return Err(StateError::Invalid {
                field: "text",
                message: "A message needs a text or an attachment.".to_owned(),
            });
        }
        self.open_chat(chat_id)?;
        self.agent_join(chat_id, agent_name)?;
        let agent = self.agent(agent_name)?;
        let before = self.canonical_chat(chat_id)?;
        let now = self.now();
        let chat = self
            .chats
            .get_mut(chat_id)
            .ok_or(StateError::ChatNotFound)?;
        let agent_id = agent.id.clone();
        let attachments = attachments.into_iter().map(with_ids).collect();
        tracing::info!(%chat_id, agent = %agent_name.trim(), ?kind, "agent message");
        let message_id = push_message(chat, kind, now, agent, text, attachments);
        if kind == MessageType::Msg {
            if let Some(membership) = chat.membership_mut(&agent_id) {
                membership.message_count += 1;
                membership.updated_at = now;
            }
            chat.is_waiting = false;
            chat.waiting_started_at = None;
        }
        chat.updated_at = now;
        let resource = self.render_message(chat_id, &message_id, &self.stamper())?;
        self.emit_message(
            WebhookAction::Added,
            chat_id,
            &message_id,
            Some(to_json(&resource)),
        );
        self.emit_chat_changed(chat_id, &before)?;
        Ok(resource)
    }

    /// An agent leaves: emits message `added` (`leave`) and chat `changed` (present counts).
    pub(crate) fn agent_leave(
        &mut self,
        chat_id: &str,
        agent_name: &str,
    ) -> Result<MessageResource, StateError> {
        self.open_chat(chat_id)?;
        let agent = self.agent(agent_name)?;
        if !self.open_chat(chat_id)?.is_participating(&agent.id) {
            return Err(StateError::AgentNotInChat(agent_name.trim().to_owned()));
        }
        let before = self.canonical_chat(chat_id)?;
        let now = self.now();
        let chat = self
            .chats
            .get_mut(chat_id)
            .ok_or(StateError::ChatNotFound)?;
        if let Some(membership) = chat.membership_mut(&agent.id) {
            membership.is_participating = false;
            membership.is_present = false;
            membership.updated_at = now;
        }
        tracing::info!(%chat_id, agent = %agent_name.trim(), "agent left");
        let message_id = push_message(chat, MessageType::Leave, now, agent, None, Vec::new());
        chat.updated_at = now;
        let resource = self.render_message(chat_id, &message_id, &self.stamper())?;
        self.emit_message(
            WebhookAction::Added,
            chat_id,
            &message_id,
            Some(to_json(&resource)),
        );
        self.emit_chat_changed(chat_id, &before)?;
        Ok(resource)
    }
}
