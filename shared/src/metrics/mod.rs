//! Metrics, written as CloudWatch Embedded Metric Format (EMF): on Lambda a JSON line on stdout
//! with the `_aws` key, which CloudWatch Logs turns into metrics with no API call and no agent.
//!
//! [`Metric::ALL`] is the one list of what the code emits (name, unit, dimensions); the
//! template's alarms and dashboard, and the README's table that says what each metric counts,
//! are checked against it (`shared/tests/contract.rs`). Every metric has the dimension
//! `Function` and at most one more, each a dimension set of its own (`[Function, Route]`,
//! `[Function, Status]`): few series, so few costs.
//!
//! The flows record what happened with the functions below ([`request`], [`webhook`],
//! [`giosg_call`], ...) into the current invocation's batch; [`Metrics::invocation`] runs one
//! invocation (an HTTP request, a job's event) with a batch of its own and writes it when the
//! invocation ends: counts are summed and latencies gathered within the invocation, so an
//! invocation writes one line (one more per further value of a dimension: two Giosg endpoints
//! called make two lines), never a line per event. Recording outside an invocation does nothing.

mod emf;
mod emit;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::rate::LimitKind;

pub use emf::Batch;
pub use emit::{Captured, Metrics, MetricsConfig, Output};

/// The namespace when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "GiosgBridge";

/// The dimension every metric has: the function that emitted it (its Lambda name).
pub const FUNCTION: &str = "Function";

/// A dimension besides [`FUNCTION`]; a metric has at most one of them per dimension set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    /// The route a request matched (`POST /v1/chats`, `$connect`, `unmatched`).
    Route,
    /// The HTTP status answered (`200`, `401`, `503`).
    Status,
    /// What a webhook delivery came to ([`WebhookResult`]).
    Result,
    /// Where the tolerant reader left fields out ([`FieldSource`]).
    Source,
    /// The Giosg endpoint called (`send_message`, `owned_chat`, ...).
    Endpoint,
    /// How a Giosg call ended ([`GiosgOutcome`]).
    Outcome,
    /// Which limit refused a request ([`LimitKind`]).
    Limit,
}

impl Dimension {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Route => "Route",
            Self::Status => "Status",
            Self::Result => "Result",
            Self::Source => "Source",
            Self::Endpoint => "Endpoint",
            Self::Outcome => "Outcome",
            Self::Limit => "Limit",
        }
    }
}

/// A CloudWatch unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// Every metric the code emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    Requests,
    ServerErrors,
    Webhooks,
    FieldsDropped,
    GiosgCalls,
    GiosgLatency,
    StoreConflicts,
    ReconcileRepairs,
    ReconcileFailures,
    PushesSent,
    PushesFailed,
    ConnectionsGone,
    NotificationsPublished,
    NotificationsFailed,
    RateLimited,
}

impl Metric {
    /// The one list of what is emitted.
    pub const ALL: &'static [Metric] = &[
        Self::Requests,
        Self::ServerErrors,
        Self::Webhooks,
        Self::FieldsDropped,
        Self::GiosgCalls,
        Self::GiosgLatency,
        Self::StoreConflicts,
        Self::ReconcileRepairs,
        Self::ReconcileFailures,
        Self::PushesSent,
        Self::PushesFailed,
        Self::ConnectionsGone,
        Self::NotificationsPublished,
        Self::NotificationsFailed,
        Self::RateLimited,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Requests => "Requests",
            Self::ServerErrors => "ServerErrors",
            Self::Webhooks => "Webhooks",
            Self::FieldsDropped => "FieldsDropped",
            Self::GiosgCalls => "GiosgCalls",
            Self::GiosgLatency => "GiosgLatency",
            Self::StoreConflicts => "StoreConflicts",
            Self::ReconcileRepairs => "ReconcileRepairs",
            Self::ReconcileFailures => "ReconcileFailures",
            Self::PushesSent => "PushesSent",
            Self::PushesFailed => "PushesFailed",
            Self::ConnectionsGone => "ConnectionsGone",
            Self::NotificationsPublished => "NotificationsPublished",
            Self::NotificationsFailed => "NotificationsFailed",
            Self::RateLimited => "RateLimited",
        }
    }

    pub const fn unit(self) -> Unit {
        match self {
            Self::GiosgLatency => Unit::Milliseconds,
            _ => Unit::Count,
        }
    }

    /// The dimensions besides [`FUNCTION`], each making a dimension set `[Function, it]`;
    /// none: the one set `[Function]`.
    pub const fn dimensions(self) -> &'static [Dimension] {
        match self {
            Self::Requests => &[Dimension::Route, Dimension::Status],
            Self::Webhooks => &[Dimension::Result],
            Self::FieldsDropped => &[Dimension::Source],
            Self::GiosgCalls => &[Dimension::Endpoint, Dimension::Outcome],
            Self::GiosgLatency => &[Dimension::Endpoint],
            Self::RateLimited => &[Dimension::Limit],
            _ => &[],
        }
    }

    /// Its dimension sets as EMF declares them: `[Function, d]` for each of its
    /// [`dimensions`](Self::dimensions), or `[Function]`.
    pub fn dimension_sets(self) -> Vec<Vec<&'static str>> {
        match self.dimensions() {
            [] => vec![vec![FUNCTION]],
            dimensions => dimensions
                .iter()
                .map(|dimension| vec![FUNCTION, dimension.name()])
                .collect(),
        }
    }

    /// The metric of a name, if the code emits one.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|metric| metric.name() == name)
    }
}

/// What a webhook delivery came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookResult {
    Stored,
    Duplicate,
    Ignored,
    /// Answered 4xx: no valid token, not an envelope, too large.
    Refused,
    /// Answered 5xx: storing failed, Giosg retries.
    Failed,
}

impl WebhookResult {
    pub const ALL: &'static [WebhookResult] = &[
        Self::Stored,
        Self::Duplicate,
        Self::Ignored,
        Self::Refused,
        Self::Failed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

/// Where the tolerant reader read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldSource {
    Webhook,
    Giosg,
}

impl FieldSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Giosg => "giosg",
        }
    }
}

/// How a Giosg call ended, its retries done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiosgOutcome {
    Ok,
    /// Giosg answered 4xx.
    Refused,
    /// Giosg could not be reached, timed out or kept failing.
    Unavailable,
    /// Giosg answered something the client cannot use.
    Invalid,
}

impl GiosgOutcome {
    pub const ALL: &'static [GiosgOutcome] =
        &[Self::Ok, Self::Refused, Self::Unavailable, Self::Invalid];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Unavailable => "unavailable",
            Self::Invalid => "invalid",
        }
    }
}

// --- recording ---------------------------------------------------------------------------

tokio::task_local! {
    static CURRENT: Arc<Mutex<Batch>>;
}

fn record(metric: Metric, labels: &[(Dimension, &str)], value: f64) {
    // Outside an invocation (start-up work), nothing is recorded.
    let _ = CURRENT.try_with(|batch| {
        batch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(metric, labels, value);
    });
}

/// A request answered: counted by route and by status; a 5xx counts in `ServerErrors`, every
/// other answer adds 0 there (so that its Average is the 5xx rate).
pub fn request(route: &str, status: u16) {
    let status_text = status.to_string();
    record(
        Metric::Requests,
        &[(Dimension::Route, route), (Dimension::Status, &status_text)],
        1.0,
    );
    record(
        Metric::ServerErrors,
        &[],
        if status >= 500 { 1.0 } else { 0.0 },
    );
}

/// A webhook delivery's result.
pub fn webhook(result: WebhookResult) {
    record(
        Metric::Webhooks,
        &[(Dimension::Result, result.as_str())],
        1.0,
    );
}

/// Fields the tolerant reader left out.
pub fn fields_dropped(source: FieldSource, count: usize) {
    if count > 0 {
        record(
            Metric::FieldsDropped,
            &[(Dimension::Source, source.as_str())],
            count as f64,
        );
    }
}

/// A Giosg call, its retries done: counted by endpoint and by outcome, its duration by
/// endpoint.
pub fn giosg_call(endpoint: &str, outcome: GiosgOutcome, took: Duration) {
    record(
        Metric::GiosgCalls,
        &[
            (Dimension::Endpoint, endpoint),
            (Dimension::Outcome, outcome.as_str()),
        ],
        1.0,
    );
    record(
        Metric::GiosgLatency,
        &[(Dimension::Endpoint, endpoint)],
        took.as_secs_f64() * 1000.0,
    );
}

/// A conditional write lost to a concurrent writer.
pub fn store_conflict() {
    record(Metric::StoreConflicts, &[], 1.0);
}

/// A chat the reconciler repaired.
pub fn reconcile_repair() {
    record(Metric::ReconcileRepairs, &[], 1.0);
}

/// A reconciler run's failures (0 for a clean run: the alarm sees runs, not silence).
pub fn reconcile_failures(count: usize) {
    record(Metric::ReconcileFailures, &[], count as f64);
}

/// A frame posted to a connection.
pub fn push_sent() {
    record(Metric::PushesSent, &[], 1.0);
}

/// A post to a connection that failed.
pub fn push_failed() {
    record(Metric::PushesFailed, &[], 1.0);
}

/// A connection found gone.
pub fn connection_gone() {
    record(Metric::ConnectionsGone, &[], 1.0);
}

/// An away notification published (`true`) or not.
pub fn notification(published: bool) {
    let metric = if published {
        Metric::NotificationsPublished
    } else {
        Metric::NotificationsFailed
    };
    record(metric, &[], 1.0);
}

/// A request a rate limit refused (answered `429`), by the limit.
pub fn rate_limited(limit: LimitKind) {
    record(
        Metric::RateLimited,
        &[(Dimension::Limit, limit.as_str())],
        1.0,
    );
}
