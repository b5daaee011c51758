//! Giosg's message counters of a chat, and how the reconciler uses them to spend its Giosg
//! calls where a lost webhook is likely (spec §7).
//!
//! A chat resource carries `message_count`, `user_message_count` and `visitor_message_count`;
//! a `changed` webhook carries the ones that moved. The chat record keeps each as a
//! last-writer-wins register ([`GiosgCounters`]), and the counters it last found consistent with
//! the stored messages ([`Counters`] in `ChatRecord::counters_checked`). When the two differ,
//! Giosg's messages moved since the last check: the reconciler counts the stored messages, and
//! a chat whose counts still disagree is repaired before the sweep goes on. The counters are a
//! hint, never the truth: what they do not count (an edit, a purge) the sweep repairs, and what
//! Giosg counts differently from us only costs a full read.

use serde::{Deserialize, Serialize};

use super::ChatResource;
use super::merge::{Lww, Stamp};
use super::message::{Message, SenderKind};
use super::resource::MessageType;

/// Message counts as one side sees them; `None` where that side does not say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Counters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_messages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_messages: Option<u64>,
}

impl Counters {
    /// What stored history counts the way Giosg's counters do (giosg-api.md §3.1, as the
    /// simulator reads it): text messages (`msg`) not removed, by who sent them.
    pub fn of_history<'a>(messages: impl IntoIterator<Item = &'a Message>) -> Self {
        let (mut all, mut user, mut visitor) = (0, 0, 0);
        for message in messages {
            if message.deleted || message.message_type != MessageType::Msg {
                continue;
            }
            all += 1;
            match message.sender.sender_type {
                SenderKind::Agent => user += 1,
                SenderKind::Visitor => visitor += 1,
                SenderKind::System => {}
            }
        }
        Self {
            messages: Some(all),
            user_messages: Some(user),
            visitor_messages: Some(visitor),
        }
    }

    /// Whether any counter both sides know differs.
    pub fn disagrees_with(&self, other: &Counters) -> bool {
        let differs =
            |a: Option<u64>, b: Option<u64>| matches!((a, b), (Some(a), Some(b)) if a != b);
        differs(self.messages, other.messages)
            || differs(self.user_messages, other.user_messages)
            || differs(self.visitor_messages, other.visitor_messages)
    }

    /// Whether no counter is known.
    pub fn is_unknown(&self) -> bool {
        *self == Self::default()
    }
}

/// Giosg's counters as last reported, each a register ordered like every other chat field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GiosgCounters {
    #[serde(default, skip_serializing_if = "is_empty")]
    pub messages: Lww<u64>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub user_messages: Lww<u64>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub visitor_messages: Lww<u64>,
}

fn is_empty(register: &Lww<u64>) -> bool {
    register.stamp.is_none()
}

impl GiosgCounters {
    /// Offers the counters a resource carries (a `changed` carries only those that moved).
    pub fn offer(&mut self, resource: &ChatResource, stamp: Stamp) {
        let registers = [
            (&mut self.messages, &resource.message_count),
            (&mut self.user_messages, &resource.user_message_count),
            (&mut self.visitor_messages, &resource.visitor_message_count),
        ];
        for (register, field) in registers {
            if !field.is_absent() {
                register.offer(field.value().copied(), stamp);
            }
        }
    }

    pub fn latest(&self) -> Counters {
        Counters {
            messages: self.messages.get().copied(),
            user_messages: self.user_messages.get().copied(),
            visitor_messages: self.visitor_messages.get().copied(),
        }
    }

    pub fn is_empty(&self) -> bool {
        is_empty(&self.messages)
            && is_empty(&self.user_messages)
            && is_empty(&self.visitor_messages)
    }
}

/// Counters as a resource reports them (Giosg's answer to a chat read).
pub fn reported(resource: &ChatResource) -> Counters {
    Counters {
        messages: resource.message_count.value().copied(),
        user_messages: resource.user_message_count.value().copied(),
        visitor_messages: resource.visitor_message_count.value().copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Field, GiosgTime};

    fn at(seconds: i64) -> Option<GiosgTime> {
        Some(GiosgTime::from(
            chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap(),
        ))
    }

    fn counts(messages: u64, visitor: Option<u64>) -> ChatResource {
        ChatResource {
            message_count: Field::Value(messages),
            visitor_message_count: visitor.map_or(Field::Absent, Field::Value),
            ..ChatResource::default()
        }
    }

    #[test]
    fn a_changed_moves_only_the_counters_it_carries_and_older_news_loses() {
        let mut counters = GiosgCounters::default();
        counters.offer(&counts(1, Some(1)), Stamp::snapshot(at(0)));
        counters.offer(&counts(3, None), Stamp::change(at(20)));
        // Delivered late: older than what is kept.
        counters.offer(&counts(2, Some(2)), Stamp::change(at(10)));
        assert_eq!(
            counters.latest(),
            Counters {
                messages: Some(3),
                user_messages: None,
                visitor_messages: Some(2),
            }
        );
    }

    #[test]
    fn only_counters_both_sides_know_are_compared() {
        let giosg = Counters {
            messages: Some(3),
            user_messages: None,
            visitor_messages: Some(1),
        };
        let mut stored = Counters {
            messages: Some(3),
            user_messages: Some(2),
            visitor_messages: Some(1),
        };
        assert!(!giosg.disagrees_with(&stored));
        stored.visitor_messages = Some(0);
        assert!(giosg.disagrees_with(&stored));
        assert!(!Counters::default().disagrees_with(&stored));
        assert!(Counters::default().is_unknown());
    }
}
