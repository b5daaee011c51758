//! The rules that make webhook deliveries commute.
//!
//! Giosg delivers at least once, in any order, and a `changed` carries only the fields that
//! changed. Every mutable field of a stored chat or message is therefore a last-writer-wins
//! register whose writes carry a [`Stamp`]; the register keeps the write with the greatest stamp,
//! whatever order the writes arrive in. Flags that only ever go one way (`is_ended`, removal,
//! purge) are [`Latch`]es: monotone, so they need no stamp.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::GiosgTime;

/// What kind of write a value came from. A `changed` outranks a full snapshot (`added`, or
/// Giosg's answer to our own call) when timestamps cannot tell them apart: a snapshot is the
/// state at creation, a change is news about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rank {
    Snapshot,
    Change,
}

/// The version of one write: Giosg's `updated_at` when the event carries one, and its rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<GiosgTime>,
    pub rank: Rank,
}

/// How an incoming write compares with the stored one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Newer,
    Older,
    /// Same timestamp and rank: broken by value so that every order picks the same winner.
    Tie,
}

impl Stamp {
    pub fn snapshot(at: Option<GiosgTime>) -> Self {
        Self {
            at,
            rank: Rank::Snapshot,
        }
    }

    pub fn change(at: Option<GiosgTime>) -> Self {
        Self {
            at,
            rank: Rank::Change,
        }
    }

    fn versus(&self, stored: &Stamp) -> Verdict {
        match (self.at, stored.at) {
            (Some(new), Some(old)) if new != old => {
                if new > old {
                    Verdict::Newer
                } else {
                    Verdict::Older
                }
            }
            (Some(_), Some(_)) => match self.rank.cmp(&stored.rank) {
                Ordering::Greater => Verdict::Newer,
                Ordering::Less => Verdict::Older,
                Ordering::Equal => Verdict::Tie,
            },
            // Without two timestamps to compare, a change beats a snapshot, and between two
            // writes of the same rank the later arrival wins (the contract's rule for two
            // untimestamped message edits).
            _ => match self.rank.cmp(&stored.rank) {
                Ordering::Less => Verdict::Older,
                _ => Verdict::Newer,
            },
        }
    }
}

/// A last-writer-wins register: the value of the write with the greatest [`Stamp`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lww<T> {
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    pub value: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

impl<T> Default for Lww<T> {
    fn default() -> Self {
        Self {
            value: None,
            stamp: None,
        }
    }
}

impl<T: Serialize + Clone> Lww<T> {
    /// Offers a write (`None` is an explicit null). Keeps whichever of the stored and the offered
    /// write is newer, so offering the same writes in any order leaves the same register.
    pub fn offer(&mut self, value: Option<T>, stamp: Stamp) {
        let take = match &self.stamp {
            None => true,
            Some(stored) => match stamp.versus(stored) {
                Verdict::Newer => true,
                Verdict::Older => false,
                Verdict::Tie => tie_key(&value) > tie_key(&self.value),
            },
        };
        if take {
            self.value = value;
            self.stamp = Some(stamp);
        }
    }

    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// Forgets the value and its stamp (used when data is purged or removed for good).
    pub fn erase(&mut self) {
        self.value = None;
        self.stamp = None;
    }
}

fn tie_key<T: Serialize>(value: &Option<T>) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A one-way flag (a chat's end, a removal, a purge): once set it stays set whatever arrives
/// later, so "never reverts" is this type's rule and no one else's. `M` is what it remembers:
/// `bool` for a plain flag, `Option<GiosgTime>` for one that also keeps the earliest time it was
/// set (a purge's `sensitive_data_purged_at`). Serialized as `M`, so stored records keep their
/// shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Latch<M: LatchMark = bool>(M);

/// What a [`Latch`] can remember. The only ways to change a latch are to set it
/// ([`Latch::set`], [`Latch::set_at`]): there is none to unset it.
pub trait LatchMark: Copy + Default + PartialEq {
    fn is_set(&self) -> bool;
}

impl LatchMark for bool {
    fn is_set(&self) -> bool {
        *self
    }
}

impl LatchMark for Option<GiosgTime> {
    fn is_set(&self) -> bool {
        self.is_some()
    }
}

impl<M: LatchMark> Latch<M> {
    pub fn is_set(&self) -> bool {
        self.0.is_set()
    }

    /// For `skip_serializing_if`.
    pub fn is_unset(&self) -> bool {
        !self.is_set()
    }
}

impl Latch {
    pub fn set(&mut self) {
        self.0 = true;
    }
}

impl Latch<Option<GiosgTime>> {
    /// Sets the latch at `at`, keeping the earliest time it was ever set.
    pub fn set_at(&mut self, at: GiosgTime) {
        keep_earliest(&mut self.0, Some(at));
    }

    /// When it was (first) set.
    pub fn at(&self) -> Option<GiosgTime> {
        self.0
    }
}

/// Keeps the earliest of the values seen: for facts that do not change (creation and end times),
/// so that redeliveries with slightly different renderings still converge.
pub fn keep_earliest(slot: &mut Option<GiosgTime>, offered: Option<GiosgTime>) {
    if let Some(offered) = offered
        && slot.is_none_or(|current| offered < current)
    {
        *slot = Some(offered);
    }
}

/// Keeps the latest of the values seen.
pub fn keep_latest(slot: &mut Option<GiosgTime>, offered: Option<GiosgTime>) {
    if let Some(offered) = offered
        && slot.is_none_or(|current| offered > current)
    {
        *slot = Some(offered);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> Option<GiosgTime> {
        Some(GiosgTime::from(
            chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap(),
        ))
    }

    #[test]
    fn newer_timestamp_wins_in_either_order() {
        let mut a = Lww::default();
        a.offer(Some(1), Stamp::change(t(1)));
        a.offer(Some(2), Stamp::change(t(2)));
        let mut b = Lww::default();
        b.offer(Some(2), Stamp::change(t(2)));
        b.offer(Some(1), Stamp::change(t(1)));
        assert_eq!(a, b);
        assert_eq!(a.get(), Some(&2));
    }

    #[test]
    fn change_without_timestamp_beats_snapshot_in_either_order() {
        let mut a = Lww::default();
        a.offer(Some("old"), Stamp::snapshot(t(5)));
        a.offer(Some("edited"), Stamp::change(None));
        let mut b = Lww::default();
        b.offer(Some("edited"), Stamp::change(None));
        b.offer(Some("old"), Stamp::snapshot(t(5)));
        assert_eq!(a.get(), Some(&"edited"));
        assert_eq!(a, b);
    }

    #[test]
    fn untimestamped_changes_later_arrival_wins() {
        let mut a = Lww::default();
        a.offer(Some("first"), Stamp::change(None));
        a.offer(Some("second"), Stamp::change(None));
        assert_eq!(a.get(), Some(&"second"));
    }

    #[test]
    fn ties_are_broken_by_value_not_arrival() {
        let mut a = Lww::default();
        a.offer(Some("x"), Stamp::snapshot(t(1)));
        a.offer(Some("y"), Stamp::snapshot(t(1)));
        let mut b = Lww::default();
        b.offer(Some("y"), Stamp::snapshot(t(1)));
        b.offer(Some("x"), Stamp::snapshot(t(1)));
        assert_eq!(a, b);
    }

    #[test]
    fn latches_never_reset_and_keep_the_earliest_time() {
        let mut ended = Latch::default();
        assert!(ended.is_unset());
        ended.set();
        ended.set();
        assert!(ended.is_set());
        assert_eq!(
            serde_json::to_value(ended).unwrap(),
            serde_json::json!(true)
        );

        let mut purged: Latch<Option<GiosgTime>> = Latch::default();
        purged.set_at(t(5).unwrap());
        purged.set_at(t(9).unwrap());
        assert_eq!(purged.at(), t(5));
        let mut other_order: Latch<Option<GiosgTime>> = Latch::default();
        other_order.set_at(t(9).unwrap());
        other_order.set_at(t(5).unwrap());
        assert_eq!(purged, other_order);
        let read_back: Latch<Option<GiosgTime>> =
            serde_json::from_value(serde_json::to_value(purged).unwrap()).unwrap();
        assert_eq!(read_back, purged);
    }

    #[test]
    fn explicit_null_is_a_write() {
        let mut a = Lww::default();
        a.offer(Some(1), Stamp::snapshot(t(1)));
        a.offer(None, Stamp::change(t(2)));
        assert_eq!(a.get(), None);
    }
}
