//! Giosg wire types that only the Giosg adapter reads: memberships, rooms, online users and
//! pages of collections (giosg-api.md §3). Chats and messages are domain resources
//! ([`crate::domain::ChatResource`], [`crate::domain::MessageResource`]).

use serde::{Deserialize, Serialize};

use crate::domain::resource::{null_as_default, open_string_enum};
use crate::domain::{Avatar, ChatId, GiosgTime, RoomId, UserId, VisitorId};

open_string_enum!(
    /// Kind of chat member.
    MemberType {
        Visitor => "visitor",
        User => "user",
    }
);

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

/// A whole paginated collection, and how many pages (calls) it took.
#[derive(Clone, Debug, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub pages: usize,
}

/// One page of a cursor-paginated Giosg collection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: serde::de::DeserializeOwned"))]
pub struct Page<T> {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub previous: Option<String>,
    /// Each item read by the tolerant reader: an item's unreadable field is left out, an item
    /// that cannot be read at all is skipped, both with a warning; never the whole page.
    #[serde(default = "Vec::new", deserialize_with = "tolerant_items")]
    pub results: Vec<T>,
}

fn tolerant_items<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let items: Vec<serde_json::Value> = null_as_default(deserializer)?;
    let mut read = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match crate::domain::tolerant::read::<T>(item) {
            Ok(item) => {
                crate::metrics::fields_dropped(
                    crate::metrics::FieldSource::Giosg,
                    item.dropped.len(),
                );
                if !item.dropped.is_empty() {
                    tracing::warn!(index, dropped_fields = ?item.dropped, "Giosg page item: unreadable fields left out");
                }
                read.push(item.value);
            }
            Err(error) => tracing::warn!(index, %error, "Giosg page item skipped: unreadable"),
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[test]
    fn unknown_room_fields_are_ignored() {
        let room: Room =
            serde_json::from_value(json!({"id": "r", "is_online": true, "x": 1})).unwrap();
        assert!(room.is_online);
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
