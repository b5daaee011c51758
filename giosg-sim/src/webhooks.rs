//! Webhook delivery: one background task POSTs the envelopes in emission order (FIFO), with a
//! timeout per POST, records every attempt, and applies injected faults (duplicate, reorder,
//! delay, drop) and pauses.
//!
//! It delivers plain [`Emission`]s and knows nothing of the model that queued them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use url::Url;

use crate::emission::{ChannelKind, Emission};
use crate::resources::{WebhookAction, WebhookEnvelope};
use crate::sync::lock;
use crate::webhook_url::redact_url;

/// Pause between retries of a failed POST (see [`crate::Behaviour::webhook_retries`]).
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// A kind of webhook fault (`POST /_sim/webhooks/faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFaultMode {
    /// Deliver each of the next `count` webhooks twice in a row.
    Duplicate,
    /// Hold the next `count` webhooks, then deliver them in reverse order (a flush releases a
    /// partial batch).
    Reorder,
    /// Wait `delay_ms` before delivering each of the next `count` webhooks; later ones wait
    /// behind them, so order is kept.
    Delay,
    /// Never deliver the next `count` webhooks (they are logged as dropped).
    Drop,
}

fn default_count() -> u32 {
    1
}

/// A webhook fault and how many webhooks it still applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookFaultSpec {
    /// What to do.
    pub mode: WebhookFaultMode,
    /// To how many of the next webhooks (default 1).
    #[serde(default = "default_count")]
    pub count: u32,
    /// For `delay`: how long, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

/// One POST attempt (or one dropped webhook).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Emission number of the webhook (the same on duplicates and retries).
    pub seq: u64,
    /// Channel of the envelope.
    pub channel: String,
    /// Action of the envelope.
    pub action: WebhookAction,
    /// Resource id of the envelope.
    pub resource_id: String,
    /// The webhook URL, every query value replaced by `REDACTED`.
    pub url: String,
    /// HTTP status answered; null when the POST failed or the webhook was dropped.
    pub status: Option<u16>,
    /// Why the POST failed (connection, timeout), without the URL.
    pub error: Option<String>,
    /// When the attempt was made (RFC 3339).
    pub attempted_at: String,
    /// 1 for the first attempt, more for retries; 0 for a dropped webhook.
    pub attempt: u32,
    /// Faults applied to this webhook.
    pub faults: Vec<WebhookFaultMode>,
    /// The body that was (or would have been) posted.
    pub envelope: WebhookEnvelope,
}

/// One webhook emitted by the simulator, whether or not a URL was configured for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmittedWebhook {
    /// Emission number.
    pub seq: u64,
    /// Whether a URL was configured for it, so it was queued for delivery.
    pub queued: bool,
    /// The envelope.
    pub envelope: WebhookEnvelope,
}

/// The answer of `GET /_sim/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookStatus {
    /// Whether delivery is paused.
    pub paused: bool,
    /// Webhooks queued and not yet attempted.
    pub pending: usize,
    /// Webhooks held by a `reorder` fault.
    pub held: usize,
    /// Faults still in force.
    pub faults: Vec<WebhookFaultSpec>,
    /// The chats webhook URL, redacted.
    pub chat_webhook_url: Option<String>,
    /// The messages webhook URL, redacted.
    pub message_webhook_url: Option<String>,
    /// Every attempt, oldest first.
    pub deliveries: Vec<DeliveryRecord>,
    /// Every webhook emitted, in emission order.
    pub emitted: Vec<EmittedWebhook>,
}

/// Why a flush did not complete.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FlushError {
    #[error("webhook delivery is paused; resume it first")]
    Paused,
    #[error("{0} webhooks still pending after the flush timeout")]
    TimedOut(u64),
}

/// Per-webhook delivery settings, taken from [`crate::Behaviour`] when the webhook is emitted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeliveryOptions {
    pub timeout: Duration,
    pub retries: u32,
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    url: Url,
    redacted_url: String,
    envelope: WebhookEnvelope,
    options: DeliveryOptions,
    faults: Vec<WebhookFaultMode>,
}

#[derive(Debug, Default)]
struct Queue {
    chat_url: Option<Url>,
    message_url: Option<Url>,
    pending: VecDeque<Pending>,
    held: Vec<Pending>,
    paused: bool,
    release_held: bool,
    faults: Vec<WebhookFaultSpec>,
    log: Vec<DeliveryRecord>,
    emitted: Vec<EmittedWebhook>,
    next_seq: u64,
    enqueued: u64,
    settled: u64,
}

impl Queue {
    /// Uses up one webhook of the first fault of `mode` in force.
    fn take_fault(&mut self, mode: WebhookFaultMode) -> Option<WebhookFaultSpec> {
        let taken = self
            .faults
            .iter_mut()
            .find(|f| f.mode == mode && f.count > 0)
            .map(|f| {
                f.count -= 1;
                f.clone()
            });
        self.faults.retain(|f| f.count > 0);
        taken
    }

    /// The next webhooks to deliver, in delivery order; empty when there is nothing to do now.
    fn next_batch(&mut self) -> Vec<Pending> {
        if self.paused {
            return Vec::new();
        }
        while let Some(pending) = self.pending.pop_front() {
            let reorder = self
                .faults
                .iter_mut()
                .find(|f| f.mode == WebhookFaultMode::Reorder && f.count > 0);
            let Some(reorder) = reorder else {
                return vec![pending];
            };
            reorder.count -= 1;
            let batch_complete = reorder.count == 0;
            self.faults.retain(|f| f.count > 0);
            self.held.push(pending);
            if batch_complete {
                return self.release_held();
            }
        }
        if std::mem::take(&mut self.release_held) {
            // A flush asked for a partial reorder batch: deliver it now, and end the fault.
            self.faults.retain(|f| f.mode != WebhookFaultMode::Reorder);
            return self.release_held();
        }
        Vec::new()
    }

    fn release_held(&mut self) -> Vec<Pending> {
        let mut batch: Vec<Pending> = self.held.drain(..).rev().collect();
        for pending in &mut batch {
            pending.faults.push(WebhookFaultMode::Reorder);
        }
        batch
    }
}

/// The webhook queue and its delivery task.
pub(crate) struct Dispatcher {
    queue: Mutex<Queue>,
    wake: Notify,
    settled: watch::Sender<u64>,
    http: reqwest::Client,
}

impl Dispatcher {
    pub(crate) fn new(
        chat_url: Option<Url>,
        message_url: Option<Url>,
    ) -> Result<Arc<Self>, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent("giosg-sim webhooks")
            // Webhook receivers are local test servers: never route them through a proxy.
            .no_proxy()
            .build()?;
        let queue = Queue {
            chat_url,
            message_url,
            ..Queue::default()
        };
        Ok(Arc::new(Self {
            queue: Mutex::new(queue),
            wake: Notify::new(),
            settled: watch::Sender::new(0),
            http,
        }))
    }

    /// Queues webhooks in order; those without a configured URL are only recorded as emitted.
    pub(crate) fn enqueue(&self, emissions: Vec<Emission>, options: DeliveryOptions) {
        if emissions.is_empty() {
            return;
        }
        let mut queue = lock(&self.queue);
        for Emission { kind, envelope } in emissions {
            queue.next_seq += 1;
            let seq = queue.next_seq;
            let url = match kind {
                ChannelKind::Chats => queue.chat_url.clone(),
                ChannelKind::Messages => queue.message_url.clone(),
            };
            queue.emitted.push(EmittedWebhook {
                seq,
                queued: url.is_some(),
                envelope: envelope.clone(),
            });
            if let Some(url) = url {
                let redacted_url = redact_url(&url);
                queue.pending.push_back(Pending {
                    seq,
                    url,
                    redacted_url,
                    envelope,
                    options,
                    faults: Vec::new(),
                });
                queue.enqueued += 1;
            }
        }
        drop(queue);
        self.wake.notify_one();
    }

    /// Replaces the webhook URLs for webhooks emitted from now on.
    pub(crate) fn set_urls(&self, chat_url: Option<Url>, message_url: Option<Url>) {
        let mut queue = lock(&self.queue);
        queue.chat_url = chat_url;
        queue.message_url = message_url;
    }

    pub(crate) fn add_fault(&self, fault: WebhookFaultSpec) {
        if fault.count > 0 {
            lock(&self.queue).faults.push(fault);
        }
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.queue).faults.clear();
        self.wake.notify_one();
    }

    pub(crate) fn set_paused(&self, paused: bool) {
        lock(&self.queue).paused = paused;
        self.wake.notify_one();
    }

    /// Forgets the delivery and emission logs.
    pub(crate) fn clear_log(&self) {
        let mut queue = lock(&self.queue);
        queue.log.clear();
        queue.emitted.clear();
    }

    pub(crate) fn status(&self) -> WebhookStatus {
        let queue = lock(&self.queue);
        WebhookStatus {
            paused: queue.paused,
            pending: queue.pending.len(),
            held: queue.held.len(),
            faults: queue.faults.clone(),
            chat_webhook_url: queue.chat_url.as_ref().map(redact_url),
            message_webhook_url: queue.message_url.as_ref().map(redact_url),
            deliveries: queue.log.clone(),
            emitted: queue.emitted.clone(),
        }
    }

    /// Waits until every webhook queued so far has been attempted (a partial reorder batch is
    /// released for it).
    pub(crate) async fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let target = {
            let mut queue = lock(&self.queue);
            if queue.paused {
                return Err(FlushError::Paused);
            }
            queue.release_held = true;
            queue.enqueued
        };
        self.wake.notify_one();
        let mut settled = self.settled.subscribe();
        let waited = tokio::time::timeout(timeout, settled.wait_for(|&done| done >= target)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => {
                let done = *self.settled.borrow();
                Err(FlushError::TimedOut(target.saturating_sub(done)))
            }
        }
    }

    /// The delivery task; runs until aborted.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            let batch = lock(&self.queue).next_batch();
            if batch.is_empty() {
                self.wake.notified().await;
                continue;
            }
            for pending in batch {
                self.deliver(pending).await;
                let mut queue = lock(&self.queue);
                queue.settled += 1;
                self.settled.send_replace(queue.settled);
            }
        }
    }

    async fn deliver(&self, mut pending: Pending) {
        let (dropped, duplicate, delay) = {
            let mut queue = lock(&self.queue);
            let dropped = queue.take_fault(WebhookFaultMode::Drop).is_some();
            let (duplicate, delay) = if dropped {
                (false, None)
            } else {
                (
                    queue.take_fault(WebhookFaultMode::Duplicate).is_some(),
                    queue
                        .take_fault(WebhookFaultMode::Delay)
                        .map(|f| f.delay_ms.unwrap_or(0)),
                )
            };
            (dropped, duplicate, delay)
        };
        if dropped {
            pending.faults.push(WebhookFaultMode::Drop);
            tracing::info!(seq = pending.seq, "webhook dropped by fault injection");
            self.record(&pending, 0, Ok(None));
            return;
        }
        if duplicate {
            pending.faults.push(WebhookFaultMode::Duplicate);
        }
        if let Some(delay_ms) = delay {
            pending.faults.push(WebhookFaultMode::Delay);
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        let copies = if duplicate { 2 } else { 1 };
        for _ in 0..copies {
            self.post_with_retries(&pending).await;
        }
    }

    async fn post_with_retries(&self, pending: &Pending) {
        for attempt in 1..=pending.options.retries.saturating_add(1) {
            let result = self
                .http
                .post(pending.url.clone())
                .timeout(pending.options.timeout)
                .json(&pending.envelope)
                .send()
                .await
                .map(|response| Some(response.status().as_u16()))
                .map_err(|error| error.without_url().to_string());
            let succeeded = matches!(result, Ok(Some(status)) if (200..300).contains(&status));
            match &result {
                Ok(Some(status)) => tracing::debug!(
                    seq = pending.seq,
                    channel = %pending.envelope.channel,
                    status,
                    "webhook delivered"
                ),
                Ok(None) => {}
                Err(error) => tracing::warn!(seq = pending.seq, %error, "webhook POST failed"),
            }
            self.record(pending, attempt, result);
            if succeeded || attempt > pending.options.retries {
                return;
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    fn record(&self, pending: &Pending, attempt: u32, result: Result<Option<u16>, String>) {
        let (status, error) = match result {
            Ok(status) => (status, None),
            Err(error) => (None, Some(error)),
        };
        let record = DeliveryRecord {
            seq: pending.seq,
            channel: pending.envelope.channel.clone(),
            action: pending.envelope.action,
            resource_id: pending.envelope.resource_id.clone(),
            url: pending.redacted_url.clone(),
            status,
            error,
            attempted_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            attempt,
            faults: pending.faults.clone(),
            envelope: pending.envelope.clone(),
        };
        lock(&self.queue).log.push(record);
    }
}
