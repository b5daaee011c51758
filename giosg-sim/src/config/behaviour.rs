//! Every `[inferred]` or `[unknown]` behaviour of Giosg, as a setting: [`Behaviour`] and the
//! enums of its fields, with the defaults the simulator starts with.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// What the simulator emits in the `resource` of a `removed` webhook; Giosg's choice is `[unknown]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovedResource {
    /// The resource as it was just before the deletion (default).
    #[default]
    LastState,
    /// An empty object `{}`.
    Empty,
    /// No `resource` key at all.
    Absent,
}

/// What the visitor auth endpoint does with a `visitor_secret_id` it does not know (`[unknown]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownSecret {
    /// Refuse with 400 `{"visitor_secret_id": ["..."]}`.
    Error,
    /// Silently create a new visitor, with a new `visitor_id` and secret (default: it exercises the
    /// client's "visitor id changed, re-bind" path).
    #[default]
    NewVisitor,
}

/// How timestamps are written. Giosg has been seen writing both forms (`[confirmed]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    /// `2015-12-22T11:25:30.595Z` (default).
    #[default]
    Z,
    /// `2015-02-13T11:31:36.042`, no offset (meaning UTC).
    NoOffset,
    /// Alternates between the two forms on every timestamp written, so one resource or one webhook
    /// stream carries both.
    Mixed,
}

/// Every `[inferred]` or `[unknown]` behaviour of Giosg, as a setting.
///
/// Read and changed at run time with `GET`/`PUT /_sim/settings` (a `PUT` merges the given keys
/// into the current settings; unknown keys are refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// Status answering a visitor message sent into an ended chat (default 403).
    pub ended_chat_send_status: u16,
    /// Status answering a chat start while the room is offline (default 403).
    pub offline_start_status: u16,
    /// Whether the configured room is online (default true). `PUT /_sim/room` changes it too.
    pub room_online: bool,
    /// The `resource` of `removed` webhooks (default [`RemovedResource::LastState`]).
    pub removed_resource: RemovedResource,
    /// Default true: `is_waiting` turns true (and `waiting_started_at` is set) on a visitor message
    /// and turns false (with `waiting_started_at` null) on an agent reply. False: visitor messages
    /// leave `is_waiting` alone, so it stays false.
    pub waiting_on_visitor_message: bool,
    /// What visitor auth does with an unknown `visitor_secret_id` (default new visitor).
    pub unknown_visitor_secret: UnknownSecret,
    /// Status of the visitor auth answer for a new visitor (default 201).
    pub auth_status: u16,
    /// Status of the visitor auth answer for a returning visitor (default 200).
    pub auth_returning_status: u16,
    /// Whether a visitor's own message comes back as a message `added` webhook (default true).
    pub echo_visitor_messages: bool,
    /// How timestamps are written (default [`TimestampFormat::Z`]).
    pub timestamp_format: TimestampFormat,
    /// Status when a visitor addresses a chat that exists but is not theirs (default 404, as DRF
    /// gives for objects outside the caller's queryset). A `{vid}` in the path that is not the
    /// token's visitor is always 403.
    pub foreign_chat_status: u16,
    /// Whether `changed` webhooks also carry `id` (default false: consumers must key on
    /// `resource_id`).
    pub changed_includes_id: bool,
    /// Whether envelopes carry `app_user_auth` like apps with a bot user get (default false).
    pub include_app_user_auth: bool,
    /// Whether starting a chat requires the visitor to have joined the room first (default false).
    /// When required and missing, the start is refused with 403.
    pub require_room_join: bool,
    /// Longest visitor message, in characters (default 2000, `[old docs]`).
    pub max_message_chars: usize,
    /// Timeout of one webhook POST, in milliseconds (default 5000).
    pub webhook_timeout_ms: u64,
    /// Extra attempts after a failed webhook POST (error or non-2xx), 100 ms apart (default 0:
    /// Giosg's retry schedule is unknown, so consumers must survive loss).
    pub webhook_retries: u32,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            ended_chat_send_status: 403,
            offline_start_status: 403,
            room_online: true,
            removed_resource: RemovedResource::LastState,
            waiting_on_visitor_message: true,
            unknown_visitor_secret: UnknownSecret::NewVisitor,
            auth_status: 201,
            auth_returning_status: 200,
            echo_visitor_messages: true,
            timestamp_format: TimestampFormat::Z,
            foreign_chat_status: 404,
            changed_includes_id: false,
            include_app_user_auth: false,
            require_room_join: false,
            max_message_chars: 2000,
            webhook_timeout_ms: 5000,
            webhook_retries: 0,
        }
    }
}

impl Behaviour {
    /// Checks that every status setting is usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let error_statuses = [
            ("ended_chat_send_status", self.ended_chat_send_status),
            ("offline_start_status", self.offline_start_status),
            ("foreign_chat_status", self.foreign_chat_status),
        ];
        for (name, value) in error_statuses {
            if !(400..=599).contains(&value) {
                return Err(ConfigError::BadStatus {
                    name,
                    value,
                    class: "4xx/5xx",
                });
            }
        }
        for (name, value) in [
            ("auth_status", self.auth_status),
            ("auth_returning_status", self.auth_returning_status),
        ] {
            if !(200..=299).contains(&value) {
                return Err(ConfigError::BadStatus {
                    name,
                    value,
                    class: "2xx",
                });
            }
        }
        Ok(())
    }

    /// A validated status; settings are validated when set, so the fallback is unreachable.
    pub(crate) fn status(value: u16) -> StatusCode {
        StatusCode::from_u16(value).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}
