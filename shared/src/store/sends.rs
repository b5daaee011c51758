//! The send protocol's records: who holds an idempotency key or a visitor's start
//! ([`Claim`], [`SendState`], [`Reservation`]), what a send reads before it decides
//! ([`SendContext`]) and what it records once Giosg accepted the message ([`SentMessage`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::chat::ChatRecord;
use crate::domain::message::MessageEvent;
use crate::domain::visitor::VisitorRecord;
use crate::domain::{ChatId, MessageId};

/// Who holds an idempotency key (or a visitor's start) and for which text: the request that
/// claimed it (so that a retry of its own claim write is not mistaken for someone else's, and a
/// late release cannot drop another request's claim) and a digest of the text it sends (to
/// recognise the message in Giosg when the outcome is unknown; empty for a start).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub owner: String,
    pub text_digest: String,
}

/// The state of an idempotency key (`client_message_id` / `Idempotency-Key`) within a chat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SendState {
    /// A send with this key is under way (or its sender died: once older than the function's
    /// timeout, it is treated like [`SendState::Unknown`]).
    InFlight {
        since: DateTime<Utc>,
        #[serde(flatten)]
        claim: Claim,
    },
    /// The call to Giosg failed in a way that leaves open whether Giosg stored the message: a
    /// retry must find out from Giosg before sending again.
    Unknown {
        since: DateTime<Utc>,
        #[serde(flatten)]
        claim: Claim,
    },
    /// Sent: the message Giosg created for it.
    Sent { message_id: MessageId },
}

impl SendState {
    /// The claim whose outcome must be found out from Giosg before the key is used again, with
    /// when it was made: an unknown outcome, or a send in flight for longer than a request can
    /// live (`stale_after`: its sender died, maybe after Giosg took the message).
    pub fn to_find_out(
        &self,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Option<(&Claim, DateTime<Utc>)> {
        match self {
            Self::Unknown { since, claim } => Some((claim, *since)),
            Self::InFlight { since, claim }
                if chrono::Duration::from_std(stale_after)
                    .is_ok_and(|limit| now - *since >= limit) =>
            {
                Some((claim, *since))
            }
            Self::InFlight { .. } | Self::Sent { .. } => None,
        }
    }
}

/// Everything the send-message handler reads before it decides, in one round trip.
#[derive(Clone, Debug, Default)]
pub struct SendContext {
    pub visitor: Option<VisitorRecord>,
    pub chat: Option<ChatRecord>,
    pub key_state: Option<SendState>,
}

/// The outcome of trying to claim an idempotency key.
#[derive(Clone, Debug, PartialEq)]
pub enum Reservation {
    Reserved,
    /// Someone holds or used the key: here is its state.
    Taken(SendState),
}

/// A message Giosg accepted from our send call, to be stored with its bookkeeping at once.
#[derive(Clone, Debug)]
pub struct SentMessage {
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub event: MessageEvent,
    pub idempotency_key: Option<String>,
    /// The visitor, when its Giosg session was refreshed and must be saved.
    pub visitor: Option<VisitorRecord>,
}
