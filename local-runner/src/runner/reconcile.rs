//! The reconciler on a timer: the same sweep the `giosg-reconciler` function runs on its
//! schedule, every `--reconcile-every` seconds, so that webhooks lost locally (a stopped
//! runner, a dropped delivery in the simulator) are repaired here too.

use std::sync::Arc;
use std::time::Duration;

use shared::api::Api;
use shared::giosg::RotatingGiosg;
use shared::service::ReconcileLimits;
use shared::store::ChatStore;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// Runs one sweep step every `every`, the first after one period.
pub(super) fn spawn<S: ChatStore>(
    app: Arc<Api<S, RotatingGiosg>>,
    every: Duration,
    limits: ReconcileLimits,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let run = app
                .metrics()
                .invocation(app.service.reconcile_active(&limits));
            match run.await {
                Ok(run) if run.chats_repaired > 0 => tracing::info!(
                    chats_repaired = run.chats_repaired,
                    messages_added = run.messages_added,
                    "the reconciler repaired lost webhooks"
                ),
                Ok(run) => tracing::debug!(chats_looked_at = run.chats_looked_at, "reconciled"),
                Err(error) => tracing::warn!(%error, "a reconciler run failed"),
            }
        }
    })
}
