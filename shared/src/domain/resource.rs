//! What Giosg says about a chat or a message (giosg-api.md §3): the resources of its API answers
//! and of its webhooks, which the domain folds into stored records.
//!
//! Every field of a resource is optional on the wire (a `changed` webhook carries only the fields
//! that changed), and unknown fields are ignored. Fields that webhook merge rules care about are
//! [`Field`]s, which keep "absent" apart from "null".

use serde::{Deserialize, Deserializer, Serialize};

use super::field::Field;
use super::ids::{ChatId, MessageId, OrgId, RoomId};
use super::time::GiosgTime;

/// An enum of known Giosg strings that keeps unknown ones as `Other` and writes them back as-is.
macro_rules! open_string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this code does not know, kept as Giosg sent it.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::from(raw.as_str()))
            }
        }
    };
}

/// Also used by the Giosg adapter for its own open string enums.
pub(crate) use open_string_enum;

open_string_enum!(
    /// Kind of chat (`visitor` is Giosg's default; `external` chats never close by themselves).
    ChatType {
        Visitor => "visitor",
        Task => "task",
        External => "external",
    }
);

open_string_enum!(
    /// Kind of chat message. `Action` is a button press.
    MessageType {
        Msg => "msg",
        Join => "join",
        Leave => "leave",
        Autosuggest => "autosuggest",
        Action => "action",
        System => "system",
    }
);

open_string_enum!(
    /// Who sent a message: the visitor, a user (agent or bot) or a rule.
    SenderType {
        Visitor => "visitor",
        User => "user",
        Rule => "rule",
    }
);

/// A chat (giosg-api.md §3.1). Used for API answers and for webhook resources alike.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ChatId>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub chat_type: Field<ChatType>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_at: Field<GiosgTime>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub updated_at: Field<GiosgTime>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_ended: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub ended_at: Field<GiosgTime>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_waiting: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub waiting_started_at: Field<GiosgTime>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub room_id: Field<RoomId>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub room_name: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub room_organization_id: Field<OrgId>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_private: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_real_conversation: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_autosuggested: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_encrypted: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_pending: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub message_count: Field<u64>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub user_message_count: Field<u64>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub visitor_message_count: Field<u64>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub member_count: Field<u64>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub user_member_count: Field<u64>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub visitor_member_count: Field<u64>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub present_participant_count: Field<u64>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub present_user_participant_count: Field<u64>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub present_visitor_participant_count: Field<u64>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub tag_count: Field<u64>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub has_messages: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub has_user_messages: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub has_visitor_messages: Field<bool>,
}

/// An avatar picture (`{"id", "url"}`). A bare URL string is accepted too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Avatar {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl<'de> Deserialize<'de> for Avatar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct AvatarObject {
            #[serde(default)]
            id: Option<String>,
            #[serde(default)]
            url: Option<String>,
        }

        #[derive(Deserialize)]
        #[serde(untagged)]
        enum AvatarWire {
            Object(AvatarObject),
            Url(String),
        }

        Ok(match AvatarWire::deserialize(deserializer)? {
            AvatarWire::Object(AvatarObject { id, url }) => Avatar { id, url },
            AvatarWire::Url(url) => Avatar {
                id: None,
                url: Some(url),
            },
        })
    }
}

/// A button or link on a message attachment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentAction {
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<String>,
    /// `button` or `link_button`.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub action_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub link_target: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub style: Option<String>,
}

/// Reads an optional text field of an attachment leniently: Giosg's apps may send a number or a
/// boolean (a button's `value`), which becomes its text; anything else that is not text becomes
/// `None` rather than failing the whole webhook (a refused delivery would be lost).
fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Some(text),
        serde_json::Value::Number(number) => Some(number.to_string()),
        serde_json::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    })
}

/// A rich attachment on a message (cards, buttons, links).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub title_link_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_link_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub link_target: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub actions: Vec<AttachmentAction>,
}

/// A chat message (giosg-api.md §3.2). Used for API answers and for webhook resources alike.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<MessageId>,
    #[serde(rename = "type", default, skip_serializing_if = "Field::is_absent")]
    pub message_type: Field<MessageType>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub chat_id: Field<ChatId>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub room_id: Field<RoomId>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created_at: Field<GiosgTime>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub updated_at: Field<GiosgTime>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub sender_type: Field<SenderType>,
    /// A visitor id or a user id, depending on `sender_type`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub sender_id: Field<String>,
    /// The name agents see.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub sender_name: Field<String>,
    /// The name the visitor should see.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub sender_public_name: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub sender_avatar: Field<Avatar>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub message: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub is_encrypted: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub sensitive_data_purged_at: Field<GiosgTime>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub attachments: Field<Vec<Attachment>>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub response_to_message_id: Field<MessageId>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub response_to_attachment_id: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub response_to_action_id: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub response_value: Field<String>,
}

pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[test]
    fn field_distinguishes_absent_null_and_value() {
        let absent: MessageResource = serde_json::from_value(json!({})).unwrap();
        assert!(absent.message.is_absent());
        let null: MessageResource = serde_json::from_value(json!({"message": null})).unwrap();
        assert_eq!(null.message, Field::Null);
        let value: MessageResource = serde_json::from_value(json!({"message": "hi"})).unwrap();
        assert_eq!(value.message, Field::Value("hi".to_owned()));
        assert_eq!(value.message.value().map(String::as_str), Some("hi"));
        assert_eq!(null.message.clone().into_option(), None);
        assert_eq!(value.message.clone().map(|m| m.len()), Field::Value(2));
    }

    #[test]
    fn field_serializes_back_to_the_same_shape() {
        let wire = json!({"id": "m1", "message": null, "type": "msg"});
        let message: MessageResource = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(serde_json::to_value(&message).unwrap(), wire);
    }

    #[test]
    fn unknown_enum_values_round_trip() {
        let wire = json!({"type": "poll", "sender_type": "robot", "chat_id": "c1"});
        let message: MessageResource = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(
            message.message_type,
            Field::Value(MessageType::Other("poll".into()))
        );
        assert_eq!(
            message.sender_type,
            Field::Value(SenderType::Other("robot".into()))
        );
        assert_eq!(serde_json::to_value(&message).unwrap(), wire);

        let chat: ChatResource = serde_json::from_value(json!({"chat_type": "meeting"})).unwrap();
        assert_eq!(
            chat.chat_type,
            Field::Value(ChatType::Other("meeting".into()))
        );
        let known: ChatResource = serde_json::from_value(json!({"chat_type": "external"})).unwrap();
        assert_eq!(known.chat_type, Field::Value(ChatType::External));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let chat: ChatResource = serde_json::from_value(json!({
            "id": "c1", "is_ended": true, "brand_new_field": {"x": 1}, "tag_count": 2
        }))
        .unwrap();
        assert_eq!(chat.id, Some(ChatId::new("c1")));
        assert_eq!(chat.is_ended, Field::Value(true));
        assert_eq!(chat.tag_count, Field::Value(2));
    }

    #[test]
    fn full_message_resource_parses() {
        let message: MessageResource = serde_json::from_value(json!({
            "id": "9b0c8a57-24b8-4f6e-a2d4-3a4b2c1d0e9f",
            "type": "msg",
            "chat_id": "c1",
            "room_id": "r1",
            "created_at": "2015-12-22T11:25:30.595Z",
            "sender_type": "user",
            "sender_id": "u1",
            "sender_name": "Agent Smith (internal)",
            "sender_public_name": "Anna",
            "sender_avatar": {"id": "a1", "url": "https://example.com/a.png"},
            "message": "Hello",
            "is_encrypted": false,
            "sensitive_data_purged_at": null,
            "attachments": [{"title": "Pick", "actions": [
                {"id": "b1", "text": "Yes", "type": "button", "value": "yes", "style": "brand_primary"}
            ]}],
            "response_to_message_id": null
        }))
        .unwrap();
        assert_eq!(message.message_type, Field::Value(MessageType::Msg));
        assert_eq!(message.sender_type, Field::Value(SenderType::User));
        assert!(message.updated_at.is_absent());
        assert!(message.sensitive_data_purged_at.is_null());
        let attachments = message.attachments.value().unwrap();
        assert_eq!(
            attachments[0].actions[0].action_type.as_deref(),
            Some("button")
        );
        assert_eq!(
            message.sender_avatar.value().unwrap().url.as_deref(),
            Some("https://example.com/a.png")
        );
    }

    #[test]
    fn attachment_fields_of_another_type_do_not_fail_the_message() {
        let attachment: Attachment = serde_json::from_str(
            r#"{"id": 7, "title": "Pick", "actions": [{"id": "a", "value": 42, "style": {"x": 1}, "text": true}]}"#,
        )
        .unwrap();
        assert_eq!(attachment.id.as_deref(), Some("7"));
        let action = &attachment.actions[0];
        assert_eq!(action.value.as_deref(), Some("42"));
        assert_eq!(action.text.as_deref(), Some("true"));
        assert_eq!(action.style, None);
    }
}
