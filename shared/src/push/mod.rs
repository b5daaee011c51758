//! The real-time feed's outbound port (spec §1a): posting a frame to one WebSocket connection.
//! API Gateway's management API is the adapter on Lambda ([`apigateway`]); the local runner
//! posts to its own sockets. The frames are the feed's wire format.

pub mod apigateway;

use serde::Serialize;

use crate::domain::ChatId;
use crate::domain::chat::Chat;
use crate::domain::connection::ConnectionId;
use crate::domain::message::Message;

/// What a post came to, besides success.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection is closed: forget it.
    #[error("the connection is gone")]
    Gone,
    /// Anything else (throttled, the endpoint unreachable): the cursor stays where it was, so
    /// the next push or the client's own sync brings the change.
    #[error("posting to the connection failed: {0}")]
    Failed(String),
}

/// Posts frames to connections.
pub trait PushPort: Send + Sync {
    fn post(
        &self,
        endpoint: &str,
        connection: &ConnectionId,
        frame: &Frame,
    ) -> impl Future<Output = Result<(), PushError>> + Send;
}

/// A frame the server sends on the feed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame {
    /// Changes of a chat's messages, as the sync feed lists them, and where the feed goes on.
    Messages {
        chat_id: ChatId,
        messages: Vec<Message>,
        next_cursor: String,
    },
    /// The chat itself changed (its status, its end).
    Chat { chat: Chat },
    /// A request on the feed was refused.
    Error { error: FrameError },
}

/// The error shape of the HTTP API, inside an error frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
}

impl Frame {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::Error {
            error: FrameError {
                code,
                message: message.into(),
            },
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}
