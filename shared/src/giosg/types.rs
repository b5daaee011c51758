//! Giosg wire types: what the Giosg HTTP API and its webhooks send (giosg-api.md §3).
//!
//! Every field of a resource is optional on the wire (a `changed` webhook carries only the fields
//! that changed), and unknown fields are ignored. Fields that webhook merge rules care about are
//! [`Field`]s, which keep "absent" apart from "null".

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_newtype!(
    /// A Giosg organization id (UUID).
    OrgId
);
id_newtype!(
    /// A Giosg room id (UUID).
    RoomId
);
id_newtype!(
    /// A Giosg chat id (UUID).
    ChatId
);
id_newtype!(
    /// A Giosg chat message id (UUID).
    MessageId
);
id_newtype!(
    /// A Giosg visitor id (32 hex characters, no dashes).
    VisitorId
);
id_newtype!(
    /// A Giosg user (agent or bot) id (UUID).
    UserId
);

/// A point in time as Giosg writes it.
///
/// Giosg sends ISO-8601 both with an offset (`2015-12-22T11:25:30.595Z`) and without one
/// (`2015-02-13T11:31:36.042`); the latter is UTC. Kept to the microsecond (the precision of
/// [`GiosgTime::sortable`]) and serialized as RFC 3339 UTC with `Z`, with as many fractional
/// digits as needed (milliseconds for Giosg's own times), so a stored time reads back equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GiosgTime(DateTime<Utc>);

/// A string that is not a Giosg timestamp.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO-8601 timestamp")]
pub struct InvalidGiosgTime;

impl GiosgTime {
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Fixed-width form whose lexical order is time order (`2015-12-22T11:25:30.595000Z`),
    /// for sort keys.
    pub fn sortable(&self) -> String {
        self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

impl From<DateTime<Utc>> for GiosgTime {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value.trunc_subsecs(6))
    }
}

impl From<GiosgTime> for DateTime<Utc> {
    fn from(value: GiosgTime) -> Self {
        value.0
    }
}

impl FromStr for GiosgTime {
    type Err = InvalidGiosgTime;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(with_offset) = DateTime::parse_from_rfc3339(s) {
            return Ok(Self::from(with_offset.with_timezone(&Utc)));
        }
        // `%.f` also accepts no fractional part at all.
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(s, format).ok())
            .map(|naive| Self::from(naive.and_utc()))
            .ok_or(InvalidGiosgTime)
    }
}

impl fmt::Display for GiosgTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = if self.0.timestamp_subsec_micros().is_multiple_of(1000) {
            SecondsFormat::Millis
        } else {
            SecondsFormat::Micros
        };
        f.write_str(&self.0.to_rfc3339_opts(format, true))
    }
}

impl Serialize for GiosgTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GiosgTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(|_| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&raw),
                &"an ISO-8601 timestamp",
            )
        })
    }
}

/// A field of a partial resource: not sent, sent as `null`, or sent with a value.
///
/// Use on struct fields with `#[serde(default, skip_serializing_if = "Field::is_absent")]`,
/// so that a missing key becomes [`Field::Absent`] and serializing leaves it out again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Field<T> {
    /// The key was not in the JSON object.
    #[default]
    Absent,
    /// The key was there with `null`.
    Null,
    /// The key was there with a value.
    Value(T),
}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    pub fn is_present(&self) -> bool {
        !self.is_absent()
    }

    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Value(value) => Some(value),
            Self::Absent | Self::Null => None,
        }
    }

    /// The value, if any; `Absent` and `Null` both become `None`.
    pub fn into_option(self) -> Option<T> {
        match self {
            Self::Value(value) => Some(value),
            Self::Absent | Self::Null => None,
        }
    }

    pub fn as_ref(&self) -> Field<&T> {
        match self {
            Self::Absent => Field::Absent,
            Self::Null => Field::Null,
            Self::Value(value) => Field::Value(value),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Self::Absent => Field::Absent,
            Self::Null => Field::Null,
            Self::Value(value) => Field::Value(f(value)),
        }
    }
}

impl<T> From<Option<T>> for Field<T> {
    /// `None` becomes `Null` (the key is sent, with no value).
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Self::Value)
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(value) => value.serialize(serializer),
            Self::Absent | Self::Null => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(Self::from)
    }
}

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

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Ok(Self::from(raw.as_str()))
            }
        }
    };
}

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

open_string_enum!(
    /// Kind of chat member.
    MemberType {
        Visitor => "visitor",
        User => "user",
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

/// A member of a chat (giosg-api.md §3.3).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    /// A visitor id or a user id, depending on `member_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_type: Option<MemberType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_public_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_avatar: Option<Avatar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<RoomId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<ChatId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<GiosgTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<GiosgTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_participating: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_present: Option<bool>,
    /// `idle`, `typing`/`composing`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composing_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_count: Option<u64>,
}

impl Membership {
    /// The visitor's id, when this member is a visitor.
    pub fn visitor_id(&self) -> Option<VisitorId> {
        match (&self.member_type, &self.member_id) {
            (Some(MemberType::Visitor), Some(id)) => Some(VisitorId::new(id.clone())),
            _ => None,
        }
    }
}

/// A room as the visitor sees it (endpoint #5).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Room {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<RoomId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
    /// Some agent the visitor can chat with is online. Missing or null counts as offline.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_online: bool,
    /// Giosg's branding for the room; this project passes it through without reading it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<serde_json::Value>,
}

/// An agent online in a room (endpoint #6).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OnlineUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<Avatar>,
}

/// One page of a cursor-paginated Giosg collection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub previous: Option<String>,
    #[serde(default = "Vec::new", deserialize_with = "null_as_default")]
    pub results: Vec<T>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn time_with_z_and_millis_parses() {
        let time: GiosgTime = serde_json::from_value(json!("2015-12-22T11:25:30.595Z")).unwrap();
        let expected = Utc.with_ymd_and_hms(2015, 12, 22, 11, 25, 30).unwrap()
            + chrono::Duration::milliseconds(595);
        assert_eq!(time.as_datetime(), expected);
        assert_eq!(
            serde_json::to_value(time).unwrap(),
            json!("2015-12-22T11:25:30.595Z")
        );
    }

    #[test]
    fn time_without_offset_is_utc() {
        let time: GiosgTime = serde_json::from_value(json!("2015-02-13T11:31:36.042")).unwrap();
        assert_eq!(time.to_string(), "2015-02-13T11:31:36.042Z");
    }

    #[test]
    fn time_without_fraction_parses_in_both_forms() {
        let naive: GiosgTime = "2015-02-13T11:31:36".parse().unwrap();
        let zulu: GiosgTime = "2015-02-13T11:31:36Z".parse().unwrap();
        assert_eq!(naive, zulu);
        assert_eq!(zulu.to_string(), "2015-02-13T11:31:36.000Z");
    }

    #[test]
    fn time_with_offset_is_converted_to_utc() {
        let time: GiosgTime = "2015-12-22T13:25:30.595+02:00".parse().unwrap();
        assert_eq!(time.to_string(), "2015-12-22T11:25:30.595Z");
    }

    #[test]
    fn time_rejects_garbage() {
        assert!("yesterday".parse::<GiosgTime>().is_err());
        assert!(serde_json::from_value::<GiosgTime>(json!("2015-13-45T00:00:00")).is_err());
    }

    #[test]
    fn sortable_form_is_fixed_width_and_ordered() {
        let a: GiosgTime = "2015-12-22T11:25:30Z".parse().unwrap();
        let b: GiosgTime = "2015-12-22T11:25:30.5Z".parse().unwrap();
        let c: GiosgTime = "2015-12-22T11:25:30.595123Z".parse().unwrap();
        assert_eq!(a.sortable(), "2015-12-22T11:25:30.000000Z");
        assert_eq!(c.sortable(), "2015-12-22T11:25:30.595123Z");
        assert_eq!(a.sortable().len(), c.sortable().len());
        assert!(a.sortable() < b.sortable() && b.sortable() < c.sortable());
        assert!(a < b && b < c);
    }

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
        let room: Room =
            serde_json::from_value(json!({"id": "r", "is_online": true, "x": 1})).unwrap();
        assert!(room.is_online);
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
    fn avatar_accepts_a_bare_url_and_null() {
        let user: OnlineUser =
            serde_json::from_value(json!({"id": "u", "avatar": "https://x/y.png"})).unwrap();
        assert_eq!(user.avatar.unwrap().url.as_deref(), Some("https://x/y.png"));
        let user: OnlineUser = serde_json::from_value(json!({"id": "u", "avatar": null})).unwrap();
        assert_eq!(user.avatar, None);
    }

    #[test]
    fn membership_names_its_visitor() {
        let page: Page<Membership> = serde_json::from_value(json!({
            "next": null,
            "results": [
                {"member_id": "u1", "member_type": "user"},
                {"member_id": "0123456789abcdef0123456789abcdef", "member_type": "visitor"}
            ]
        }))
        .unwrap();
        assert_eq!(page.previous, None);
        assert_eq!(page.results[0].visitor_id(), None);
        assert_eq!(
            page.results[1].visitor_id(),
            Some(VisitorId::new("0123456789abcdef0123456789abcdef"))
        );
    }
}

#[cfg(test)]
mod precision_tests {
    use super::*;

    #[test]
    fn sub_millisecond_times_read_back_equal() {
        for raw in [
            "2026-11-24T10:00:00.123Z",
            "2026-11-24T10:00:00.123456Z",
            "2026-11-24T10:00:00.123456789Z",
            "2026-11-24T10:00:00",
        ] {
            let time: GiosgTime = raw.parse().unwrap();
            let again: GiosgTime = time.to_string().parse().unwrap();
            assert_eq!(time, again, "{raw}");
            assert_eq!(time.sortable(), again.sortable());
        }
        let millis: GiosgTime = "2026-11-24T10:00:00.5Z".parse().unwrap();
        assert_eq!(millis.to_string(), "2026-11-24T10:00:00.500Z");
    }
}

#[cfg(test)]
mod lenient_tests {
    use super::*;

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
