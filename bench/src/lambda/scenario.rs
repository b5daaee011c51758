//! Scenario definition: which recorded event starts each function cold, which events it is then
//! fed warm, and how a recorded event is varied from one invocation to the next (new message or
//! resource ids, or no idempotency key).

use std::sync::atomic::Ordering;

use serde_json::Value;

use super::LambdaBench;
use crate::events;

/// How a recorded event is turned into the event of the i-th invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Variant {
    /// As recorded (placeholders substituted): a loop replays the same event.
    AsRecorded,
    /// A new `client_message_id` each time: every invocation sends a new message.
    NewClientMessageId,
    /// No `client_message_id`: a send without idempotency.
    NoClientMessageId,
    /// A new `resource_id` each time: every delivery is about a new resource.
    NewResourceId,
}

impl Variant {
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::AsRecorded => "",
            Self::NewClientMessageId => " (new client_message_id)",
            Self::NoClientMessageId => " (no client_message_id)",
            Self::NewResourceId => " (new resource id)",
        }
    }
}

impl LambdaBench<'_> {
    /// The first event of a cold start, and the warm scenarios, of each function.
    pub(super) fn plan(&self, function: &str) -> (&'static str, Variant, Vec<(String, Variant)>) {
        let recorded = |file: &str| (file.to_owned(), Variant::AsRecorded);
        let own: Vec<(String, Variant)> = self
            .events
            .iter()
            .filter(|e| e.entry.function == function)
            .map(|e| recorded(&e.entry.file))
            .collect();
        match function {
            "start-chat" => ("api/start-chat-new-visitor.json", Variant::AsRecorded, own),
            "send-message" => {
                let mut scenarios = vec![
                    (
                        "api/send-message.json".to_owned(),
                        Variant::NewClientMessageId,
                    ),
                    (
                        "api/send-message.json".to_owned(),
                        Variant::NoClientMessageId,
                    ),
                ];
                scenarios.extend(own);
                (
                    "api/send-message.json",
                    Variant::NewClientMessageId,
                    scenarios,
                )
            }
            "chat-history" => ("api/history.json", Variant::AsRecorded, own),
            // Any event: it answers every one the same way.
            "hello-world" => ("api/history.json", Variant::AsRecorded, Vec::new()),
            _ => {
                let mut scenarios = vec![
                    (
                        "webhooks/message-added-visitor.json".to_owned(),
                        Variant::NewResourceId,
                    ),
                    (
                        "webhooks/chat-added.json".to_owned(),
                        Variant::NewResourceId,
                    ),
                ];
                scenarios.extend(own);
                (
                    "webhooks/message-added-visitor.json",
                    Variant::NewResourceId,
                    scenarios,
                )
            }
        }
    }

    pub(super) fn make_event(&self, file: &str, variant: Variant) -> anyhow::Result<String> {
        let recorded = self.event(file)?;
        let text = self.substitutions.apply(&recorded.text);
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        match variant {
            Variant::AsRecorded => Ok(text),
            Variant::NewClientMessageId => events::with_body(&text, |body| {
                body["client_message_id"] = Value::String(format!("bench-{n:012}"));
            }),
            Variant::NoClientMessageId => events::with_body(&text, |body| {
                if let Some(body) = body.as_object_mut() {
                    body.remove("client_message_id");
                }
            }),
            Variant::NewResourceId => events::with_resource_id(&text, &events::numbered_id(1, n)),
        }
    }
}
