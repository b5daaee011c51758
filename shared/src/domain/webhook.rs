//! Giosg webhook envelopes, parsed at the edge into domain events.

use serde::Deserialize;

use super::EventAction;
use super::chat::ChatEvent;
use super::ids::{UnkeyableId, check_keyable};
use super::message::MessageEvent;
use super::{ChatId, ChatResource, MessageId, MessageResource, OrgId};

/// The JSON envelope Giosg posts: `{"channel","action","resource_id","resource"}`.
/// `app_user_auth` and anything else is ignored.
#[derive(Debug, Deserialize)]
pub struct WebhookEnvelope<R> {
    pub channel: String,
    pub action: String,
    pub resource_id: Option<String>,
    /// Absent, `{}` or the last state on `removed`; only the changed fields on `changed`.
    pub resource: Option<R>,
}

/// A chat webhook, ready to apply.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatWebhook {
    pub org_id: OrgId,
    pub chat_id: ChatId,
    pub event: ChatEvent,
}

/// A message webhook, ready to apply. The chat id comes from the channel path.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageWebhook {
    pub org_id: OrgId,
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub event: MessageEvent,
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
    })
}

/// What every envelope must have, checked the same way on both channels.
struct Delivery<R> {
    channel: String,
    action: EventAction,
    /// `resource_id`, or `resource.id` when the envelope leaves it out.
    resource_id: String,
    resource: Option<R>,
}

impl<R: serde::de::DeserializeOwned> Delivery<R> {
    fn parse(body: &[u8], id_of: impl Fn(&R) -> Option<&str>) -> Result<Self, WebhookError> {
        let envelope: WebhookEnvelope<R> = parse_envelope(body)?;
        let action = parse_action(&envelope.action)?;
        let resource_id = envelope
            .resource_id
            .filter(|id| !id.is_empty())
            .or_else(|| {
                envelope
                    .resource
                    .as_ref()
                    .and_then(&id_of)
                    .map(str::to_owned)
            })
            .ok_or(WebhookError::MissingResourceId)?;
        if action == EventAction::Added && envelope.resource.is_none() {
            return Err(WebhookError::MissingResource);
        }
        Ok(Self {
            channel: envelope.channel,
            action,
            resource_id,
            resource: envelope.resource,
        })
    }

    /// The segments of the channel after `/api/v5/orgs/`, e.g. `[org, "owned_chats"]`.
    fn channel_segments(&self) -> Option<Vec<&str>> {
        let rest = self.channel.strip_prefix("/api/v5/orgs/")?;
        let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        segments.iter().all(|s| !s.is_empty()).then_some(segments)
    }
}

fn parse_envelope<R: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<WebhookEnvelope<R>, WebhookError> {
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
