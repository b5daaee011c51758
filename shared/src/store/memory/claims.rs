//! Claims in memory: an idempotency key's or a visitor start's slot, held by one owner at a
//! time, with the same rules as the DynamoDB store's conditional writes.

use std::collections::HashMap;
use std::hash::Hash;

use chrono::Utc;

use crate::store::{Claim, Reservation, SendState};

/// Claims `slot` for `claim` when it is free or already `claim.owner`'s.
pub(super) fn reserve<K: Hash + Eq>(
    slots: &mut HashMap<K, SendState>,
    slot: K,
    claim: &Claim,
) -> Reservation {
    match slots.get(&slot) {
        None => put(slots, slot, claim),
        Some(SendState::InFlight { claim: held, .. }) if held.owner == claim.owner => {
            Reservation::Reserved
        }
        Some(other) => Reservation::Taken(other.clone()),
    }
}

/// Takes `slot` over for `claim` when it is free or still `from`'s and not done.
pub(super) fn take_over<K: Hash + Eq>(
    slots: &mut HashMap<K, SendState>,
    slot: K,
    from: &str,
    claim: &Claim,
) -> Reservation {
    match slots.get(&slot) {
        None => put(slots, slot, claim),
        Some(SendState::InFlight { claim: held, .. } | SendState::Unknown { claim: held, .. })
            if held.owner == from =>
        {
            put(slots, slot, claim)
        }
        Some(other) => Reservation::Taken(other.clone()),
    }
}

/// `owner`'s in-flight claim on `slot` becomes an unknown outcome.
pub(super) fn mark_unknown<K: Hash + Eq>(slots: &mut HashMap<K, SendState>, slot: K, owner: &str) {
    if let Some(SendState::InFlight { since, claim }) = slots.get(&slot)
        && claim.owner == owner
    {
        let unknown = SendState::Unknown {
            since: *since,
            claim: claim.clone(),
        };
        slots.insert(slot, unknown);
    }
}

/// Drops `owner`'s claim on `slot` unless it is done or someone else's.
pub(super) fn release<K: Hash + Eq>(slots: &mut HashMap<K, SendState>, slot: K, owner: &str) {
    if let Some(SendState::InFlight { claim, .. } | SendState::Unknown { claim, .. }) =
        slots.get(&slot)
        && claim.owner == owner
    {
        slots.remove(&slot);
    }
}

fn put<K: Hash + Eq>(slots: &mut HashMap<K, SendState>, slot: K, claim: &Claim) -> Reservation {
    let since = Utc::now();
    let claim = claim.clone();
    slots.insert(slot, SendState::InFlight { since, claim });
    Reservation::Reserved
}
