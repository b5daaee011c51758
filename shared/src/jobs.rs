//! The reconciler's invocations, parsed at the edge like the API's requests: the schedule's
//! event (EventBridge or EventBridge Scheduler), or a manual invoke naming one chat or a wider
//! window of ended chats. The answer is the run's report as JSON.
//!
//! The real-time feed's functions that are not HTTP either: [`feed_socket`], the WebSocket
//! API's routes (feature `lambda`: it reads API Gateway's event type), and [`feed_notifier`],
//! the table's stream batches.

pub mod feed_notifier;
#[cfg(feature = "lambda")]
pub mod feed_socket;

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::ChatId;
use crate::domain::ids::check_keyable;
use crate::giosg::GiosgPort;
use crate::service::{ReconcileLimits, Service, ServiceError};
use crate::store::ChatStore;

/// What an invocation asks the reconciler to do.
#[derive(Clone, Debug, PartialEq)]
pub enum ReconcileRequest {
    /// One run of the sweep over the active chats (the schedule, or `{}`), with ended chats
    /// looked at for `ended_window` when given (a manual `{"ended_within_hours": N}`).
    Sweep { ended_window: Option<Duration> },
    /// One chat, now (`{"chat_id": "..."}`).
    Chat(ChatId),
}

/// Why an invocation is not one the reconciler understands.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a reconciler invocation: {0}")]
pub struct NotAnInvocation(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manual {
    chat_id: Option<String>,
    ended_within_hours: Option<u64>,
}

/// Reads an invocation's payload.
pub fn parse(payload: &Value) -> Result<ReconcileRequest, NotAnInvocation> {
    let scheduled = payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        || payload.get("source").and_then(Value::as_str) == Some("aws.scheduler");
    if scheduled {
        return Ok(ReconcileRequest::Sweep { ended_window: None });
    }
    let manual: Manual = serde_json::from_value(payload.clone())
        .map_err(|error| NotAnInvocation(error.to_string()))?;
    match (manual.chat_id, manual.ended_within_hours) {
        (Some(_), Some(_)) => Err(NotAnInvocation(
            "give chat_id or ended_within_hours, not both".into(),
        )),
        (Some(chat_id), None) => {
            check_keyable("chat", &chat_id).map_err(|error| NotAnInvocation(error.to_string()))?;
            Ok(ReconcileRequest::Chat(ChatId::new(chat_id)))
        }
        (None, hours) => Ok(ReconcileRequest::Sweep {
            ended_window: hours.map(|hours| Duration::from_secs(hours.saturating_mul(3600))),
        }),
    }
}

/// An invocation from its payload to its answer: what the reconciler function runs for each
/// event, and what the tests feed recorded events to. The error is the sentence the
/// invocation fails with.
pub async fn handle<S: ChatStore, G: GiosgPort>(
    service: &Service<S, G>,
    limits: &ReconcileLimits,
    payload: &Value,
    deadline: Option<Instant>,
) -> Result<Value, String> {
    let request = parse(payload).map_err(|error| error.to_string())?;
    reconcile(service, limits, request, deadline)
        .await
        .map_err(|error| error.to_string())
}

/// Time kept after the last chat of a run to save where the sweep stopped.
const ROOM_TO_SAVE: Duration = Duration::from_secs(3);

/// Carries out a request within `limits`, stopping in time for `deadline` (the invocation's).
pub async fn reconcile<S: ChatStore, G: GiosgPort>(
    service: &Service<S, G>,
    limits: &ReconcileLimits,
    request: ReconcileRequest,
    deadline: Option<Instant>,
) -> Result<Value, ServiceError> {
    match request {
        ReconcileRequest::Chat(chat_id) => {
            let repair = service.reconcile_chat(&chat_id).await?;
            Ok(json!({ "chat": repair }))
        }
        ReconcileRequest::Sweep { ended_window } => {
            let limits = ReconcileLimits {
                ended_window: ended_window.unwrap_or(limits.ended_window),
                stop_at: deadline.map(|at| at.checked_sub(ROOM_TO_SAVE).unwrap_or(at)),
                ..limits.clone()
            };
            let run = service.reconcile_active(&limits).await?;
            Ok(json!({ "run": run }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_and_manual_invokes_are_read() {
        let eventbridge = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": "2026-11-30T10:00:00Z", "detail": {}});
        assert_eq!(
            parse(&eventbridge).unwrap(),
            ReconcileRequest::Sweep { ended_window: None }
        );
        assert_eq!(
            parse(&json!({})).unwrap(),
            ReconcileRequest::Sweep { ended_window: None }
        );
        assert_eq!(
            parse(&json!({"ended_within_hours": 72})).unwrap(),
            ReconcileRequest::Sweep {
                ended_window: Some(Duration::from_secs(72 * 3600))
            }
        );
        assert_eq!(
            parse(&json!({"chat_id": "c-1"})).unwrap(),
            ReconcileRequest::Chat(ChatId::new("c-1"))
        );
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        for payload in [
            json!({"chat_id": "c", "ended_within_hours": 1}),
            json!({"chat": "c"}),
            json!({"chat_id": ""}),
            json!({"ended_within_hours": -1}),
            json!("reconcile"),
        ] {
            assert!(parse(&payload).is_err(), "{payload}");
        }
    }
}
