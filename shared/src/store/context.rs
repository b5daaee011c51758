//! How long things live in the store: the [`StoreContext`] every write takes (the room, the
//! pending TTL, transcript retention) and the bounded lifetimes of transient items.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::{GiosgTime, RoomId};

#[cfg(doc)]
use super::RateLimitStore;

/// Settings every write needs: which room is ours and how long things live.
#[derive(Clone, Debug)]
pub struct StoreContext {
    /// The configured Giosg room: resources of other rooms are never stored.
    pub room_id: RoomId,
    /// How long a change for a not-yet-known chat or message is kept waiting for it.
    pub pending_ttl: Duration,
    /// Transcript retention (DynamoDB TTL), counted from the chat's or message's creation.
    pub retention: Option<Duration>,
}

impl StoreContext {
    pub fn new(room_id: RoomId) -> Self {
        Self {
            room_id,
            pending_ttl: Duration::from_secs(24 * 3600),
            retention: None,
        }
    }

    /// When a chat or message should expire: pending ones after `pending_ttl` from now, known
    /// ones after the retention period from their creation (never when retention is off).
    pub fn expiry(&self, pending: bool, created_at: Option<GiosgTime>) -> Option<DateTime<Utc>> {
        if pending {
            return Some(Utc::now() + self.pending_ttl);
        }
        let retention = chrono::Duration::from_std(self.retention?).ok()?;
        Some(created_at.map_or_else(Utc::now, |t| t.as_datetime()) + retention)
    }

    /// When an item about a chat or a visitor written now should expire (a visitor, a send key,
    /// a chat's feed position, its away-notification bookkeeping): the retention period from
    /// now, or from `not_before` when that is later (a visitor outlives the chat it is stored
    /// with); never when retention is off. Written again with every change, so such an item
    /// lives at least as long as what it is about.
    pub fn retained(&self, not_before: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let retention = chrono::Duration::from_std(self.retention?).ok()?;
        let now = Utc::now();
        Some(not_before.map_or(now, |at| at.max(now)) + retention)
    }
}

/// Items that are bookkeeping for a moment, not transcripts, live a bounded time whether
/// retention is on or off (retention is at least a day, so never longer than it):
///
/// | item | lifetime |
/// |---|---|
/// | a pending chat or message | [`StoreContext::pending_ttl`] (24 h) |
/// | a visitor's start claim | [`START_CLAIM_TTL`] |
/// | where the reconciler's sweep stopped | [`RECONCILE_CURSOR_TTL`] |
/// | a real-time feed connection, a subscription | [`crate::domain::connection::CONNECTION_TTL`] |
/// | a token bucket ([`RateLimitStore`]) | until it would be full again, plus a minute |
///
/// A start claim outlives any start (a request lasts seconds); an unknown outcome left by a
/// start that died is found out by the next start within a day, or forgotten.
pub const START_CLAIM_TTL: Duration = Duration::from_secs(24 * 3600);

/// A sweep that has not moved for this long starts over (its cursor is forgotten).
pub const RECONCILE_CURSOR_TTL: Duration = Duration::from_secs(24 * 3600);

/// When a transient item written now expires (see [`START_CLAIM_TTL`]).
pub fn transient_expiry(lifetime: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::days(1))
}
