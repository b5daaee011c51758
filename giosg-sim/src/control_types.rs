//! Request and answer shapes of the control API under `/_sim/`, shared by the server, the model
//! (which builds the overviews) and [`SimControl`](crate::SimControl).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::resources::{
    Attachment, ChatResource, MembershipResource, MessageResource, MessageType, ParticipantType,
};

/// `GET /_sim/config`: what a test or a person needs to talk to the simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimInfo {
    /// `http://HOST:PORT`: the Giosg base URL to configure in the client.
    pub base_url: String,
    /// The organization id.
    pub org_id: String,
    /// The configured room.
    pub room_id: String,
    /// The other room of the organization (website widget traffic).
    pub other_room_id: String,
    /// The organization API token the simulator expects (a simulator secret, not a real one).
    pub api_token: String,
    /// The chats webhook URL, query values redacted.
    pub chat_webhook_url: Option<String>,
    /// The messages webhook URL, query values redacted.
    pub message_webhook_url: Option<String>,
    /// Items per page.
    pub page_size: usize,
    /// Visitor access token lifetime, in seconds.
    pub access_token_ttl_secs: u64,
}

/// One chat of `GET /_sim/chats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatOverview {
    /// The chat resource.
    pub chat: ChatResource,
    /// The visitor who started it.
    pub visitor_id: String,
    /// The visitor's `username` variable.
    pub visitor_name: Option<String>,
    /// Whether the chat is in the configured room (not the other room).
    pub in_configured_room: bool,
    /// All messages, join and leave included (`chat.message_count` counts text messages only).
    pub messages_total: usize,
}

/// `GET /_sim/chats/{chat}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatDetail {
    /// The chat resource.
    pub chat: ChatResource,
    /// The visitor who started it.
    pub visitor_id: String,
    /// The visitor's `username` variable.
    pub visitor_name: Option<String>,
    /// Whether the chat is in the configured room.
    pub in_configured_room: bool,
    /// Messages in `(created_at, id)` order.
    pub messages: Vec<MessageResource>,
    /// Memberships in join order.
    pub memberships: Vec<MembershipResource>,
}

/// One visitor of `GET /_sim/visitors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorOverview {
    /// Visitor id (32 hex).
    pub visitor_id: String,
    /// The `username` variable.
    pub name: Option<String>,
    /// Every variable set.
    pub variables: BTreeMap<String, String>,
    /// Rooms the visitor joined.
    pub rooms: Vec<String>,
    /// The visitor's chats, oldest first.
    pub chat_ids: Vec<String>,
    /// Access tokens not yet expired.
    pub valid_tokens: usize,
}

/// Body of `POST /_sim/chats/{chat}/join` and `/leave` (optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentRequest {
    /// The agent's public name (default `Smith`); a new name creates a new agent.
    pub agent_name: Option<String>,
}

/// Answer of `POST /_sim/chats/{chat}/join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinOutcome {
    /// False when the agent already participated (nothing happened).
    pub joined: bool,
    /// The join message, when one was made.
    pub message: Option<MessageResource>,
}

/// Body of `POST /_sim/chats/{chat}/messages`: by default an agent reply (the agent joins first
/// if needed); with `type` and `sender_type`, any message from any sender, e.g. an `action`
/// (button press) from the `visitor` or an `autosuggest` from the room's `rule`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentMessageRequest {
    /// The text.
    pub text: Option<String>,
    /// The agent's public name (default `Smith`); only for `sender_type: user`.
    pub agent_name: Option<String>,
    /// Cards with buttons; ids are generated when empty.
    pub attachments: Vec<Attachment>,
    /// The message `type` (default `msg`): `msg`, `autosuggest`, `action` or `system` (`join`
    /// and `leave` come from `/join` and `/leave`). Only a `msg` counts in the chat's counters.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageType>,
    /// Who sends it (default `user`: the agent `agent_name`, joining first if needed;
    /// `visitor`: the chat's visitor; `rule`: the room's greeting rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_type: Option<ParticipantType>,
}

/// Body of `POST /_sim/chats/{chat}/visitor_messages`: a visitor message sent without the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VisitorMessageRequest {
    /// The text.
    pub text: String,
}

/// Body of `PATCH /_sim/chats/{chat}/messages/{msg}`: either a new text or a purge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EditMessageRequest {
    /// The new text.
    pub text: Option<String>,
    /// Purge the message's sensitive data instead.
    pub purge: bool,
}

/// Body of `PUT /_sim/room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomOnlineRequest {
    /// Whether agents are online.
    pub online: bool,
    /// Which room (default the configured one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
}

/// Body of `POST /_sim/other_room/chats` (optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WidgetChatRequest {
    /// The widget visitor's `username`.
    pub visitor_name: Option<String>,
    /// A first visitor message.
    pub message: Option<String>,
}

/// Answer of `POST /_sim/other_room/chats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetChat {
    /// The new widget visitor.
    pub visitor_id: String,
    /// The chat, after the first message if any.
    pub chat: ChatResource,
}

/// Answer of `POST /_sim/visitors/{vid}/expire_token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiredTokens {
    /// The visitor.
    pub visitor_id: String,
    /// How many access tokens were expired.
    pub expired: usize,
}

/// Body of `POST /_sim/webhooks/flush` (optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlushRequest {
    /// Give up after this long (default 10000 ms); the answer is then 504.
    pub timeout_ms: Option<u64>,
}

/// Body of `PUT /_sim/webhooks/urls`: the webhook URLs from now on (null stops posting).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookUrls {
    /// The chats webhook.
    pub chat_webhook_url: Option<String>,
    /// The messages webhook.
    pub message_webhook_url: Option<String>,
}
