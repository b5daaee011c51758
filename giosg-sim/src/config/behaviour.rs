//! Every `[inferred]` or `[unknown]` behaviour of Giosg, as a setting: [`Behaviour`], with the
//! defaults the simulator starts with ([`Behaviour::default`]) and the contrary of each guess
//! ([`Behaviour::contrary`]). The enums of its fields are in `choices`.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::choices::{
    ErrorBody, MessageChatId, NextLinks, RemovedResource, TimestampFormat, TimestampPrecision,
    UnknownSecret,
};

/// Scheme and host of the links [`NextLinks::OtherOrigin`] writes: an origin the client did not
/// call and cannot reach.
pub const OTHER_ORIGIN: &str = "http://giosg-internal.invalid:8000";

/// Every `[inferred]` or `[unknown]` behaviour of Giosg, as a setting.
///
/// Read and changed at run time with `GET`/`PUT /_sim/settings` (a `PUT` merges the given keys
/// into the current settings; unknown keys are refused) or all at once with
/// `PUT /_sim/settings/profile/{name}` ([`Profile`](super::Profile)). Each field's documentation
/// names its default and its value in the contrary profile; the references are to sections of
/// `giosg-api.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// Status answering a visitor message sent into an ended chat (§2 #8, §6). Default 403,
    /// contrary 400.
    pub ended_chat_send_status: u16,
    /// Status answering a chat start while the room is offline (§2 #7, §6). Default 403,
    /// contrary 400.
    pub offline_start_status: u16,
    /// Whether the configured room is online. `PUT /_sim/room` changes it too. Not a guess:
    /// true in both profiles.
    pub room_online: bool,
    /// The `resource` of `removed` webhooks (§4). Default [`RemovedResource::LastState`],
    /// contrary [`RemovedResource::Absent`].
    pub removed_resource: RemovedResource,
    /// True: `is_waiting` turns true (and `waiting_started_at` is set) on a visitor message and
    /// false (with `waiting_started_at` null) on an agent reply. False: visitor messages leave
    /// `is_waiting` alone, so it stays false (§3.1, §4). Default true, contrary false.
    pub waiting_on_visitor_message: bool,
    /// What visitor auth does with an unknown `visitor_secret_id` (§2). Default
    /// [`UnknownSecret::NewVisitor`], contrary [`UnknownSecret::Error`].
    pub unknown_visitor_secret: UnknownSecret,
    /// Status of the visitor auth answer for a new visitor (§2 #1). Default 201, contrary 200.
    pub auth_status: u16,
    /// Status of the visitor auth answer for a returning visitor (§2 #1). Default 200,
    /// contrary 201.
    pub auth_returning_status: u16,
    /// Whether a visitor's own message comes back as a message `added` webhook (§4). Default
    /// true, contrary false.
    pub echo_visitor_messages: bool,
    /// How timestamps are written (§1, §6). Default [`TimestampFormat::Z`], contrary
    /// [`TimestampFormat::Mixed`].
    pub timestamp_format: TimestampFormat,
    /// Fractional digits of timestamps and resolution of the clock (§1). Default
    /// [`TimestampPrecision::Millis`], contrary [`TimestampPrecision::Micros`].
    pub timestamp_precision: TimestampPrecision,
    /// Status when a visitor addresses a chat that exists but is not theirs: 404 is what DRF
    /// gives for objects outside the caller's queryset (§2, §6). A `{vid}` in the path that is
    /// not the token's visitor is always 403. Default 404, contrary 403.
    pub foreign_chat_status: u16,
    /// Whether `changed` webhooks also carry `id` (§4: consumers must key on `resource_id`).
    /// Default false, contrary true.
    pub changed_includes_id: bool,
    /// Whether envelopes carry `app_user_auth` like apps with a bot user get (§4). Default
    /// false, contrary true.
    pub include_app_user_auth: bool,
    /// Whether starting a chat requires the visitor to have joined the room first; when
    /// required and missing, the start is refused with 403 (§2 #2, #7). Default false,
    /// contrary true.
    pub require_room_join: bool,
    /// Longest visitor message, in characters (§2 #8, `[old docs]`). Not a guess: 2000 in both
    /// profiles.
    pub max_message_chars: usize,
    /// Timeout of one webhook POST, in milliseconds. Not a guess about Giosg but a simulator
    /// knob: 5000 in both profiles.
    pub webhook_timeout_ms: u64,
    /// Extra attempts after a failed webhook POST (error or non-2xx), 100 ms apart (§4: Giosg's
    /// retry schedule is unknown, so consumers must survive loss and redelivery). Default 0,
    /// contrary 2.
    pub webhook_retries: u32,
    /// Whether message resources (webhooks and API answers) carry `room_id` (§3.2, §6: Giosg's
    /// demo-bot test data has none). Chat resources always do. Default true, contrary false.
    pub message_room_id: bool,
    /// Which message webhooks carry `chat_id` (§6). Default [`MessageChatId::Full`], contrary
    /// [`MessageChatId::Always`].
    pub message_chat_id: MessageChatId,
    /// True: a chat start makes the room's greeting rule post an `autosuggest` message
    /// (`sender_type: rule`, a card with a button), and an agent joining is followed by a
    /// `system` message from the room's rule ("Smith joined the chat") (§3.2, §6). False: only
    /// `msg`, `join` and `leave` happen by themselves. The control API can post any type from
    /// any sender either way. Default false, contrary true.
    pub extra_message_types: bool,
    /// How `next` and `previous` links of collections are written (§1). Default
    /// [`NextLinks::Absolute`], contrary [`NextLinks::OtherOrigin`].
    pub next_links: NextLinks,
    /// The body of the Giosg API's error answers (§1). Default [`ErrorBody::Drf`], contrary
    /// [`ErrorBody::Text`].
    pub error_body: ErrorBody,
    /// Success status of a chat start (§2 #7, `[inferred]` 201). Default 201, contrary 200.
    pub start_chat_status: u16,
    /// Success status of a visitor message (§2 #8, `[inferred]` 201). Default 201, contrary 200.
    pub send_message_status: u16,
}

impl Default for Behaviour {
    /// The simulator's best guesses (giosg-api.md as written).
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
            timestamp_precision: TimestampPrecision::Millis,
            foreign_chat_status: 404,
            changed_includes_id: false,
            include_app_user_auth: false,
            require_room_join: false,
            max_message_chars: 2000,
            webhook_timeout_ms: 5000,
            webhook_retries: 0,
            message_room_id: true,
            message_chat_id: MessageChatId::Full,
            extra_message_types: false,
            next_links: NextLinks::Absolute,
            error_body: ErrorBody::Drf,
            start_chat_status: 201,
            send_message_status: 201,
        }
    }
}

impl Behaviour {
    /// Every guess flipped away from the default at once: the best stand-in for "Giosg is not
    /// exactly what we guessed". Only `room_online`, `max_message_chars` and
    /// `webhook_timeout_ms`, which are not guesses, keep their defaults.
    pub fn contrary() -> Self {
        Self {
            ended_chat_send_status: 400,
            offline_start_status: 400,
            removed_resource: RemovedResource::Absent,
            waiting_on_visitor_message: false,
            unknown_visitor_secret: UnknownSecret::Error,
            auth_status: 200,
            auth_returning_status: 201,
            echo_visitor_messages: false,
            timestamp_format: TimestampFormat::Mixed,
            timestamp_precision: TimestampPrecision::Micros,
            foreign_chat_status: 403,
            changed_includes_id: true,
            include_app_user_auth: true,
            require_room_join: true,
            webhook_retries: 2,
            message_room_id: false,
            message_chat_id: MessageChatId::Always,
            extra_message_types: true,
            next_links: NextLinks::OtherOrigin,
            error_body: ErrorBody::Text,
            start_chat_status: 200,
            send_message_status: 200,
            ..Self::default()
        }
    }

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
            ("start_chat_status", self.start_chat_status),
            ("send_message_status", self.send_message_status),
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// Settings that are not guesses about Giosg, so no profile flips them.
    const NOT_GUESSES: [&str; 3] = ["room_online", "max_message_chars", "webhook_timeout_ms"];

    fn fields(behaviour: &Behaviour) -> serde_json::Map<String, Value> {
        match serde_json::to_value(behaviour).unwrap() {
            Value::Object(fields) => fields,
            other => panic!("Behaviour serializes as an object, not {other}"),
        }
    }

    #[test]
    fn contrary_differs_from_default_in_every_guess() {
        let default = fields(&Behaviour::default());
        let contrary = fields(&Behaviour::contrary());
        assert_eq!(
            default.keys().collect::<Vec<_>>(),
            contrary.keys().collect::<Vec<_>>()
        );
        for (key, value) in &default {
            if NOT_GUESSES.contains(&key.as_str()) {
                assert_eq!(&contrary[key], value, "{key} is not a guess: keep it");
            } else {
                assert_ne!(
                    &contrary[key], value,
                    "{key} is a guess: Behaviour::contrary must flip it"
                );
            }
        }
    }

    #[test]
    fn both_profiles_validate() {
        Behaviour::default().validate().unwrap();
        Behaviour::contrary().validate().unwrap();
    }

    #[test]
    fn success_statuses_must_be_2xx() {
        for field in ["start_chat_status", "send_message_status"] {
            let mut fields = fields(&Behaviour::default());
            fields.insert(field.to_owned(), Value::from(404));
            let behaviour: Behaviour = serde_json::from_value(Value::Object(fields)).unwrap();
            let error = behaviour.validate().unwrap_err().to_string();
            assert!(error.contains(field), "{error}");
        }
    }
}
