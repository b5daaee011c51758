//! One correlation id along a message's way (send → Giosg → webhook → store → push), in every
//! log line: the field `correlation_id` of the span a request or a push runs in. It is the
//! Giosg message id where there is one (a webhook about a message, a send once Giosg answered
//! it, a pushed feed entry), else the request id; a chat webhook's is the chat id.
//!
//! The spans are made where work starts (`api::layers` for requests, the push and notify
//! flows); the flows name the message with [`name`] once they know it, and every line logged
//! from then on in that span carries it.

/// The field's name in spans and log lines.
pub const FIELD: &str = "correlation_id";

/// Names the correlation id of the span the caller runs in (a no-op outside one that has the
/// field).
pub fn name(id: &str) {
    tracing::Span::current().record(FIELD, id);
}
