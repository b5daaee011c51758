//! Reconciliation (spec §7): Giosg's API is the truth. A run looks at the active chats (open,
//! or ended within a window) through the store's index, never a scan, and spends its Giosg
//! calls where a lost webhook is likely first:
//!
//! 1. **Counters.** When the run's calls cannot cover every active chat, the chats whose Giosg
//!    message counters moved since they were last checked are checked against the stored
//!    messages, with no Giosg call; those that agree are marked checked, those that do not are
//!    suspects. (A full read marks a chat's counters checked too.)
//! 2. **Suspects** are repaired first (a full read of the chat and its messages).
//! 3. **The sweep** reads the other active chats in id order with the calls left, resuming
//!    after the chat the last run finished, so everything is read again in turn (the counters
//!    cannot show a lost edit, purge or end): when the budget covers every chat, every run
//!    reads every chat; when it does not, the suspects still come first and the sweep goes
//!    round at a lower rate.

mod chat;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;

pub use chat::ChatRepair;

use super::{Service, ServiceError};
use crate::domain::{ChatId, GiosgTime};
use crate::giosg::{GiosgPort, budget};
use crate::store::ChatStore;

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

    fn out_of_time(&self) -> bool {
        self.stop_at.is_some_and(|at| Instant::now() >= at)
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
    /// Chats whose Giosg counters moved and agreed with the stored messages (no Giosg call).
    pub chats_counted: usize,
    /// Chats whose Giosg counters disagreed with the stored messages: read first.
    pub chats_suspect: usize,
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

/// How far reading a list of chats got.
struct Progress<'a> {
    /// The last chat finished (read, or skipped because Giosg refused it).
    finished: Option<&'a ChatId>,
    /// Stopped before the end: out of calls or time, or Giosg or storage failed.
    stopped: bool,
}

impl<S: ChatStore, G: GiosgPort> Service<S, G> {
    /// One run over the active chats within `limits` (see the module's documentation); where
    /// the sweep stopped is kept for the next run. Its failures (a run that fails is one) are
    /// counted in the metrics, 0 included.
    pub async fn reconcile_active(
        &self,
        limits: &ReconcileLimits,
    ) -> Result<ReconcileRun, ServiceError> {
        let run = self.run_over_active(limits).await;
        crate::metrics::reconcile_failures(run.as_ref().map_or(1, |run| run.failures));
        run
    }

    async fn run_over_active(
        &self,
        limits: &ReconcileLimits,
    ) -> Result<ReconcileRun, ServiceError> {
        let ended_since = chrono::Duration::from_std(limits.ended_window)
            .ok()
            .and_then(|window| Utc::now().checked_sub_signed(window))
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        let active = self
            .store
            .active_chats(GiosgTime::from(ended_since))
            .await?;
        let resume_after = self.store.reconcile_cursor().await?;
        let mut run = ReconcileRun {
            chats_active: active.len(),
            ..ReconcileRun::default()
        };
        // When the calls cover every chat, every chat is read anyway: no counting first.
        let covers_all = active.len().saturating_mul(CALLS_PER_CHAT) <= limits.max_giosg_calls;
        let work = async {
            let moved: Vec<&ChatId> = active
                .iter()
                .filter(|chat| chat.counters_moved && !covers_all)
                .map(|chat| &chat.id)
                .collect();
            let suspects = self.suspects(&moved, limits, &mut run).await?;
            run.chats_suspect = suspects.len();
            let first = self.read_in_turn(&suspects, limits, &mut run).await;
            if first.stopped {
                return Ok::<_, ServiceError>(None);
            }
            let suspects: HashSet<&ChatId> = suspects.into_iter().collect();
            let ids: Vec<&ChatId> = active.iter().map(|chat| &chat.id).collect();
            let start = resume_after
                .as_ref()
                .map(|after| ids.partition_point(|id| *id <= after))
                .filter(|start| *start < ids.len())
                .unwrap_or(0);
            let sweep: Vec<&ChatId> = ids[start..]
                .iter()
                .copied()
                .filter(|id| !suspects.contains(id))
                .collect();
            Ok(Some(self.read_in_turn(&sweep, limits, &mut run).await))
        };
        let swept = match limits.stop_at {
            Some(at) => budget::within(at, work).await,
            None => work.await,
        }?;
        run.sweep_complete = swept.as_ref().is_some_and(|sweep| !sweep.stopped);
        let cursor = if run.sweep_complete {
            None
        } else {
            swept
                .and_then(|sweep| sweep.finished.cloned())
                .or(resume_after)
        };
        self.store.set_reconcile_cursor(cursor.as_ref()).await?;
        tracing::info!(
            chats_active = run.chats_active,
            chats_counted = run.chats_counted,
            chats_suspect = run.chats_suspect,
            chats_looked_at = run.chats_looked_at,
            chats_repaired = run.chats_repaired,
            giosg_calls = run.giosg_calls,
            sweep_complete = run.sweep_complete,
            "reconciliation run"
        );
        Ok(run)
    }

    /// Of the chats whose counters moved, those whose counters disagree with the stored
    /// messages (DynamoDB reads only; stops checking when out of time).
    async fn suspects<'a>(
        &self,
        moved: &[&'a ChatId],
        limits: &ReconcileLimits,
        run: &mut ReconcileRun,
    ) -> Result<Vec<&'a ChatId>, ServiceError> {
        let mut suspects = Vec::new();
        for chunk in moved.chunks(limits.concurrency.max(1)) {
            if limits.out_of_time() {
                break;
            }
            let agree =
                futures::future::join_all(chunk.iter().map(|id| self.counters_agree(id))).await;
            for (id, agrees) in chunk.iter().zip(agree) {
                if agrees? {
                    run.chats_counted += 1;
                } else {
                    suspects.push(*id);
                }
            }
        }
        Ok(suspects)
    }

    /// Reconciles `ids` in order, `concurrency` at a time, while calls and time last.
    async fn read_in_turn<'a>(
        &self,
        ids: &[&'a ChatId],
        limits: &ReconcileLimits,
        run: &mut ReconcileRun,
    ) -> Progress<'a> {
        let mut progress = Progress {
            finished: None,
            stopped: false,
        };
        for chunk in ids.chunks(limits.concurrency.max(1)) {
            let fits = limits.max_giosg_calls.saturating_sub(run.giosg_calls) / CALLS_PER_CHAT;
            if fits == 0 || limits.out_of_time() {
                progress.stopped = true;
                return progress;
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
                        progress.stopped = true;
                        return progress;
                    }
                }
                progress.finished = Some(id);
            }
            if batch.len() < chunk.len() {
                progress.stopped = true;
                return progress;
            }
        }
        progress
    }
}
