//! The enums of [`Behaviour`](super::Behaviour)'s fields: each names the ways Giosg may do one
//! `[inferred]` or `[unknown]` thing. The first variant of each list is the default.

use serde::{Deserialize, Serialize};

/// What the simulator emits in the `resource` of a `removed` webhook; Giosg's choice is `[unknown]`
/// (giosg-api.md §4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovedResource {
    /// The resource as it was just before the deletion (default).
    #[default]
    LastState,
    /// An empty object `{}`.
    Empty,
    /// No `resource` key at all (contrary profile).
    Absent,
}

/// What the visitor auth endpoint does with a `visitor_secret_id` it does not know (`[unknown]`,
/// giosg-api.md §2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownSecret {
    /// Silently create a new visitor, with a new `visitor_id` and secret (default: it exercises the
    /// client's "visitor id changed, re-bind" path).
    #[default]
    NewVisitor,
    /// Refuse with 400 `{"visitor_secret_id": ["..."]}` (contrary profile).
    Error,
}

/// How timestamps are written. Giosg has been seen writing both forms (`[confirmed]`,
/// giosg-api.md §1); which one a given resource uses is not known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    /// `2015-12-22T11:25:30.595Z` (default).
    #[default]
    Z,
    /// `2015-02-13T11:31:36.042`, no offset (meaning UTC).
    NoOffset,
    /// Alternates between the two forms on every timestamp written, so one resource or one webhook
    /// stream carries both (contrary profile).
    Mixed,
}

/// How many fractional digits timestamps carry, and the resolution of the simulator's clock.
/// Giosg's examples show milliseconds; Django's `DateTimeField` stores microseconds and DRF writes
/// them all unless told otherwise (`[inferred]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampPrecision {
    /// 3 digits (`...30.595Z`); the clock ticks in milliseconds (default).
    #[default]
    Millis,
    /// 6 digits (`...30.595123Z`); the clock ticks in microseconds, so several events can share
    /// a millisecond and only the microseconds order them (contrary profile).
    Micros,
}

/// Which message webhooks carry `chat_id` (giosg-api.md §6: Giosg's example reads
/// `resource["chat_id"]`, but `changed` resources are partial).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageChatId {
    /// Only full message resources (`added` webhooks, the last state of `removed`, API answers)
    /// carry `chat_id`; a `changed` resource carries only what changed (default).
    #[default]
    Full,
    /// `changed` message resources carry `chat_id` too, as does every non-empty `removed`
    /// resource (contrary profile).
    Always,
}

/// How the `next` and `previous` links of paginated collections are written (giosg-api.md §1:
/// "absolute url" `[old docs]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NextLinks {
    /// An absolute URL on the scheme and host the client called (default).
    #[default]
    Absolute,
    /// Only the path and query (`/api/v5/...?cursor=...`).
    Relative,
    /// An absolute URL on [`OTHER_ORIGIN`](crate::config::OTHER_ORIGIN), as Django REST Framework
    /// writes behind a proxy that does not forward the host (contrary profile).
    OtherOrigin,
}

/// The body of the error answers of the Giosg API (giosg-api.md §1: DRF shapes are `[inferred]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorBody {
    /// JSON in DRF's shapes: `{"detail": "..."}`, or `{"field": ["..."]}` for a 400 (default).
    #[default]
    Drf,
    /// `Content-Type: text/html; charset=utf-8` and a short HTML page such as
    /// `<h1>Forbidden</h1><p>...</p>`, as a Django site with debug off can answer (contrary
    /// profile). Statuses and headers (`WWW-Authenticate`) are unchanged; injected faults keep
    /// their JSON body.
    Text,
}
