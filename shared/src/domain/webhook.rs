//! Giosg webhook envelopes, parsed at the edge into domain events.

use serde::Deserialize;
use serde_json::Value;

use super::EventAction;
use super::chat::ChatEvent;
use super::ids::{UnkeyableId, check_keyable};
use super::message::MessageEvent;
use super::tolerant::{self, Unreadable};
use super::{ChatId, ChatResource, MessageId, MessageResource, OrgId};

/// The JSON envelope Giosg posts: `{"channel","action","resource_id","resource"}`.
/// `app_user_auth` and anything else is ignored; the resource is read by the tolerant reader.
#[derive(Debug, Deserialize)]
struct WebhookEnvelope {
    channel: String,
    action: String,
    resource_id: Option<String>,
    /// Absent, `{}` or the last state on `removed`; only the changed fields on `changed`.
    #[serde(default)]
    resource: Option<Value>,
}

/// A chat webhook, ready to apply.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatWebhook {
    pub org_id: OrgId,
    pub chat_id: ChatId,
    pub event: ChatEvent,
    /// Fields of the resource that could not be read and were left out (to log and count).
    pub dropped: Vec<String>,
}

/// A message webhook, ready to apply. The chat id comes from the channel path.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageWebhook {
    pub org_id: OrgId,
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub event: MessageEvent,
    /// Fields of the resource that could not be read and were left out (to log and count).
    pub dropped: Vec<String>,
}

/// Why a body is not a Giosg webhook envelope for this endpoint (a `400`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the body is not a Giosg webhook envelope: {0}")]
    Malformed(String),
    #[error("the channel `{0}` is not this endpoint's channel")]
    WrongChannel(String),
    #[error("the action `{0}` is not one of added, changed, removed")]
    UnknownAction(String),
    #[error("the envelope has neither resource_id nor resource.id")]
    MissingResourceId,
    #[error("an `added` envelope must carry the resource")]
    MissingResource,
    #[error("{0}; it cannot be stored")]
    UnkeyableId(#[from] UnkeyableId),
    #[error("resource.chat_id names another chat than the channel")]
    ChatMismatch,
    #[error("resource.{field} is a time beyond the years 0000 to 9999, which cannot be ordered")]
    TimeOutOfRange { field: String },
}

/// Parses a delivery of the chats channel `/api/v5/orgs/{org}/owned_chats`.
pub fn parse_chat_webhook(body: &[u8]) -> Result<ChatWebhook, WebhookError> {
    let delivery = Delivery::<ChatResource>::parse(body, |r| r.id.as_ref().map(|id| id.as_str()))?;
    let org_id = match delivery.channel_segments().as_deref() {
        Some([org, "owned_chats"]) => OrgId::new(*org),
        _ => return Err(WebhookError::WrongChannel(delivery.channel)),
    };
    check_keyable("chat", &delivery.resource_id)?;
    Ok(ChatWebhook {
        org_id,
        chat_id: ChatId::new(delivery.resource_id),
        event: ChatEvent {
            action: delivery.action,
            resource: delivery.resource,
            owner: None,
        },
        dropped: delivery.dropped,
    })
}

/// Parses a delivery of the messages channel `/api/v5/orgs/{org}/owned_chats/{chat}/messages`.
pub fn parse_message_webhook(body: &[u8]) -> Result<MessageWebhook, WebhookError> {
    let delivery =
        Delivery::<MessageResource>::parse(body, |r| r.id.as_ref().map(|id| id.as_str()))?;
    let (org_id, chat_id) = match delivery.channel_segments().as_deref() {
        Some([org, "owned_chats", chat, "messages"]) if *chat != "*" => {
            (OrgId::new(*org), ChatId::new(*chat))
        }
        _ => return Err(WebhookError::WrongChannel(delivery.channel)),
    };
    check_keyable("chat", chat_id.as_str())?;
    check_keyable("message", &delivery.resource_id)?;
    // The channel names the chat; a resource that names another one is not this channel's.
    if let Some(named) = delivery.resource.as_ref().and_then(|r| r.chat_id.value())
        && !named.same_as(&chat_id)
    {
        return Err(WebhookError::ChatMismatch);
    }
    Ok(MessageWebhook {
        org_id,
        chat_id,
        message_id: MessageId::new(delivery.resource_id),
        event: MessageEvent {
            action: delivery.action,
            resource: delivery.resource,
            client_message_id: None,
        },
        dropped: delivery.dropped,
    })
}

/// What every envelope must have, checked the same way on both channels.
struct Delivery<R> {
    channel: String,
    action: EventAction,
    /// `resource_id`, or `resource.id` when the envelope leaves it out.
    resource_id: String,
    resource: Option<R>,
    dropped: Vec<String>,
}

impl<R: serde::de::DeserializeOwned> Delivery<R> {
    fn parse(body: &[u8], id_of: impl Fn(&R) -> Option<&str>) -> Result<Self, WebhookError> {
        let envelope = parse_envelope(body)?;
        let action = parse_action(&envelope.action)?;
        let (resource, dropped) = read_resource(envelope.resource)?;
        let resource_id = envelope
            .resource_id
            .filter(|id| !id.is_empty())
            .or_else(|| resource.as_ref().and_then(&id_of).map(str::to_owned))
            .ok_or(WebhookError::MissingResourceId)?;
        if action == EventAction::Added && resource.is_none() {
            return Err(WebhookError::MissingResource);
        }
        Ok(Self {
            channel: envelope.channel,
            action,
            resource_id,
            resource,
            dropped,
        })
    }

    /// The segments of the channel after `/api/v5/orgs/`, e.g. `[org, "owned_chats"]`.
    fn channel_segments(&self) -> Option<Vec<&str>> {
        let rest = self.channel.strip_prefix("/api/v5/orgs/")?;
        let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        segments.iter().all(|s| !s.is_empty()).then_some(segments)
    }
}

/// The resource, read leniently: fields that do not read are left out and named; a resource
/// that is not an object (or `null`) counts as absent, itself named as dropped.
fn read_resource<R: serde::de::DeserializeOwned>(
    resource: Option<Value>,
) -> Result<(Option<R>, Vec<String>), WebhookError> {
    let Some(resource) = resource.filter(|r| !r.is_null()) else {
        return Ok((None, Vec::new()));
    };
    match tolerant::read::<R>(resource) {
        Ok(read) => Ok((Some(read.value), read.dropped)),
        Err(Unreadable::TimeOutOfRange { field }) => Err(WebhookError::TimeOutOfRange { field }),
        Err(Unreadable::NotAnObject | Unreadable::Invalid(_)) => {
            Ok((None, vec!["resource".to_owned()]))
        }
    }
}

fn parse_envelope(body: &[u8]) -> Result<WebhookEnvelope, WebhookError> {
    serde_json::from_slice(body).map_err(|error| {
        // serde's message names the field and position, never echoes values at length.
        WebhookError::Malformed(error.to_string())
    })
}

fn parse_action(action: &str) -> Result<EventAction, WebhookError> {
    match action {
        "added" => Ok(EventAction::Added),
        "changed" => Ok(EventAction::Changed),
        "removed" => Ok(EventAction::Removed),
        other => Err(WebhookError::UnknownAction(
            other.chars().take(40).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_removed_without_resource_is_accepted() {
        let body =
            br#"{"channel":"/api/v5/orgs/o1/owned_chats","action":"removed","resource_id":"c1"}"#;
        let hook = parse_chat_webhook(body).unwrap();
        assert_eq!(hook.chat_id.as_str(), "c1");
        assert_eq!(hook.event.action, EventAction::Removed);
        assert!(hook.event.resource.is_none());
    }

    #[test]
    fn message_channel_gives_the_chat_id() {
        let body = br#"{"channel":"/api/v5/orgs/o1/owned_chats/c9/messages","action":"changed","resource_id":"m1","resource":{"message":null}}"#;
        let hook = parse_message_webhook(body).unwrap();
        assert_eq!(hook.chat_id.as_str(), "c9");
        assert_eq!(hook.message_id.as_str(), "m1");
        assert!(hook.event.resource.unwrap().message.is_null());
    }

    #[test]
    fn a_resource_chat_id_must_be_the_channels_chat_in_any_case() {
        let envelope = |named: &str| {
            format!(
                r#"{{"channel":"/api/v5/orgs/o1/owned_chats/c9ab/messages","action":"changed","resource_id":"m1","resource":{{"chat_id":"{named}"}}}}"#
            )
        };
        assert!(parse_message_webhook(envelope("c9ab").as_bytes()).is_ok());
        assert!(parse_message_webhook(envelope("C9AB").as_bytes()).is_ok());
        assert_eq!(
            parse_message_webhook(envelope("c1").as_bytes()).unwrap_err(),
            WebhookError::ChatMismatch
        );
    }

    #[test]
    fn unreadable_fields_are_left_out_not_the_delivery() {
        let body = br#"{"channel":"/api/v5/orgs/o1/owned_chats/c9/messages","action":"added","resource_id":"m1",
            "resource":{"id":"m1","message":"hi","room_id":"r1","created_at":"2026-01-01T00:00:00Z","is_encrypted":"nope","sender_avatar":[1,2],"type":7}}"#;
        let hook = parse_message_webhook(body).unwrap();
        let resource = hook.event.resource.unwrap();
        assert_eq!(resource.message.value().map(String::as_str), Some("hi"));
        assert!(resource.is_encrypted.is_absent() && resource.message_type.is_absent());
        let mut dropped = hook.dropped;
        dropped.sort();
        assert_eq!(dropped, ["is_encrypted", "sender_avatar", "type"]);
    }

    #[test]
    fn an_unreadable_id_fails_only_when_it_is_the_only_id() {
        let with_envelope_id = br#"{"channel":"/api/v5/orgs/o1/owned_chats","action":"changed","resource_id":"c1","resource":{"id":{"x":1},"is_ended":true}}"#;
        let hook = parse_chat_webhook(with_envelope_id).unwrap();
        assert_eq!(hook.chat_id.as_str(), "c1");
        assert_eq!(hook.dropped, ["id"]);
        let only_resource_id = br#"{"channel":"/api/v5/orgs/o1/owned_chats","action":"changed","resource":{"id":{"x":1},"is_ended":true}}"#;
        assert_eq!(
            parse_chat_webhook(only_resource_id).unwrap_err(),
            WebhookError::MissingResourceId
        );
    }

    #[test]
    fn a_resource_that_is_not_an_object_is_absent() {
        let removed = br#"{"channel":"/api/v5/orgs/o1/owned_chats","action":"removed","resource_id":"c1","resource":"gone"}"#;
        let hook = parse_chat_webhook(removed).unwrap();
        assert!(hook.event.resource.is_none());
        assert_eq!(hook.dropped, ["resource"]);
        let added = br#"{"channel":"/api/v5/orgs/o1/owned_chats","action":"added","resource_id":"c1","resource":[1]}"#;
        assert_eq!(
            parse_chat_webhook(added).unwrap_err(),
            WebhookError::MissingResource
        );
    }

    #[test]
    fn a_time_beyond_9999_refuses_the_delivery() {
        let body = br#"{"channel":"/api/v5/orgs/o1/owned_chats/c9/messages","action":"added","resource_id":"m1","resource":{"created_at":"10000-01-01T00:00:00Z"}}"#;
        assert_eq!(
            parse_message_webhook(body).unwrap_err(),
            WebhookError::TimeOutOfRange {
                field: "created_at".into()
            }
        );
    }

    #[test]
    fn a_message_envelope_is_not_a_chat_envelope() {
        let body = br#"{"channel":"/api/v5/orgs/o1/owned_chats/c9/messages","action":"added","resource_id":"m1","resource":{}}"#;
        assert!(matches!(
            parse_chat_webhook(body),
            Err(WebhookError::WrongChannel(_))
        ));
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(
            parse_chat_webhook(b"not json"),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(
            parse_chat_webhook(br#"{"channel":"/api/v5/orgs/o/owned_chats","action":"exploded","resource_id":"c"}"#),
            Err(WebhookError::UnknownAction(_))
        ));
        assert!(matches!(
            parse_chat_webhook(br#"{"channel":"/api/v5/orgs/o/owned_chats","action":"changed"}"#),
            Err(WebhookError::MissingResourceId)
        ));
    }
}
