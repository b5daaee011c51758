//! What a flow can fail with. [`crate::api::ApiError`] maps each to the contract's error shape.

use std::time::Duration;

use crate::domain::rate::LimitKind;
use crate::giosg::GiosgError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The visitor token names no visitor.
    #[error("unknown visitor token")]
    UnknownVisitor,
    /// A device of an identified person started without the signed identity.
    #[error("this visitor is signed in: starting a chat needs its identity_token")]
    IdentityRequired,
    /// The chat does not exist or is not the caller's (the two are not told apart).
    #[error("no such chat for this visitor")]
    ChatNotFound,
    #[error("the chat has ended")]
    ChatEnded,
    #[error("no agent is online")]
    AgentsOffline,
    /// Another request with the same idempotency key is sending right now.
    #[error("a send with this idempotency key is in flight")]
    SendInProgress,
    /// Another request is starting a chat for this visitor and has not finished in time.
    #[error("another start for this visitor is in flight")]
    StartInProgress,
    /// The caller's token bucket is empty: nothing was done; a token is there after
    /// `retry_after`.
    #[error("refused by the {} rate limit", limit.as_str())]
    RateLimited {
        limit: LimitKind,
        retry_after: Duration,
    },
    /// Giosg refused the message text itself (a 400).
    #[error("Giosg refused the message text")]
    TextRefused,
    /// Any other Giosg failure.
    #[error(transparent)]
    Giosg(#[from] GiosgError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that cannot happen unless stored data is inconsistent.
    #[error("{0}")]
    Internal(String),
}
