//! A chat message as stored, and as a frontend sees it.

use serde::{Deserialize, Serialize};

use super::chat::ChatRecord;
use super::merge::{Latch, Lww, Stamp, keep_earliest};
use super::{
    Attachment, ChatId, Field, GiosgTime, MessageId, MessageResource, MessageType, RoomId,
    SenderType,
};
use super::{Decision, EventAction};

/// One event about a message: a webhook delivery, or Giosg's answer to our send call.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageEvent {
    pub action: EventAction,
    pub resource: Option<MessageResource>,
    /// The visitor's own idempotency key, known only to our send call.
    pub client_message_id: Option<String>,
}

/// The stored state of a message, folded from every event about it in any order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub id: MessageId,
    pub chat_id: ChatId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<RoomId>,
    /// Giosg's creation time: the history order. A message without one (only a `changed` has
    /// been seen so far) is pending and not in history yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<GiosgTime>,
    #[serde(default)]
    pub message_type: Lww<MessageType>,
    #[serde(default)]
    pub sender_type: Lww<SenderType>,
    #[serde(default)]
    pub sender_public_name: Lww<String>,
    #[serde(default)]
    pub sender_avatar_url: Lww<String>,
    #[serde(default)]
    pub text: Lww<String>,
    #[serde(default)]
    pub attachments: Lww<Vec<Attachment>>,
    /// Set by a purge: the text is gone for good.
    #[serde(default, skip_serializing_if = "Latch::is_unset")]
    pub purged_at: Latch<Option<GiosgTime>>,
    /// Deleted in Giosg: shown as `deleted` without content, never brought back.
    #[serde(default)]
    pub removed: Latch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<String>,
    /// Giosg described the message in full (an `added`, or its answer to our send): it may be
    /// shown once its chat places it in the room.
    #[serde(default, skip_serializing_if = "Latch::is_unset")]
    pub snapshot_seen: Latch,
    /// Attachments were dropped from the end so that the record fits one storage item.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attachments_truncated: bool,
    /// Where the message's latest visible change is in the chat's sync feed (set by the store;
    /// see `domain::feed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_seq: Option<u64>,
}

/// The most a message's content may take, serialized: a DynamoDB item holds 400 KB, keys,
/// index attributes and bookkeeping included, so the record keeps a wide margin.
pub const MAX_CONTENT_BYTES: usize = 300 * 1024;

impl MessageRecord {
    pub fn new(chat_id: ChatId, id: MessageId) -> Self {
        Self {
            id,
            chat_id,
            room_id: None,
            created_at: None,
            message_type: Lww::default(),
            sender_type: Lww::default(),
            sender_public_name: Lww::default(),
            sender_avatar_url: Lww::default(),
            text: Lww::default(),
            attachments: Lww::default(),
            purged_at: Latch::default(),
            removed: Latch::default(),
            client_message_id: None,
            snapshot_seen: Latch::default(),
            attachments_truncated: false,
            feed_seq: None,
        }
    }

    /// Not yet placed in a room by a full resource: kept for a bounded time only.
    pub fn is_pending(&self) -> bool {
        self.room_id.is_none()
    }

    /// The history sort key: Giosg `created_at`, ties by id. `None` while pending: a message
    /// not placed in the room is in no history or feed, in any chat.
    pub fn order_key(&self) -> Option<OrderKey> {
        if self.is_pending() {
            return None;
        }
        self.created_at
            .map(|created_at| OrderKey::new(created_at, &self.id))
    }

    pub fn view(&self) -> Message {
        let sender_type = match self.sender_type.get() {
            Some(SenderType::Visitor) => SenderKind::Visitor,
            Some(SenderType::User) => SenderKind::Agent,
            _ => SenderKind::System,
        };
        let content_hidden = self.removed.is_set() || self.purged_at.is_set();
        Message {
            id: self.id.clone(),
            chat_id: self.chat_id.clone(),
            message_type: self.message_type.get().cloned().unwrap_or(MessageType::Msg),
            sender: Sender {
                sender_type,
                name: self.sender_public_name.get().cloned(),
                avatar_url: self.sender_avatar_url.get().cloned(),
            },
            text: if content_hidden {
                None
            } else {
                self.text.get().cloned()
            },
            attachments: if content_hidden {
                Vec::new()
            } else {
                self.attachments.get().cloned().unwrap_or_default()
            },
            created_at: self.created_at,
            client_message_id: self.client_message_id.clone(),
            deleted: self.removed.is_set(),
            attachments_truncated: self.attachments_truncated && !content_hidden,
        }
    }
}

/// Folds `event` into the stored record (if any) for message `id` of chat `chat_id`, keeping
/// only messages of `room`.
pub fn apply_message_event(
    current: Option<&MessageRecord>,
    chat_id: &ChatId,
    id: &MessageId,
    event: &MessageEvent,
    room: &RoomId,
) -> Decision<MessageRecord> {
    if let Some(decision) = Decision::for_other_room(
        event.resource.as_ref().map(|resource| &resource.room_id),
        room,
        current.map(MessageRecord::is_pending),
    ) {
        return decision;
    }
    let mut record = current
        .cloned()
        .unwrap_or_else(|| MessageRecord::new(chat_id.clone(), id.clone()));
    if let Some(resource) = &event.resource {
        if record.room_id.is_none() {
            record.room_id = resource.room_id.value().cloned();
        }
        match event.action {
            EventAction::Added => {
                let at = resource.updated_at.value().or(resource.created_at.value());
                merge_message_fields(&mut record, resource, Stamp::snapshot(at.copied()));
                record.snapshot_seen.set();
            }
            EventAction::Changed => {
                let at = resource.updated_at.value().copied();
                merge_message_fields(&mut record, resource, Stamp::change(at));
            }
            EventAction::Removed => {}
        }
    }
    if event.action == EventAction::Removed {
        record.removed.set();
    }
    if record.client_message_id.is_none() {
        record.client_message_id = event.client_message_id.clone();
    }
    // Removal and purge are final: the content is erased and stays erased whatever arrives later.
    if record.removed.is_set() || record.purged_at.is_set() {
        record.text.erase();
        record.attachments.erase();
    }
    fit_in_one_item(&mut record, current);
    Decision::after_fold(current, record)
}

/// Whether writing `event` may place its message by its chat (see [`place_by_chat`]): only a
/// full resource (`added`) that does not name its room. A `changed` never places; a message
/// that waits for its chat is placed when the chat arrives.
pub fn may_place_by_chat(event: &MessageEvent) -> bool {
    event.action == EventAction::Added
        && event
            .resource
            .as_ref()
            .is_some_and(|resource| resource.room_id.is_absent())
}

/// A message belongs to the room when its chat does: one Giosg described in full whose chat is
/// stored in `room` is placed there, whether or not its own resource named the room (Giosg's
/// message webhooks may leave `room_id` out). Returns the placed record when that changes it.
/// The stores apply it when a message is written and, for the messages waiting for it, when
/// their chat arrives, so the order of the two does not matter.
pub fn place_by_chat(
    record: &MessageRecord,
    chat: Option<&ChatRecord>,
    room: &RoomId,
) -> Option<MessageRecord> {
    let chat_is_ours = chat
        .and_then(|chat| chat.room_id.as_ref())
        .is_some_and(|chat_room| chat_room.same_as(room));
    (record.is_pending() && record.snapshot_seen.is_set() && chat_is_ours).then(|| {
        let mut placed = record.clone();
        placed.room_id = Some(room.clone());
        placed
    })
}

/// Drops attachments from the end until the message's content fits [`MAX_CONTENT_BYTES`] (a
/// bot card with hundreds of buttons is a normal message, and must not make the store refuse
/// it), and says so. The same rule for every store, so they keep the same record.
fn fit_in_one_item(record: &mut MessageRecord, current: Option<&MessageRecord>) {
    // The content that was stored already fits (a redelivery, a change of other fields).
    if current.is_some_and(|current| {
        current.attachments == record.attachments && current.text == record.text
    }) {
        return;
    }
    let Some(attachments) = record.attachments.value.as_mut() else {
        record.attachments_truncated = false;
        return;
    };
    // The serialized size of each prefix of the list, in one pass: `[a,b,...]` after the text.
    let mut size = record.text.get().map_or(0, String::len) + 2;
    let mut fitting = 0;
    for (index, attachment) in attachments.iter().enumerate() {
        let add =
            serde_json::to_vec(attachment).map_or(0, |json| json.len()) + usize::from(index > 0);
        if size + add > MAX_CONTENT_BYTES {
            break;
        }
        size += add;
        fitting = index + 1;
    }
    if fitting < attachments.len() {
        attachments.truncate(fitting);
        record.attachments_truncated = true;
    } else if current
        .is_none_or(|current| current.attachments.value.as_ref() != Some(&*attachments))
    {
        // A new list that fits whole (an unchanged one, with a longer text, keeps its flag).
        record.attachments_truncated = false;
    }
}

fn merge_message_fields(record: &mut MessageRecord, resource: &MessageResource, stamp: Stamp) {
    keep_earliest(&mut record.created_at, resource.created_at.value().copied());
    offer(&mut record.message_type, &resource.message_type, stamp);
    offer(&mut record.sender_type, &resource.sender_type, stamp);
    offer(
        &mut record.sender_public_name,
        &resource.sender_public_name,
        stamp,
    );
    if !resource.sender_avatar.is_absent() {
        let url = resource
            .sender_avatar
            .value()
            .and_then(|avatar| avatar.url.clone());
        record.sender_avatar_url.offer(url, stamp);
    }
    offer(&mut record.text, &resource.message, stamp);
    offer(&mut record.attachments, &resource.attachments, stamp);
    // A null `sensitive_data_purged_at` means "not purged" and never undoes a purge.
    if let Field::Value(at) = &resource.sensitive_data_purged_at {
        record.purged_at.set_at(*at);
    }
}

fn offer<T: Serialize + Clone>(register: &mut Lww<T>, field: &Field<T>, stamp: Stamp) {
    match field {
        Field::Absent => {}
        Field::Null => register.offer(None, stamp),
        Field::Value(value) => register.offer(Some(value.clone()), stamp),
    }
}

/// The position of a message in its chat's history: `created_at` (fixed width), then id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderKey(String);

impl OrderKey {
    pub fn new(created_at: GiosgTime, id: &MessageId) -> Self {
        Self(format!("{}#{}", created_at.sortable(), id.as_str()))
    }

    /// Restores a key read back from storage or from a cursor.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who sent a message, as the frontend API shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderKind {
    Visitor,
    Agent,
    System,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sender {
    #[serde(rename = "type")]
    pub sender_type: SenderKind,
    /// The public name (`sender_public_name`), never the agent's internal name.
    pub name: Option<String>,
    pub avatar_url: Option<String>,
}

/// The `Message` object of the frontend API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    #[serde(rename = "type")]
    pub message_type: MessageType,
    pub sender: Sender,
    pub text: Option<String>,
    pub attachments: Vec<Attachment>,
    pub created_at: Option<GiosgTime>,
    pub client_message_id: Option<String>,
    pub deleted: bool,
    /// Only when true: some attachments were dropped to store the message.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attachments_truncated: bool,
}
