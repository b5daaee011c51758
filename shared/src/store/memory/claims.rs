//! Claims in memory: an idempotency key's or a visitor start's slot, held by one owner at a
//! time, with the same rules as the DynamoDB store's conditional writes (an expired claim is a
//! free slot).

use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, Utc};

use super::Expiring;
use crate::domain::ChatId;
use crate::store::{Claim, Reservation, SendState};

pub(super) type Slots<K> = HashMap<K, Expiring<SendState>>;

/// The slot's live state.
pub(super) fn state<'a, K: Hash + Eq>(slots: &'a Slots<K>, slot: &K) -> Option<&'a SendState> {
    slots.get(slot).and_then(Expiring::live)
}

/// Claims `slot` for `claim` when it is free or already `claim.owner`'s.
pub(super) fn reserve<K: Hash + Eq>(
    slots: &mut Slots<K>,
    slot: K,
    claim: &Claim,
    expires_at: Option<DateTime<Utc>>,
) -> Reservation {
    match state(slots, &slot) {
        None => put(slots, slot, claim, expires_at),
        Some(SendState::InFlight { claim: held, .. }) if held.owner == claim.owner => {
            Reservation::Reserved
        }
        Some(other) => Reservation::Taken(other.clone()),
    }
}

/// Takes `slot` over for `claim` when it is free or still `from`'s and not done.
pub(super) fn take_over<K: Hash + Eq>(
    slots: &mut Slots<K>,
    slot: K,
    from: &str,
    claim: &Claim,
    expires_at: Option<DateTime<Utc>>,
) -> Reservation {
    match state(slots, &slot) {
        None => put(slots, slot, claim, expires_at),
        Some(SendState::InFlight { claim: held, .. } | SendState::Unknown { claim: held, .. })
            if held.owner == from =>
        {
            put(slots, slot, claim, expires_at)
        }
        Some(other) => Reservation::Taken(other.clone()),
    }
}

/// `owner`'s in-flight claim on `slot` becomes an unknown outcome (its expiry kept).
pub(super) fn mark_unknown<K: Hash + Eq>(slots: &mut Slots<K>, slot: K, owner: &str) {
    let Some(held) = slots.get_mut(&slot) else {
        return;
    };
    let unknown = match held.live() {
        Some(SendState::InFlight { since, claim }) if claim.owner == owner => SendState::Unknown {
            since: *since,
            claim: claim.clone(),
        },
        _ => return,
    };
    held.record = unknown;
}

/// Drops `owner`'s claim on `slot` unless it is done or someone else's.
pub(super) fn release<K: Hash + Eq>(slots: &mut Slots<K>, slot: K, owner: &str) {
    if let Some(SendState::InFlight { claim, .. } | SendState::Unknown { claim, .. }) =
        state(slots, &slot)
        && claim.owner == owner
    {
        slots.remove(&slot);
    }
}

/// The chat's idempotency keys still in flight or with an unknown outcome, by key.
pub(super) fn open_sends(
    slots: &Slots<(ChatId, String)>,
    chat: &ChatId,
) -> Vec<(String, SendState)> {
    let mut open: Vec<(String, SendState)> = slots
        .iter()
        .filter_map(|(slot, held)| Some((slot, held.live()?)))
        .filter(|((of, _), claim)| of == chat && !matches!(claim, SendState::Sent { .. }))
        .map(|((_, key), claim)| (key.clone(), claim.clone()))
        .collect();
    open.sort_by(|a, b| a.0.cmp(&b.0));
    open
}

fn put<K: Hash + Eq>(
    slots: &mut Slots<K>,
    slot: K,
    claim: &Claim,
    expires_at: Option<DateTime<Utc>>,
) -> Reservation {
    let since = Utc::now();
    let claim = claim.clone();
    let record = SendState::InFlight { since, claim };
    slots.insert(slot, Expiring { record, expires_at });
    Reservation::Reserved
}
