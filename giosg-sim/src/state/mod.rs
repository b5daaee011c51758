//! The simulated Giosg: organization, rooms, visitors, agents, chats and messages, in memory.
//!
//! Every operation that changes a chat or a message queues the webhooks Giosg would send
//! (giosg-api.md §4, "What Giosg emits") in an outbox, which [`crate::app::App`] hands to the
//! webhook dispatcher while it still holds the state lock, so webhooks leave in the order the
//! changes happened.

mod emit;
mod error;
mod model;
mod render;
mod rooms;

pub(crate) use error::{StateError, TokenProblem};

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::{Behaviour, SimConfig};
use crate::control_types::{ChatDetail, ChatOverview, VisitorOverview};
use crate::emission::Emission;
use crate::ids;
use crate::pagination::SortKey;
use crate::resources::{
    Attachment, ChatResource, MembershipResource, MessageResource, MessageType,
    RoomVisitorResource, VariableResource, VisitorAuthResource, WebhookAction, to_json,
};
use crate::time::{Clock, Stamper};

use emit::changed_keys;
use model::{
    Agent, Chat, Grant, Membership, Message, Participant, USERNAME_VARIABLE, Visitor, new_agent,
    push_message, with_ids,
};
use render::membership_resource;

/// `presence_expires_in` when the visitor does not say.
const DEFAULT_PRESENCE_EXPIRES_IN: u64 = 60;
/// The agents online when the simulator starts: more than one default page.
const DEFAULT_AGENTS: [(&str, bool); 4] = [
    ("Smith", true),
    ("Jones", false),
    ("Brown", true),
    ("Taylor", true),
];
/// The agent who acts when the control API names none.
pub(crate) const DEFAULT_AGENT: &str = "Smith";

/// The whole simulated Giosg.
pub(crate) struct SimState {
    org_id: String,
    room_id: String,
    other_room_id: String,
    access_token_ttl_secs: u64,
    pub(crate) behaviour: Behaviour,
    other_room_online: bool,
    visitors: HashMap<String, Visitor>,
    visitor_by_secret: HashMap<String, String>,
    grants: HashMap<String, Grant>,
    agents: Vec<Agent>,
    chats: HashMap<String, Chat>,
    clock: Clock,
    mixed_counter: AtomicU64,
    outbox: Vec<Emission>,
    bot_user_id: String,
    socket_url: String,
}

/// What the visitor auth endpoint answers.
pub(crate) struct VisitorAuthOutcome {
    pub resource: VisitorAuthResource,
    pub created: bool,
}

impl SimState {
    pub(crate) fn new(config: &SimConfig, socket_url: String) -> Self {
        let mut clock = Clock::new();
        let agents = DEFAULT_AGENTS
            .iter()
            .map(|(name, has_avatar)| new_agent(name, *has_avatar, clock.now()))
            .collect();
        Self {
            org_id: config.org_id.clone(),
            room_id: config.room_id.clone(),
            other_room_id: config.other_room_id.clone(),
            access_token_ttl_secs: config.access_token_ttl_secs,
            behaviour: config.behaviour.clone(),
            other_room_online: true,
            visitors: HashMap::new(),
            visitor_by_secret: HashMap::new(),
            grants: HashMap::new(),
            agents,
            chats: HashMap::new(),
            clock,
            mixed_counter: AtomicU64::new(0),
            outbox: Vec::new(),
            bot_user_id: ids::uuid(),
            socket_url,
        }
    }

    /// The webhooks queued by the operations so far.
    pub(crate) fn take_outbox(&mut self) -> Vec<Emission> {
        std::mem::take(&mut self.outbox)
    }

    fn stamper(&self) -> Stamper<'_> {
        Stamper::new(self.behaviour.timestamp_format, &self.mixed_counter)
    }

    /// Visitor auth: a new visitor, or a returning one by secret; always a new access token.
    pub(crate) fn authenticate_visitor(
        &mut self,
        secret: Option<&str>,
    ) -> Result<VisitorAuthOutcome, StateError> {
        let known = secret.and_then(|s| self.visitor_by_secret.get(s).cloned());
        let (visitor_id, created) = match (secret, known) {
            (_, Some(visitor_id)) => (visitor_id, false),
            (None, None) => (self.create_visitor(), true),
            (Some(_), None) => match self.behaviour.unknown_visitor_secret {
                crate::config::UnknownSecret::Error => return Err(StateError::UnknownSecret),
                crate::config::UnknownSecret::NewVisitor => (self.create_visitor(), true),
            },
        };
        let visitor = self
            .visitors
            .get(&visitor_id)
            .ok_or(StateError::VisitorNotFound)?;
        let secret = visitor.secret.clone();
        let token = ids::access_token();
        let ttl = i64::try_from(self.access_token_ttl_secs).unwrap_or(i64::MAX);
        let expires_at = Utc::now()
            .checked_add_signed(TimeDelta::try_seconds(ttl).unwrap_or(TimeDelta::MAX))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.grants.insert(
            token.clone(),
            Grant {
                visitor_id: visitor_id.clone(),
                expires_at,
            },
        );
        let resource = VisitorAuthResource {
            visitor_id,
            visitor_secret_id: secret,
            organization_id: self.org_id.clone(),
            access_token: token,
            expires_at: self.stamper().stamp(expires_at),
            expires_in: self.access_token_ttl_secs,
            socket_url: self.socket_url.clone(),
        };
        Ok(VisitorAuthOutcome { resource, created })
    }

    fn create_visitor(&mut self) -> String {
        let visitor = Visitor {
            id: ids::visitor_id(),
            secret: ids::visitor_secret(),
            variables: BTreeMap::new(),
            presence: BTreeMap::new(),
        };
        let id = visitor.id.clone();
        self.visitor_by_secret
            .insert(visitor.secret.clone(), id.clone());
        self.visitors.insert(id.clone(), visitor);
        tracing::info!(visitor_id = %id, "new visitor");
        id
    }

    /// The visitor a bearer token belongs to.
    pub(crate) fn visitor_for_token(&self, token: &str) -> Result<String, TokenProblem> {
        let grant = self.grants.get(token).ok_or(TokenProblem::Unknown)?;
        if grant.expires_at <= Utc::now() {
            return Err(TokenProblem::Expired);
        }
        Ok(grant.visitor_id.clone())
    }

    /// Expires every access token of a visitor; answers how many there were.
    pub(crate) fn expire_visitor_tokens(&mut self, visitor_id: &str) -> Result<usize, StateError> {
        if !self.visitors.contains_key(visitor_id) {
            return Err(StateError::VisitorNotFound);
        }
        let past = Utc::now() - TimeDelta::seconds(1);
        let mut count = 0;
        for grant in self
            .grants
            .values_mut()
            .filter(|g| g.visitor_id == visitor_id)
        {
            grant.expires_at = past;
            count += 1;
        }
        Ok(count)
    }

    /// Puts a visitor in a room; answers whether the presence is new.
    pub(crate) fn join_room(
        &mut self,
        visitor_id: &str,
        room_id: &str,
        presence_expires_in: Option<u64>,
    ) -> Result<(RoomVisitorResource, bool), StateError> {
        self.require_room(room_id)?;
        let visitor = self
            .visitors
            .get_mut(visitor_id)
            .ok_or(StateError::VisitorNotFound)?;
        let expires_in = presence_expires_in.unwrap_or(DEFAULT_PRESENCE_EXPIRES_IN);
        let created = visitor
            .presence
            .insert(room_id.to_owned(), expires_in)
            .is_none();
        let resource = RoomVisitorResource {
            id: visitor_id.to_owned(),
            room_id: room_id.to_owned(),
            presence_expires_in: expires_in,
        };
        Ok((resource, created))
    }

    /// Refreshes the presence of a visitor already in the room.
    pub(crate) fn refresh_presence(
        &mut self,
        visitor_id: &str,
        room_id: &str,
        presence_expires_in: Option<u64>,
    ) -> Result<RoomVisitorResource, StateError> {
        self.require_room(room_id)?;
        let visitor = self
            .visitors
            .get_mut(visitor_id)
            .ok_or(StateError::VisitorNotFound)?;
        let current = visitor
            .presence
            .get_mut(room_id)
            .ok_or(StateError::NotInRoom)?;
        if let Some(expires_in) = presence_expires_in {
            *current = expires_in;
        }
        Ok(RoomVisitorResource {
            id: visitor_id.to_owned(),
            room_id: room_id.to_owned(),
            presence_expires_in: *current,
        })
    }

    /// Sets a visitor variable; `username` renames the visitor in the memberships of their chats.
    pub(crate) fn set_variable(
        &mut self,
        visitor_id: &str,
        room_id: &str,
        key: String,
        value: String,
    ) -> Result<VariableResource, StateError> {
        self.require_room(room_id)?;
        let visitor = self
            .visitors
            .get_mut(visitor_id)
            .ok_or(StateError::VisitorNotFound)?;
        visitor.variables.insert(key.clone(), value.clone());
        if key == USERNAME_VARIABLE {
            let now = self.clock.now();
            for chat in self
                .chats
                .values_mut()
                .filter(|c| c.visitor_id == visitor_id)
            {
                if let Some(membership) = chat.membership_mut(visitor_id) {
                    membership.member.name = Some(value.clone());
                    membership.member.public_name = Some(value.clone());
                    membership.updated_at = now;
                }
            }
        }
        Ok(VariableResource { key, value })
    }

    /// A visitor starts a chat: emits chat `added`.
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
        let now = self.clock.now();
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
        Ok(resource)
    }

    /// A chat of the visitor, or why not.
    fn visitor_chat_ref(&self, visitor_id: &str, chat_id: &str) -> Result<&Chat, StateError> {
        let chat = self.chats.get(chat_id).ok_or(StateError::ChatNotFound)?;
        if chat.visitor_id != visitor_id {
            return Err(StateError::ForeignChat);
        }
        Ok(chat)
    }

    /// A visitor sends a message: emits message `added` (when echoing) and chat `changed`.
    pub(crate) fn visitor_message(
        &mut self,
        visitor_id: &str,
        chat_id: &str,
        text: &str,
    ) -> Result<MessageResource, StateError> {
        let chat = self.visitor_chat_ref(visitor_id, chat_id)?;
        if chat.is_ended {
            return Err(StateError::ChatEnded);
        }
        let max = self.behaviour.max_message_chars;
        if text.chars().count() > max {
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
        let now = self.clock.now();
        let waiting_on_visitor = self.behaviour.waiting_on_visitor_message;
        let chat = self
            .chats
            .get_mut(chat_id)
            .ok_or(StateError::ChatNotFound)?;
        let message = Message {
            id: ids::uuid(),
            kind: MessageType::Msg,
            created_at: now,
            sender,
            text: Some(text.to_owned()),
            purged_at: None,
            attachments: Vec::new(),
        };
        let message_id = message.id.clone();
        chat.messages.push(message);
        if let Some(membership) = chat.membership_mut(visitor_id) {
            membership.message_count += 1;
            membership.updated_at = now;
        }
        if waiting_on_visitor && !chat.is_waiting {
            chat.is_waiting = true;
            chat.waiting_started_at = Some(now);
        }
        chat.updated_at = now;
        tracing::info!(%chat_id, %visitor_id, text, "visitor message");
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

    /// The messages of one chat of the visitor, in `(created_at, id)` order.
    pub(crate) fn visitor_messages(
        &self,
        visitor_id: &str,
        chat_id: &str,
    ) -> Result<Vec<(SortKey, MessageResource)>, StateError> {
        self.visitor_chat_ref(visitor_id, chat_id)?;
        self.messages(chat_id)
    }

    fn messages(&self, chat_id: &str) -> Result<Vec<(SortKey, MessageResource)>, StateError> {
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
        let now = self.clock.now();
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
        let agent = new_agent(name, true, self.clock.now());
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

    /// An agent joins: emits message `added` (`join`) and chat `changed` (member counts).
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
        let now = self.clock.now();
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
        let message_id = push_message(chat, MessageType::Join, now, agent, None, Vec::new());
        chat.updated_at = now;
        let resource = self.render_message(chat_id, &message_id, &self.stamper())?;
        self.emit_message(
            WebhookAction::Added,
            chat_id,
            &message_id,
            Some(to_json(&resource)),
        );
        self.emit_chat_changed(chat_id, &before)?;
        Ok(Some(resource))
    }

    /// An agent replies, joining first if needed: emits message `added` (`sender_type: user`) and
    /// chat `changed` (counters, `is_waiting: false`).
    pub(crate) fn agent_message(
        &mut self,
        chat_id: &str,
        agent_name: &str,
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
        let now = self.clock.now();
        let chat = self
            .chats
            .get_mut(chat_id)
            .ok_or(StateError::ChatNotFound)?;
        let agent_id = agent.id.clone();
        let attachments = attachments.into_iter().map(with_ids).collect();
        tracing::info!(%chat_id, agent = %agent_name.trim(), "agent message");
        let message_id = push_message(chat, MessageType::Msg, now, agent, text, attachments);
        if let Some(membership) = chat.membership_mut(&agent_id) {
            membership.message_count += 1;
            membership.updated_at = now;
        }
        chat.is_waiting = false;
        chat.waiting_started_at = None;
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
        let now = self.clock.now();
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
        let now = self.clock.now();
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
        let now = self.clock.now();
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
        let resource = self.removed_resource(last_state);
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

    /// Deletes a chat with its messages: emits chat `removed`.
    pub(crate) fn delete_chat(&mut self, chat_id: &str) -> Result<(), StateError> {
        let last_state = to_json(&self.render_chat(chat_id, &self.stamper())?);
        self.chats.remove(chat_id);
        let resource = self.removed_resource(last_state);
        self.emit_chat(WebhookAction::Removed, chat_id, resource);
        Ok(())
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
