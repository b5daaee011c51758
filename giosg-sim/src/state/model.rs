//! The records of the simulated Giosg: visitors and their access grants, agents, chats with
//! their messages and memberships, and the participants named in them.
//!
//! Plain data and small lookups; the operations that change them are the `impl SimState`
//! blocks of the sibling modules.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::ids;
use crate::resources::{Attachment, Avatar, MessageType, ParticipantType};

use super::error::StateError;

/// The visitor variable whose value is the name agents see.
pub(super) const USERNAME_VARIABLE: &str = "username";

#[derive(Debug, Clone)]
pub(super) struct Visitor {
    pub(super) id: String,
    pub(super) secret: String,
    pub(super) variables: BTreeMap<String, String>,
    /// Room id → `presence_expires_in`.
    pub(super) presence: BTreeMap<String, u64>,
}

impl Visitor {
    pub(super) fn name(&self) -> Option<String> {
        self.variables.get(USERNAME_VARIABLE).cloned()
    }

    pub(super) fn participant(&self) -> Participant {
        let name = self.name();
        Participant {
            id: self.id.clone(),
            kind: ParticipantType::Visitor,
            name: name.clone(),
            public_name: name,
            avatar: None,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Grant {
    pub(super) visitor_id: String,
    pub(super) expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(super) struct Agent {
    pub(super) id: String,
    pub(super) public_name: String,
    pub(super) internal_name: String,
    pub(super) avatar: Option<Avatar>,
    pub(super) listed_at: DateTime<Utc>,
}

impl Agent {
    pub(super) fn participant(&self) -> Participant {
        Participant {
            id: self.id.clone(),
            kind: ParticipantType::User,
            name: Some(self.internal_name.clone()),
            public_name: Some(self.public_name.clone()),
            avatar: self.avatar.clone(),
        }
    }
}

/// The automation rules of one room, as message senders (`sender_type: rule`). Rules are not
/// members of chats.
#[derive(Debug, Clone)]
pub(super) struct RoomRules {
    /// Posts the `autosuggest` greeting when a chat starts, and control API rule messages.
    pub(super) greeting: Participant,
    /// Posts `system` notices such as "Smith joined the chat".
    pub(super) notices: Participant,
}

impl RoomRules {
    pub(super) fn new() -> Self {
        let rule = |name: &str, public_name: &str| Participant {
            id: ids::uuid(),
            kind: ParticipantType::Rule,
            name: Some(name.to_owned()),
            public_name: Some(public_name.to_owned()),
            avatar: None,
        };
        Self {
            greeting: rule("Greeting rule", "Assistant"),
            notices: rule("Chat notices rule", "Giosg"),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Participant {
    pub(super) id: String,
    pub(super) kind: ParticipantType,
    pub(super) name: Option<String>,
    pub(super) public_name: Option<String>,
    pub(super) avatar: Option<Avatar>,
}

#[derive(Debug, Clone)]
pub(super) struct Message {
    pub(super) id: String,
    pub(super) kind: MessageType,
    pub(super) created_at: DateTime<Utc>,
    pub(super) sender: Participant,
    pub(super) text: Option<String>,
    pub(super) purged_at: Option<DateTime<Utc>>,
    pub(super) attachments: Vec<Attachment>,
}

#[derive(Debug, Clone)]
pub(super) struct Membership {
    pub(super) member: Participant,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) is_participating: bool,
    pub(super) is_present: bool,
    pub(super) message_count: u64,
}

#[derive(Debug, Clone)]
pub(super) struct Chat {
    pub(super) id: String,
    pub(super) room_id: String,
    pub(super) visitor_id: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) is_ended: bool,
    pub(super) ended_at: Option<DateTime<Utc>>,
    pub(super) is_waiting: bool,
    pub(super) waiting_started_at: Option<DateTime<Utc>>,
    pub(super) messages: Vec<Message>,
    pub(super) memberships: Vec<Membership>,
}

impl Chat {
    pub(super) fn message_index(&self, message_id: &str) -> Result<usize, StateError> {
        self.messages
            .iter()
            .position(|m| m.id == message_id)
            .ok_or(StateError::MessageNotFound)
    }

    pub(super) fn membership_mut(&mut self, member_id: &str) -> Option<&mut Membership> {
        self.memberships
            .iter_mut()
            .find(|m| m.member.id == member_id)
    }

    pub(super) fn is_participating(&self, member_id: &str) -> bool {
        self.memberships
            .iter()
            .any(|m| m.member.id == member_id && m.is_participating)
    }
}

pub(super) fn new_agent(name: &str, has_avatar: bool, listed_at: DateTime<Utc>) -> Agent {
    let id = ids::uuid();
    let avatar = has_avatar.then(|| {
        let avatar_id = ids::uuid();
        Avatar {
            url: format!("https://avatars.giosg-sim.invalid/{avatar_id}.png"),
            id: avatar_id,
        }
    });
    Agent {
        id,
        public_name: name.to_owned(),
        internal_name: format!("Agent {name} (internal)"),
        avatar,
        listed_at,
    }
}

pub(super) fn push_message(
    chat: &mut Chat,
    kind: MessageType,
    now: DateTime<Utc>,
    sender: Participant,
    text: Option<String>,
    attachments: Vec<Attachment>,
) -> String {
    let id = ids::uuid();
    chat.messages.push(Message {
        id: id.clone(),
        kind,
        created_at: now,
        sender,
        text,
        purged_at: None,
        attachments,
    });
    id
}

pub(super) fn with_ids(mut attachment: Attachment) -> Attachment {
    if attachment.id.is_empty() {
        attachment.id = ids::uuid();
    }
    for action in &mut attachment.actions {
        if action.id.is_empty() {
            action.id = ids::uuid();
        }
    }
    attachment
}
