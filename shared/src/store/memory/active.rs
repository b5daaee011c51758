//! The reconciler's view of the memory store: the active chats, their counters' checks, and
//! where its sweep stopped.

use super::{Expiring, MemoryStore, StoreContext};
use crate::domain::chat::{ChatRecord, check_counters};
use crate::domain::counters::Counters;
use crate::domain::{ChatId, Decision, GiosgTime};
use crate::store::{ActiveChat, RECONCILE_CURSOR_TTL, transient_expiry};

impl MemoryStore {
    pub(super) fn active(&self, ended_since: GiosgTime) -> Vec<ActiveChat> {
        let state = self.lock();
        let mut active: Vec<ActiveChat> = state
            .chats
            .values()
            .filter_map(|chat| chat.live())
            .filter(|chat| {
                chat.activity()
                    .is_some_and(|activity| activity.is_active(ended_since))
            })
            .map(|chat| ActiveChat {
                id: chat.id.clone(),
                counters_moved: chat.counters_moved(),
            })
            .collect();
        active.sort_by(|a, b| a.id.cmp(&b.id));
        active
    }

    pub(super) fn check_counters(&self, chat: &ChatId, counters: Counters, context: &StoreContext) {
        let mut state = self.lock_for_write();
        let current: Option<ChatRecord> = state.chat(chat).cloned();
        if let Decision::Write(record) = check_counters(current.as_ref(), counters) {
            let expires_at = context.expiry(record.is_pending(), record.created_at);
            state
                .chats
                .insert(chat.clone(), Expiring { record, expires_at });
        }
    }

    /// Where the sweep stopped, unless that was longer ago than [`RECONCILE_CURSOR_TTL`].
    pub(super) fn cursor(&self) -> Option<ChatId> {
        self.lock()
            .reconcile_cursor
            .as_ref()
            .and_then(Expiring::live)
            .cloned()
    }

    pub(super) fn set_cursor(&self, cursor: Option<&ChatId>) {
        self.lock_for_write().reconcile_cursor = cursor.map(|after| Expiring {
            record: after.clone(),
            expires_at: Some(transient_expiry(RECONCILE_CURSOR_TTL)),
        });
    }
}
