//! A chat as stored, and as a frontend sees it.

use serde::{Deserialize, Serialize};

use super::counters::{Counters, GiosgCounters};
use super::merge::{Latch, Lww, Stamp, keep_earliest, keep_latest};
use super::visitor::VisitorKey;
use super::{ChatId, ChatResource, GiosgTime, RoomId};
use super::{Decision, EventAction};

/// Who started a chat through our API. Only our own start-chat call sets it; webhooks never do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatOwner {
    pub visitor: VisitorKey,
    pub visitor_name: String,
}

/// One event about a chat: a webhook delivery, or Giosg's answer to our start-chat call.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatEvent {
    pub action: EventAction,
    pub resource: Option<ChatResource>,
    pub owner: Option<ChatOwner>,
}

/// The stored state of a chat: everything any event told us, folded so that the order of events
/// does not matter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatRecord {
    pub id: ChatId,
    /// Known once a full resource named it; until then the record is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<RoomId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<GiosgTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<GiosgTime>,
    #[serde(default)]
    pub is_ended: Latch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<GiosgTime>,
    #[serde(default)]
    pub is_waiting: Lww<bool>,
    /// Deleted in Giosg: final, and hidden from everyone.
    #[serde(default)]
    pub removed: Latch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<ChatOwner>,
    /// Giosg's message counters as last reported.
    #[serde(default, skip_serializing_if = "GiosgCounters::is_empty")]
    pub giosg_counters: GiosgCounters,
    /// The counters the reconciler last found consistent with the stored messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters_checked: Option<Counters>,
}

impl ChatRecord {
    pub fn new(id: ChatId) -> Self {
        Self {
            id,
            room_id: None,
            created_at: None,
            updated_at: None,
            is_ended: Latch::default(),
            ended_at: None,
            is_waiting: Lww::default(),
            removed: Latch::default(),
            owner: None,
            giosg_counters: GiosgCounters::default(),
            counters_checked: None,
        }
    }

    /// A record that no full resource has placed in a room yet: kept for a bounded time only.
    pub fn is_pending(&self) -> bool {
        self.room_id.is_none()
    }

    pub fn status(&self) -> ChatStatus {
        if self.is_ended.is_set() {
            ChatStatus::Ended
        } else if self.is_waiting.get().copied().unwrap_or(false) {
            ChatStatus::Waiting
        } else {
            ChatStatus::Open
        }
    }

    /// Whether the reconciler should look at this chat, and since when it is quiet: a chat a
    /// visitor can see (started through the API, in the room, not removed) while it is open,
    /// and after it ended, from its end (the reconciler keeps looking for a while). The one
    /// rule both stores index by.
    pub fn activity(&self) -> Option<Activity> {
        if self.owner.is_none() || self.is_pending() || self.removed.is_set() {
            return None;
        }
        if self.is_ended.is_set() {
            let at = self.ended_at.or(self.updated_at).or(self.created_at);
            Some(Activity::Ended(at))
        } else {
            Some(Activity::Open)
        }
    }

    /// Whether Giosg's counters moved since the reconciler last found them consistent with the
    /// stored messages: then a message webhook may have been lost (see `domain::counters`).
    pub fn counters_moved(&self) -> bool {
        let latest = self.giosg_counters.latest();
        !latest.is_unknown() && self.counters_checked != Some(latest)
    }

    /// Whether the visitor behind `key` may see this chat. Anything else is `not_found`.
    pub fn is_visible_to(&self, key: &VisitorKey) -> bool {
        self.removed.is_unset()
            && !self.is_pending()
            && self
                .owner
                .as_ref()
                .is_some_and(|owner| &owner.visitor == key)
    }

    pub fn view(&self) -> Chat {
        Chat {
            id: self.id.clone(),
            status: self.status(),
            created_at: self.created_at,
            ended_at: self.ended_at,
            visitor_name: self.owner.as_ref().map(|owner| owner.visitor_name.clone()),
        }
    }
}

/// Folds `event` into the stored record (if any) for chat `id`, keeping only chats of `room`.
pub fn apply_chat_event(
    current: Option<&ChatRecord>,
    id: &ChatId,
    event: &ChatEvent,
    room: &RoomId,
) -> Decision<ChatRecord> {
    if let Some(decision) = Decision::for_other_room(
        event.resource.as_ref().map(|resource| &resource.room_id),
        room,
        current.map(ChatRecord::is_pending),
    ) {
        return decision;
    }
    let mut record = current
        .cloned()
        .unwrap_or_else(|| ChatRecord::new(id.clone()));
    if let Some(resource) = &event.resource {
        match event.action {
            EventAction::Added => {
                let stamp = Stamp::snapshot(
                    resource
                        .updated_at
                        .value()
                        .or(resource.created_at.value())
                        .copied(),
                );
                merge_chat_fields(&mut record, resource, stamp);
            }
            EventAction::Changed => {
                let stamp = Stamp::change(resource.updated_at.value().copied());
                merge_chat_fields(&mut record, resource, stamp);
            }
            // A removal's resource, when there is one, only tells us which room it was in.
            EventAction::Removed => {
                if record.room_id.is_none() {
                    record.room_id = resource.room_id.value().cloned();
                }
            }
        }
    }
    if event.action == EventAction::Removed {
        record.removed.set();
    }
    if let (None, Some(owner)) = (&record.owner, &event.owner) {
        record.owner = Some(owner.clone());
    }
    Decision::after_fold(current, record)
}

/// Records that the reconciler found `counters` (Giosg's, as it last knew them) consistent
/// with the stored messages. Only a stored chat is marked.
pub fn check_counters(current: Option<&ChatRecord>, counters: Counters) -> Decision<ChatRecord> {
    match current {
        None => Decision::Ignore,
        Some(record) if record.counters_checked == Some(counters) => Decision::Unchanged,
        Some(record) => Decision::Write(ChatRecord {
            counters_checked: Some(counters),
            ..record.clone()
        }),
    }
}

fn merge_chat_fields(record: &mut ChatRecord, resource: &ChatResource, stamp: Stamp) {
    if record.room_id.is_none() {
        record.room_id = resource.room_id.value().cloned();
    }
    keep_earliest(&mut record.created_at, resource.created_at.value().copied());
    keep_latest(&mut record.updated_at, resource.updated_at.value().copied());
    if resource.is_ended.value() == Some(&true) {
        record.is_ended.set();
    }
    keep_earliest(&mut record.ended_at, resource.ended_at.value().copied());
    if !resource.is_waiting.is_absent() {
        record
            .is_waiting
            .offer(resource.is_waiting.value().copied(), stamp);
    }
    record.giosg_counters.offer(resource, stamp);
}

/// A chat's state as the frontend API shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatStatus {
    Open,
    /// Giosg's `is_waiting`: the visitor waits for an agent's reply.
    Waiting,
    Ended,
}

/// Whether a chat is open, or since when it has ended; see [`ChatRecord::activity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    Open,
    /// Ended at this time (unknown when Giosg never said).
    Ended(Option<GiosgTime>),
}

impl Activity {
    /// Whether the reconciler looks at it when chats that ended before `ended_since` no longer
    /// count.
    pub fn is_active(&self, ended_since: GiosgTime) -> bool {
        match self {
            Self::Open => true,
            Self::Ended(at) => at.is_none_or(|at| at >= ended_since),
        }
    }
}

/// The `Chat` object of the frontend API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    pub id: ChatId,
    pub status: ChatStatus,
    pub created_at: Option<GiosgTime>,
    pub ended_at: Option<GiosgTime>,
    pub visitor_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_is_recognised_in_any_case_and_other_rooms_are_ignored() {
        let ours = RoomId::new("0b2f3c4d-0000-4000-8000-0000000000aa");
        let event = |room: &str| ChatEvent {
            action: EventAction::Added,
            resource: Some(ChatResource {
                room_id: crate::domain::Field::Value(RoomId::new(room)),
                ..ChatResource::default()
            }),
            owner: None,
        };
        let id = ChatId::new("c1");
        assert!(matches!(
            apply_chat_event(
                None,
                &id,
                &event("0B2F3C4D-0000-4000-8000-0000000000AA"),
                &ours
            ),
            Decision::Write(_)
        ));
        assert_eq!(
            apply_chat_event(
                None,
                &id,
                &event("0b2f3c4d-0000-4000-8000-0000000000bb"),
                &ours
            ),
            Decision::Ignore
        );
    }
}
