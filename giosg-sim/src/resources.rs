//! The JSON shapes the simulator sends, as typed structs (giosg-api.md §3 and §4).
//!
//! Timestamps are strings because their form is a setting ([`crate::TimestampFormat`]).
//! Plain data: the model renders them, the HTTP layer and the webhook emitter send them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `chat_type` of a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatType {
    /// A chat a visitor started (the only kind the simulator creates).
    Visitor,
    /// A task chat.
    Task,
    /// An external chat.
    External,
}

/// `type` of a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// A text message.
    Msg,
    /// A participant joined.
    Join,
    /// A participant left.
    Leave,
    /// A suggestion posted by a rule, usually a card with buttons
    /// ([`Behaviour::extra_message_types`](crate::Behaviour::extra_message_types)).
    Autosuggest,
    /// A button press answering an attachment action.
    Action,
    /// A notice about the chat, e.g. "Smith joined the chat".
    System,
}

/// `sender_type` of a message and `member_type` of a membership (memberships are only ever
/// `visitor` or `user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantType {
    /// The visitor.
    Visitor,
    /// An agent or a bot.
    User,
    /// A room's automation rule (greetings, autosuggestions, system notices); never a member.
    Rule,
}

/// An avatar, `{"id","url"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Avatar {
    /// Avatar id (UUID).
    pub id: String,
    /// Image URL.
    pub url: String,
}

/// A button or link of an attachment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttachmentAction {
    /// Action id; generated when empty.
    pub id: String,
    /// Label.
    pub text: Option<String>,
    /// `button` or `link_button`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Link target, e.g. `_blank`.
    pub link_target: Option<String>,
    /// Value sent back when pressed, or the link.
    pub value: Option<String>,
    /// Style hint, e.g. `brand_primary`.
    pub style: Option<String>,
}

/// A message attachment (cards with buttons).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attachment {
    /// Attachment id; generated when empty.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// Link of the title.
    pub title_link_url: Option<String>,
    /// Body text.
    pub text: Option<String>,
    /// Image URL.
    pub image_url: Option<String>,
    /// Link of the image.
    pub image_link_url: Option<String>,
    /// Link target.
    pub link_target: Option<String>,
    /// Buttons and links.
    pub actions: Vec<AttachmentAction>,
}

/// The chat resource (§3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatResource {
    /// Id (lower-case UUID; visitor ids are 32 hex).
    pub id: String,
    /// `visitor`, `task` or `external`.
    pub chat_type: ChatType,
    /// Creation time, ISO-8601 UTC (see [`crate::TimestampPrecision`]).
    pub created_at: String,
    /// Time of the last change.
    pub updated_at: String,
    /// Once true, the chat takes no new messages or members.
    pub is_ended: bool,
    /// When the chat ended.
    pub ended_at: Option<String>,
    /// Whether the chat waits for an agent's reply.
    pub is_waiting: bool,
    /// Since when it waits; null when not waiting.
    pub waiting_started_at: Option<String>,
    /// The room.
    pub room_id: String,
    /// The room's display name.
    pub room_name: String,
    /// The room's organization.
    pub room_organization_id: String,
    /// Private chat flag (always false here).
    pub is_private: bool,
    /// Whether both the visitor and an agent wrote text messages.
    pub is_real_conversation: bool,
    /// Autosuggest flag (always false here).
    pub is_autosuggested: bool,
    /// Encryption flag (always false here).
    pub is_encrypted: bool,
    /// Pending flag (always false here).
    pub is_pending: bool,
    /// Text messages (`type: msg`).
    pub message_count: u64,
    /// Text messages by agents.
    pub user_message_count: u64,
    /// Text messages by the visitor.
    pub visitor_message_count: u64,
    /// Memberships, including agents who left.
    pub member_count: u64,
    /// Agent memberships.
    pub user_member_count: u64,
    /// Visitor memberships.
    pub visitor_member_count: u64,
    /// Members participating and present.
    pub present_participant_count: u64,
    /// Agents participating and present.
    pub present_user_participant_count: u64,
    /// Visitors participating and present.
    pub present_visitor_participant_count: u64,
    /// Tags (always 0 here).
    pub tag_count: u64,
    /// Whether there is any text message.
    pub has_messages: bool,
    /// Whether an agent wrote.
    pub has_user_messages: bool,
    /// Whether the visitor wrote.
    pub has_visitor_messages: bool,
}

/// The chat message resource (§3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageResource {
    /// Id (lower-case UUID; visitor ids are 32 hex).
    pub id: String,
    /// `msg`, `join`, `leave`, `autosuggest`, `action` or `system`.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The chat.
    pub chat_id: String,
    /// The room; absent (no key at all) when
    /// [`Behaviour::message_room_id`](crate::Behaviour::message_room_id) is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    /// Creation time, ISO-8601 UTC (see [`crate::TimestampPrecision`]).
    pub created_at: String,
    /// `visitor`, `user` (agent or bot) or `rule`.
    pub sender_type: ParticipantType,
    /// Visitor id, user id or rule id.
    pub sender_id: String,
    /// The name agents see (an agent's internal name; the visitor's `username` variable).
    pub sender_name: Option<String>,
    /// The name the visitor should see.
    pub sender_public_name: Option<String>,
    /// Avatar of the sender, or null.
    pub sender_avatar: Option<Avatar>,
    /// Text; null for join and leave messages and after a purge.
    pub message: Option<String>,
    /// Encryption flag (always false here).
    pub is_encrypted: bool,
    /// When the message was purged, or null.
    pub sensitive_data_purged_at: Option<String>,
    /// Cards with buttons.
    pub attachments: Vec<Attachment>,
    /// Message a button press answers (always null here).
    pub response_to_message_id: Option<String>,
    /// Attachment a button press answers (always null here).
    pub response_to_attachment_id: Option<String>,
    /// Action a button press answers (always null here).
    pub response_to_action_id: Option<String>,
    /// Value of the pressed button (always null here).
    pub response_value: Option<String>,
}

/// The chat membership resource (§3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipResource {
    /// Visitor id or user id.
    pub member_id: String,
    /// `visitor` or `user`.
    pub member_type: ParticipantType,
    /// Name agents see.
    pub member_name: Option<String>,
    /// Name the visitor sees.
    pub member_public_name: Option<String>,
    /// Avatar, or null.
    pub member_avatar: Option<Avatar>,
    /// The room.
    pub room_id: String,
    /// The chat.
    pub chat_id: String,
    /// Creation time, ISO-8601 UTC (see [`crate::TimestampPrecision`]).
    pub created_at: String,
    /// Time of the last change.
    pub updated_at: String,
    /// Whether the member takes part (false after leaving).
    pub is_participating: bool,
    /// Whether the member is present.
    pub is_present: bool,
    /// Typing status (always `idle` here).
    pub composing_status: String,
    /// Text messages (`type: msg`).
    pub message_count: u64,
}

/// One page of a cursor-paginated collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// Absolute URL of the next page, or null on the last one.
    pub next: Option<String>,
    /// Absolute URL of the previous page, or null on the first one.
    pub previous: Option<String>,
    /// The items of this page.
    pub results: Vec<T>,
}

/// The answer of the visitor auth endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorAuthResource {
    /// The visitor (32 hex).
    pub visitor_id: String,
    /// The secret to authenticate as the same visitor later.
    pub visitor_secret_id: String,
    /// The organization.
    pub organization_id: String,
    /// Bearer token.
    pub access_token: String,
    /// When the token expires.
    pub expires_at: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// Websocket URL (not served by the simulator).
    pub socket_url: String,
}

/// A visitor's presence in a room (join room and refresh presence answers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomVisitorResource {
    /// Id (lower-case UUID; visitor ids are 32 hex).
    pub id: String,
    /// The room.
    pub room_id: String,
    /// Seconds the presence lasts.
    pub presence_expires_in: u64,
}

/// A visitor variable (set variable answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableResource {
    /// Variable name; `username` is the name agents see.
    pub key: String,
    /// Variable value.
    pub value: String,
}

/// The public room resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomResource {
    /// Id (lower-case UUID; visitor ids are 32 hex).
    pub id: String,
    /// Room name shown to visitors.
    pub display_name: String,
    /// Room language.
    pub language_code: String,
    /// Whether an agent the visitor can chat with is online.
    pub is_online: bool,
    /// Unknown shape in Giosg; always null here.
    pub brand: Option<serde_json::Value>,
}

/// An agent who is online in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineUserResource {
    /// Id (lower-case UUID; visitor ids are 32 hex).
    pub id: String,
    /// Agent's public name.
    pub public_name: String,
    /// Avatar, or null.
    pub avatar: Option<Avatar>,
}

/// `action` of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAction {
    /// A new resource; `resource` is complete.
    Added,
    /// A change; `resource` carries only the changed fields.
    Changed,
    /// A deletion; `resource` per [`crate::RemovedResource`].
    Removed,
}

/// The `app_user_auth` of apps with a bot user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppUserAuth {
    /// Bearer token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// The bot user.
    pub user_id: String,
    /// The organization.
    pub organization_id: String,
}

/// The JSON body of a webhook POST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEnvelope {
    /// Concrete channel, e.g. `/api/v5/orgs/<org>/owned_chats/<chat>/messages`.
    pub channel: String,
    /// What happened.
    pub action: WebhookAction,
    /// Id of the chat or message.
    pub resource_id: String,
    /// The resource (full, partial, or per the removed setting); absent when so configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<serde_json::Value>,
    /// Bot user credentials, only for apps with a bot user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_user_auth: Option<AppUserAuth>,
}

/// A resource as JSON. Our resources always serialize (string keys only), so the fallback is
/// unreachable; it exists so a bug shows as a wrong webhook, not a crashed server.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|error| {
        tracing::error!(%error, "resource did not serialize");
        Value::Object(Map::new())
    })
}
