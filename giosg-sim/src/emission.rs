//! What the model hands to the webhook emitter: one webhook to send and which URL it goes to.
//!
//! A plain type below both `state` (which queues emissions) and `webhooks` (which delivers
//! them), so neither depends on the other; `app` moves them from one to the other.

use crate::resources::WebhookEnvelope;

/// Which webhook a change goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelKind {
    Chats,
    Messages,
}

/// One webhook to send.
#[derive(Debug, Clone)]
pub(crate) struct Emission {
    pub kind: ChannelKind,
    pub envelope: WebhookEnvelope,
}
