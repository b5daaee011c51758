//! Reconciliation (spec §7): Giosg's API is the truth. One chat is read as the organization
//! sees it (the chat, then every page of its messages) and folded in through the same merge
//! rules as webhooks, so a repair never breaks a one-way rule and a webhook that arrives later
//! changes nothing more. What changed visibly is a repair: something a webhook should have
//! brought and did not.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;

use super::{Service, ServiceError};
use crate::domain::chat::{Chat, ChatEvent, ChatRecord};
use crate::domain::cursor::{Cursor, PageRequest};
use crate::domain::message::{Message, MessageEvent, MessageRecord};
use crate::domain::{ChatId, EventAction, GiosgTime, MessageId};
use crate::giosg::{GiosgPort, budget};
use crate::store::{Applied, ChatStore};

/// The fewest Giosg calls one chat takes (the chat, one page of messages).
const CALLS_PER_CHAT: usize = 2;

/// Bounds of one reconciliation run: it makes at most `max_giosg_calls` Giosg calls (it starts
/// a chat only while its two calls fit; a chat with many pages may pass the cap by its extra
/// pages), `concurrency` chats at a time, and starts nothing after `stop_at`.
#[derive(Clone, Debug)]
pub struct ReconcileLimits {
    pub max_giosg_calls: usize,
    pub concurrency: usize,
    /// Ended chats are looked at for this long after they end.
    pub ended_window: Duration,
    /// When to stop: the function's deadline less room to save where the sweep stopped.
    pub stop_at: Option<Instant>,
}

impl ReconcileLimits {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            max_giosg_calls: settings.reconcile_max_giosg_calls,
            concurrency: settings.reconcile_concurrency.max(1),
            ended_window: settings.reconcile_ended_window,
            stop_at: None,
        }
    }
}

impl Default for ReconcileLimits {
    fn default() -> Self {
        Self {
            max_giosg_calls: 200,
            concurrency: 4,
            ended_window: Duration::from_secs(24 * 3600),
            stop_at: None,
        }
    }
}

/// What one run did (logged, and the answer of a manual invoke).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileRun {
    /// Chats open or recently ended.
    pub chats_active: usize,
    /// Chats read from Giosg in this run.
    pub chats_looked_at: usize,
    /// Chats where something was missing.
    pub chats_repaired: usize,
    pub chats_changed: usize,
    pub messages_added: usize,
    pub messages_changed: usize,
    pub messages_removed: usize,
    pub giosg_calls: usize,
    /// Chats Giosg refused to show (skipped) or the run stopped at.
    pub failures: usize,
    /// The sweep reached the last active chat; the next run starts over. Otherwise the next
    /// run resumes after the last chat this one finished.
    pub sweep_complete: bool,
}

impl ReconcileRun {
    fn count(&mut self, repair: &ChatRepair) {
        self.chats_looked_at += 1;
        self.chats_repaired += usize::from(repair.repaired());
        self.chats_changed += usize::from(repair.chat_changed);
        self.messages_added += repair.messages_added;
        self.messages_changed += repair.messages_changed;
        self.messages_removed += repair.messages_removed;
        self.giosg_calls += repair.giosg_calls;
    }
}

/// History is read in pages of this many messages to know what is stored.
const STORED_PAGE: usize = 100;

/// What reconciling one chat found missing and repaired (counts only, never message text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChatRepair {
    pub chat_id: ChatId,
    /// The chat as the frontend sees it changed (its status, end, or it was unknown or gone).
    pub chat_changed: bool,
    /// Messages Giosg has that history did not show.
    pub messages_added: usize,
    /// Messages whose visible content changed (an edit, a purge).
    pub messages_changed: usize,
    /// Messages history showed that Giosg no longer has (a lost removal).
    pub messages_removed: usize,
    /// Giosg calls made: the chat, then each page of its messages.
    pub giosg_calls: usize,
}

impl ChatRepair {
    fn of(chat_id: &ChatId) -> Self {
        Self {
            chat_id: chat_id.clone(),
            chat_changed: false,
            messages_added: 0,
            messages_changed: 0,
            messages_removed: 0,
            giosg_calls: 0,
        }
    }

    /// Whether anything was missing.
    pub fn repaired(&self) -> bool {
        self.chat_changed
            || self.messages_added > 0
            || self.messages_changed > 0
            || self.messages_removed > 0
    }
}

/// A chat as the frontend could see it: none while pending or removed.
fn visible_chat(record: Option<&ChatRecord>) -> Option<Chat> {
    record
        .filter(|chat| !chat.is_pending() && chat.removed.is_unset())
        .map(ChatRecord::view)
}

/// A message as history shows it: none while pending.
fn visible_message(record: Option<&MessageRecord>) -> Option<Message> {
    record
        .filter(|message| !message.is_pending())
        .map(MessageRecord::view)
}

impl<S: ChatStore, G: GiosgPort> Service<S, G> {
    /// One run of the sweep over the active chats, in id order, resuming after the chat the
    /// last run finished, within `limits`; where it stopped is kept for the next run.
    pub async fn reconcile_active(
        &self,
        limits: &ReconcileLimits,
    ) -> Result<ReconcileRun, ServiceError> {
        let ended_since = chrono::Duration::from_std(limits.ended_window)
            .ok()
            .and_then(|window| Utc::now().checked_sub_signed(window))
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        let ended_since = GiosgTime::from(ended_since);
        let active = self.store.active_chats(ended_since).await?;
        let resume_after = self.store.reconcile_cursor().await?;
        let start = resume_after
            .as_ref()
            .map(|after| active.partition_point(|id| id <= after))
            .filter(|start| *start < active.len())
            .unwrap_or(0);
        let mut run = ReconcileRun {
            chats_active: active.len(),
            ..ReconcileRun::default()
        };
        let mut finished: Option<&ChatId> = None;
        let mut stopped = false;
        let sweep = async {
            for chunk in active[start..].chunks(limits.concurrency.max(1)) {
                let fits = limits.max_giosg_calls.saturating_sub(run.giosg_calls) / CALLS_PER_CHAT;
                let out_of_time = limits.stop_at.is_some_and(|at| Instant::now() >= at);
                if fits == 0 || out_of_time {
                    stopped = true;
                    break;
                }
                let batch = &chunk[..chunk.len().min(fits)];
                let results =
                    futures::future::join_all(batch.iter().map(|id| self.reconcile_chat(id))).await;
                for (id, result) in batch.iter().zip(results) {
                    match result {
                        Ok(repair) => run.count(&repair),
                        Err(ServiceError::Giosg(error)) if error.is_refused() => {
                            tracing::warn!(chat_id = %id, %error, "Giosg refused to show a chat; skipped");
                            run.failures += 1;
                            // The chat's read was made (and refused).
                            run.giosg_calls += 1;
                        }
                        Err(error) => {
                            // Giosg or storage is down: the next run starts from this chat.
                            tracing::warn!(chat_id = %id, %error, "reconciliation stopped");
                            run.failures += 1;
                            stopped = true;
                            return;
                        }
                    }
                    finished = Some(id);
                }
                if batch.len() < chunk.len() {
                    stopped = true;
                    break;
                }
            }
        };
        match limits.stop_at {
            Some(at) => budget::within(at, sweep).await,
            None => sweep.await,
        }
        run.sweep_complete = !stopped;
        let cursor = if run.sweep_complete {
            None
        } else {
            finished.or(resume_after.as_ref())
        };
        self.store.set_reconcile_cursor(cursor).await?;
        tracing::info!(
            chats_active = run.chats_active,
            chats_looked_at = run.chats_looked_at,
            chats_repaired = run.chats_repaired,
            giosg_calls = run.giosg_calls,
            sweep_complete = run.sweep_complete,
            "reconciliation run"
        );
        Ok(run)
    }

    /// Reads one chat and its messages from Giosg's organization API and folds them in.
    pub async fn reconcile_chat(&self, chat_id: &ChatId) -> Result<ChatRepair, ServiceError> {
        let context = &self.rules.store_context;
        let mut repair = ChatRepair::of(chat_id);
        let before = self.store.get_chat(chat_id).await?;
        repair.giosg_calls += 1;
        // A chat Giosg does not show (a 404) is left alone: the same answer comes from a
        // misconfigured organization or token, and a removal can never be undone. Removals
        // come from Giosg's `removed` webhooks.
        let resource = self.giosg.owned_chat(chat_id).await?;
        let event = ChatEvent {
            action: EventAction::Added,
            resource: Some(resource),
            owner: None,
        };
        let (_, after) = self
            .store
            .apply_chat_event(chat_id, &event, context)
            .await?;
        repair.chat_changed = visible_chat(before.as_ref()) != visible_chat(after.as_ref());
        if visible_chat(after.as_ref()).is_none() {
            // Not this room's, or removed: nothing of it is shown.
            return Ok(repair);
        }

        let mut stored = self.stored_messages(chat_id).await?;
        let listing = self.giosg.owned_chat_messages(chat_id).await?;
        repair.giosg_calls += listing.pages;
        for resource in listing.items {
            let Some(message_id) = resource.id.clone() else {
                continue;
            };
            let shown = stored.remove(&message_id);
            let event = MessageEvent {
                action: EventAction::Added,
                resource: Some(resource),
                client_message_id: None,
            };
            let (applied, record) = self
                .store
                .apply_message_event(chat_id, &message_id, &event, context)
                .await?;
            if applied != Applied::Stored {
                continue;
            }
            match (shown, visible_message(record.as_ref())) {
                (None, Some(_)) => repair.messages_added += 1,
                (Some(was), Some(now)) if was != now => repair.messages_changed += 1,
                _ => {}
            }
        }
        // The listing was complete (every page read): what history shows beyond it is gone.
        for (message_id, shown) in stored {
            if shown.deleted {
                continue;
            }
            let removed = MessageEvent {
                action: EventAction::Removed,
                resource: None,
                client_message_id: None,
            };
            let (applied, _) = self
                .store
                .apply_message_event(chat_id, &message_id, &removed, context)
                .await?;
            if applied == Applied::Stored {
                repair.messages_removed += 1;
            }
        }
        if repair.repaired() {
            tracing::warn!(
                chat_id = %chat_id,
                chat_changed = repair.chat_changed,
                messages_added = repair.messages_added,
                messages_changed = repair.messages_changed,
                messages_removed = repair.messages_removed,
                "reconciliation repaired what webhooks did not bring"
            );
        }
        Ok(repair)
    }

    /// Every message the chat's history shows, by id.
    async fn stored_messages(
        &self,
        chat_id: &ChatId,
    ) -> Result<HashMap<MessageId, Message>, ServiceError> {
        let mut shown = HashMap::new();
        let mut request = PageRequest::Latest { limit: STORED_PAGE };
        loop {
            let page = self.store.history_page(chat_id, &request).await?;
            let oldest = page.messages.first().and_then(MessageRecord::order_key);
            for message in &page.messages {
                shown.insert(message.id.clone(), message.view());
            }
            match oldest {
                Some(key) if page.has_older => {
                    request = PageRequest::Before {
                        cursor: Cursor::at(key),
                        limit: STORED_PAGE,
                    };
                }
                _ => return Ok(shown),
            }
        }
    }
}
