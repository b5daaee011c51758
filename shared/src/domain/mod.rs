//! The domain: chats, messages and visitors as this service stores them, and the rules that fold
//! Giosg's snapshots and webhook events into them in any order.
//!
//! The ground floor: it imports nothing from the adapters (store, Giosg client, HTTP). Giosg's
//! ids, times and chat and message resources live here because they are what the rules fold;
//! the Giosg client parses its answers into them.

pub mod chat;
pub mod connection;
pub mod counters;
pub mod cursor;
pub mod feed;
pub mod field;
pub mod ids;
pub mod input;
pub mod merge;
pub mod message;
pub mod rate;
pub mod resource;
pub mod time;
pub mod tolerant;
pub mod visitor;
pub mod webhook;

pub use field::Field;
pub use ids::{ChatId, MessageId, OrgId, RoomId, UserId, VisitorId};
pub use resource::{
    Attachment, AttachmentAction, Avatar, ChatResource, ChatType, MessageResource, MessageType,
    SenderType,
};
pub use time::{GiosgTime, InvalidGiosgTime};

/// What a Giosg event does to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventAction {
    /// A full resource: a webhook `added`, or Giosg's answer to one of our own calls.
    Added,
    /// Only the fields that changed.
    Changed,
    /// The resource was deleted (a data-protection purge, not the end of a chat).
    Removed,
}

/// What the store must do after folding an event into a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision<R> {
    /// Write this record (it changed).
    Write(R),
    /// The event was already reflected (a redelivery): nothing to write.
    Unchanged,
    /// Not ours (another room's resource): nothing stored.
    Ignore,
    /// A pending record turned out to belong to another room: delete it.
    Delete,
}

impl<R: PartialEq> Decision<R> {
    /// The decision once `folded` is the record after the event: nothing to write when it is
    /// what was stored.
    fn after_fold(current: Option<&R>, folded: R) -> Self {
        if current == Some(&folded) {
            Self::Unchanged
        } else {
            Self::Write(folded)
        }
    }

    /// For an event whose resource names a room other than `room`: ignore it, or delete a
    /// pending record it turns out to be about. `None` when the event may be ours.
    fn for_other_room(
        named: Option<&Field<RoomId>>,
        room: &RoomId,
        current_is_pending: Option<bool>,
    ) -> Option<Self> {
        let named = named?.value()?;
        (!named.same_as(room)).then_some(if current_is_pending == Some(true) {
            Self::Delete
        } else {
            Self::Ignore
        })
    }
}
