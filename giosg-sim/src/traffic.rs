//! Giosg API traffic: endpoint names, the request log, and injected faults and delays.
//!
//! The schedules and the log as plain data, held by `app`; the middleware that applies them to
//! requests is in `giosg_api`, so this module knows nothing of the server.

use std::collections::BTreeMap;
use std::fmt;

use axum::http::Method;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::paths;

/// A Giosg API endpoint, by the name used in faults, delays and the request counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /api/v5/public/orgs/{org}/auth`
    VisitorAuth,
    /// `POST /api/v5/public/orgs/{org}/rooms/{room}/visitors`
    JoinRoom,
    /// `PATCH /api/v5/public/orgs/{org}/rooms/{room}/visitors/{vid}`
    RefreshPresence,
    /// `POST /api/v5/orgs/{org}/rooms/{room}/visitors/{vid}/variables`
    SetVariable,
    /// `GET /api/v5/public/orgs/{org}/rooms/{room}`
    Room,
    /// `GET /api/v5/public/orgs/{org}/rooms/{room}/online_users`
    OnlineUsers,
    /// `POST /api/v5/public/orgs/{org}/rooms/{room}/visitors/{vid}/chats`
    StartChat,
    /// `POST /api/v5/public/visitors/{vid}/chats/{chat}/messages`
    SendMessage,
    /// `GET /api/v5/orgs/{org}/owned_chats/{chat}/memberships`
    Memberships,
    /// `GET /api/v5/orgs/{org}/owned_chats/{chat}`
    OwnedChat,
    /// `GET /api/v5/orgs/{org}/owned_chats/{chat}/messages`
    OwnedChatMessages,
    /// `GET /api/v5/public/visitors/{vid}/chats`
    VisitorChats,
    /// `GET /api/v5/public/visitors/{vid}/chats/{chat}`
    VisitorChat,
    /// `GET /api/v5/public/visitors/{vid}/chats/{chat}/messages`
    VisitorMessages,
    /// `PATCH /api/v5/public/visitors/{vid}/chats/{chat}`
    EndChat,
}

impl Endpoint {
    /// The endpoint a routed request is, from its method and route template.
    pub(crate) fn resolve(method: &Method, template: &str) -> Option<Self> {
        let endpoint = match (method.as_str(), template) {
            ("POST", paths::VISITOR_AUTH) => Self::VisitorAuth,
            ("POST", paths::ROOM_VISITORS) => Self::JoinRoom,
            ("PATCH", paths::ROOM_VISITOR) => Self::RefreshPresence,
            ("POST", paths::VISITOR_VARIABLES) => Self::SetVariable,
            ("GET", paths::ROOM) => Self::Room,
            ("GET", paths::ONLINE_USERS) => Self::OnlineUsers,
            ("POST", paths::START_CHAT) => Self::StartChat,
            ("POST", paths::VISITOR_MESSAGES) => Self::SendMessage,
            ("GET", paths::VISITOR_MESSAGES) => Self::VisitorMessages,
            ("GET", paths::MEMBERSHIPS) => Self::Memberships,
            ("GET", paths::OWNED_CHAT) => Self::OwnedChat,
            ("GET", paths::OWNED_CHAT_MESSAGES) => Self::OwnedChatMessages,
            ("GET", paths::VISITOR_CHATS) => Self::VisitorChats,
            ("GET", paths::VISITOR_CHAT) => Self::VisitorChat,
            ("PATCH", paths::VISITOR_CHAT) => Self::EndChat,
            _ => return None,
        };
        Some(endpoint)
    }

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::VisitorAuth => "visitor_auth",
            Self::JoinRoom => "join_room",
            Self::RefreshPresence => "refresh_presence",
            Self::SetVariable => "set_variable",
            Self::Room => "room",
            Self::OnlineUsers => "online_users",
            Self::StartChat => "start_chat",
            Self::SendMessage => "send_message",
            Self::Memberships => "memberships",
            Self::OwnedChat => "owned_chat",
            Self::OwnedChatMessages => "owned_chat_messages",
            Self::VisitorChats => "visitor_chats",
            Self::VisitorChat => "visitor_chat",
            Self::VisitorMessages => "visitor_messages",
            Self::EndChat => "end_chat",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One endpoint, or every endpoint (`"*"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointSelector {
    /// `"*"`: every Giosg endpoint.
    Any,
    /// One endpoint.
    One(Endpoint),
}

impl EndpointSelector {
    fn matches(self, endpoint: Endpoint) -> bool {
        match self {
            Self::Any => true,
            Self::One(one) => one == endpoint,
        }
    }
}

impl From<Endpoint> for EndpointSelector {
    fn from(endpoint: Endpoint) -> Self {
        Self::One(endpoint)
    }
}

impl Serialize for EndpointSelector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Any => serializer.serialize_str("*"),
            Self::One(endpoint) => endpoint.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for EndpointSelector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if name == "*" {
            return Ok(Self::Any);
        }
        Endpoint::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(&name))
            .map(Self::One)
    }
}

fn default_count() -> u32 {
    1
}

/// Fail the next `count` calls of an endpoint (`POST /_sim/faults`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// Which endpoint (or `"*"`).
    pub endpoint: EndpointSelector,
    /// The status to answer (4xx or 5xx).
    pub status: u16,
    /// How many calls fail (default 1).
    #[serde(default = "default_count")]
    pub count: u32,
    /// `Retry-After` header, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Wait this long before failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Carry the call out first (the message is stored, the chat started, the webhooks
    /// emitted), then answer with the fault instead of the real answer: Giosg acted, and the
    /// caller cannot know. With `delay_ms` beyond the client's timeout, the answer never
    /// arrives at all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_effect: bool,
}

/// Delay the next `count` calls of an endpoint, or every call while `count` is absent
/// (`POST /_sim/delays`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelaySpec {
    /// Which endpoint (or `"*"`).
    pub endpoint: EndpointSelector,
    /// How long to wait before handling the call.
    pub delay_ms: u64,
    /// How many calls; absent means until `DELETE /_sim/faults`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// One Giosg API call as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The endpoint name.
    pub endpoint: Endpoint,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// When it arrived (RFC 3339).
    pub at: String,
}

/// The answer of `GET /_sim/requests`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLog {
    /// Calls per endpoint name; endpoints never called are absent.
    pub counts: BTreeMap<Endpoint, u64>,
    /// Every call since the last reset.
    pub total: u64,
    /// The calls, oldest first.
    pub log: Vec<RequestRecord>,
}

/// Faults and delays in force (`GET /_sim/faults`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveFaults {
    /// Pending faults, each with the calls it still fails in `count`.
    pub faults: Vec<FaultSpec>,
    /// Pending delays.
    pub delays: Vec<DelaySpec>,
}

/// The request log and the fault and delay schedules.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    active: ActiveFaults,
    requests: RequestLog,
}

impl Traffic {
    pub(crate) fn add_fault(&mut self, fault: FaultSpec) {
        if fault.count > 0 {
            self.active.faults.push(fault);
        }
    }

    pub(crate) fn add_delay(&mut self, delay: DelaySpec) {
        if delay.count != Some(0) {
            self.active.delays.push(delay);
        }
    }

    pub(crate) fn clear_faults(&mut self) {
        self.active = ActiveFaults::default();
    }

    pub(crate) fn active(&self) -> ActiveFaults {
        self.active.clone()
    }

    pub(crate) fn requests(&self) -> RequestLog {
        self.requests.clone()
    }

    pub(crate) fn reset_requests(&mut self) {
        self.requests = RequestLog::default();
    }

    /// The fault and the delay that apply to this call, each used up by one.
    pub(crate) fn take(&mut self, endpoint: Endpoint) -> (Option<FaultSpec>, Option<u64>) {
        let fault = self
            .active
            .faults
            .iter_mut()
            .find(|f| f.count > 0 && f.endpoint.matches(endpoint))
            .map(|f| {
                f.count -= 1;
                f.clone()
            });
        self.active.faults.retain(|f| f.count > 0);
        let delay = self
            .active
            .delays
            .iter_mut()
            .find(|d| d.count != Some(0) && d.endpoint.matches(endpoint))
            .map(|d| {
                if let Some(count) = d.count.as_mut() {
                    *count -= 1;
                }
                d.delay_ms
            });
        self.active.delays.retain(|d| d.count != Some(0));
        (fault, delay)
    }

    pub(crate) fn record(&mut self, record: RequestRecord) {
        *self.requests.counts.entry(record.endpoint).or_default() += 1;
        self.requests.total += 1;
        self.requests.log.push(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_parses_star_and_names() {
        let any: EndpointSelector = serde_json::from_str("\"*\"").unwrap();
        assert_eq!(any, EndpointSelector::Any);
        let one: EndpointSelector = serde_json::from_str("\"start_chat\"").unwrap();
        assert_eq!(one, EndpointSelector::One(Endpoint::StartChat));
        assert!(serde_json::from_str::<EndpointSelector>("\"nope\"").is_err());
        assert_eq!(serde_json::to_string(&any).unwrap(), "\"*\"");
    }

    #[test]
    fn faults_are_used_up_in_order() {
        let mut traffic = Traffic::default();
        traffic.add_fault(FaultSpec {
            endpoint: Endpoint::Room.into(),
            status: 503,
            count: 2,
            retry_after: None,
            delay_ms: None,
            after_effect: false,
        });
        assert!(traffic.take(Endpoint::StartChat).0.is_none());
        assert!(traffic.take(Endpoint::Room).0.is_some());
        assert!(traffic.take(Endpoint::Room).0.is_some());
        assert!(traffic.take(Endpoint::Room).0.is_none());
    }
}
