//! The real-time feed's bookkeeping (spec §1a): a WebSocket connection, opened with a visitor
//! token, and its subscriptions to that visitor's chats, each with the feed position pushed so
//! far. Both expire on their own (API Gateway closes a connection after two hours at most).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ChatId;
use super::visitor::VisitorKey;

/// How long a connection or subscription is kept without being renewed: API Gateway's own
/// limit on a WebSocket connection's life.
pub const CONNECTION_TTL: chrono::Duration = chrono::Duration::hours(2);

/// A connection id as the WebSocket endpoint names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionId(String);

impl ConnectionId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An open connection: whose it is, and where to post to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    pub id: ConnectionId,
    pub visitor: VisitorKey,
    /// Where frames are posted (API Gateway's management endpoint for the connection's stage;
    /// empty locally).
    pub endpoint: String,
    /// The chats it subscribed to, so that closing it forgets their subscriptions.
    #[serde(default)]
    pub chats: Vec<ChatId>,
    pub expires_at: DateTime<Utc>,
}

/// One connection's subscription to one chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    pub chat_id: ChatId,
    pub connection_id: ConnectionId,
    pub endpoint: String,
    /// The feed position pushed so far: the next push starts after it.
    pub position: u64,
    pub expires_at: DateTime<Utc>,
}
