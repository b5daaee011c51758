//! Items and their keys: the key layout of every kind of item ([`ItemKey`], [`item_kind`]), the
//! attribute values, the TTL attribute and the read-side expiry check. How records are encoded
//! in items is in `records.rs`, a send key's state in `claims.rs`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::schema::{EXPIRES_AT, PK, SK};
use crate::domain::visitor::VisitorKey;
use crate::domain::{ChatId, MessageId};
use crate::store::{ItemKind, StoreError, StoreResult};

pub(super) type Item = HashMap<String, AttributeValue>;

/// The `active_state` of an open chat, and of an ended one.
pub(super) const ACTIVE_OPEN: &str = "open";
pub(super) const ACTIVE_ENDED: &str = "ended";
/// Where the reconciler's sweep stopped: the chat id it last finished.
pub(super) const AFTER: &str = "after";

/// The sort key of a subscription item starts with this, then the connection id.
pub(super) const SUBSCRIPTION_PREFIX: &str = "SUB#";

/// The sort key of a chat's feed position item, and the prefix of its feed entries'.
pub(super) const FEED_POSITION_SK: &str = "FEED";
pub(super) const FEED_ENTRY_PREFIX: &str = "FEED#";
/// The feed position item's number.
pub(super) const POSITION: &str = "position";

/// The sort key of a send key's item starts with this, then the key.
pub(super) const SEND_KEY_PREFIX: &str = "SENDKEY#";

/// A connection's partition key, and the sort key of its note in the visitor's partition,
/// start with this, then the connection id.
pub(super) const CONNECTION_PREFIX: &str = "CONN#";
/// The sort key of a visitor's start claim.
pub(super) const START_CLAIM_SK: &str = "STARTCLAIM";
/// The sort keys of a visitor and of a chat, and the prefixes of their partition keys.
pub(super) const VISITOR_SK: &str = "VISITOR";
pub(super) const VISITOR_PREFIX: &str = "VISITOR#";
pub(super) const CHAT_SK: &str = "CHAT";
pub(super) const CHAT_PREFIX: &str = "CHAT#";
/// The sort key of a message starts with this, then its id.
pub(super) const MESSAGE_PREFIX: &str = "MSG#";
/// The sort key of a chat's away-notification position, and the prefix of its messages'
/// notification claims.
pub(super) const NOTIFY_SK: &str = "NOTIFY";
pub(super) const NOTIFIED_PREFIX: &str = "NOTIFIED#";
/// The sort key of a token bucket starts with this, then what it limits; anonymous starts'
/// buckets have partitions of their own (`rate.rs`).
pub(super) const RATE_PREFIX: &str = "RATE#";
pub(super) const SOURCE_PREFIX: &str = "SOURCE#";
pub(super) const ANONYMOUS_PK: &str = "RATE";

/// The primary key of one item.
#[derive(Clone, Debug)]
pub(super) struct ItemKey {
    pub(super) pk: String,
    sk: String,
}

impl ItemKey {
    pub(super) fn new(pk: String, sk: String) -> Self {
        Self { pk, sk }
    }

    /// Where the reconciler's sweep stopped.
    pub(super) fn reconcile_cursor() -> Self {
        Self {
            pk: "RECONCILE".into(),
            sk: "CURSOR".into(),
        }
    }

    /// The visitor's start slot: who is starting a chat for it right now.
    pub(super) fn start_claim(key: &VisitorKey) -> Self {
        Self {
            pk: format!("{VISITOR_PREFIX}{}", key.as_str()),
            sk: START_CLAIM_SK.into(),
        }
    }

    /// A real-time feed connection of the visitor, noted in the visitor's partition (so that
    /// erasing the visitor finds its connections; it expires with the connection).
    pub(super) fn visitor_connection(key: &VisitorKey, connection: &str) -> Self {
        Self {
            pk: format!("{VISITOR_PREFIX}{}", key.as_str()),
            sk: format!("{CONNECTION_PREFIX}{connection}"),
        }
    }

    pub(super) fn visitor(key: &VisitorKey) -> Self {
        Self {
            pk: format!("{VISITOR_PREFIX}{}", key.as_str()),
            sk: VISITOR_SK.into(),
        }
    }

    pub(super) fn chat(id: &ChatId) -> Self {
        Self {
            pk: format!("{CHAT_PREFIX}{id}"),
            sk: CHAT_SK.into(),
        }
    }

    pub(super) fn message(chat: &ChatId, id: &MessageId) -> Self {
        Self {
            pk: format!("{CHAT_PREFIX}{chat}"),
            sk: format!("{MESSAGE_PREFIX}{id}"),
        }
    }

    /// The chat partition's sync feed position (the last one handed out).
    pub(super) fn feed_position(chat_pk: &str) -> Self {
        Self {
            pk: chat_pk.to_owned(),
            sk: FEED_POSITION_SK.into(),
        }
    }

    /// The chat partition's feed entry at `position` (fixed width, so string order is number
    /// order).
    pub(super) fn feed_entry(chat_pk: &str, position: u64) -> Self {
        Self {
            pk: chat_pk.to_owned(),
            sk: format!("{FEED_ENTRY_PREFIX}{position:020}"),
        }
    }

    /// A real-time feed connection.
    pub(super) fn connection(id: &str) -> Self {
        Self {
            pk: format!("{CONNECTION_PREFIX}{id}"),
            sk: "CONN".into(),
        }
    }

    /// A connection's subscription to a chat, in the chat's partition.
    pub(super) fn subscription(chat: &ChatId, connection: &str) -> Self {
        Self {
            pk: format!("{CHAT_PREFIX}{chat}"),
            sk: format!("{SUBSCRIPTION_PREFIX}{connection}"),
        }
    }

    /// How far the chat's away notifications were considered.
    pub(super) fn notify_position(chat: &ChatId) -> Self {
        Self {
            pk: format!("{CHAT_PREFIX}{chat}"),
            sk: NOTIFY_SK.into(),
        }
    }

    /// The claim of a message's one away notification.
    pub(super) fn notified(chat: &ChatId, message: &MessageId) -> Self {
        Self {
            pk: format!("{CHAT_PREFIX}{chat}"),
            sk: format!("{NOTIFIED_PREFIX}{message}"),
        }
    }

    pub(super) fn send_key(chat: &ChatId, idempotency_key: &str) -> Self {
        Self {
            pk: format!("{CHAT_PREFIX}{chat}"),
            sk: format!("{SEND_KEY_PREFIX}{idempotency_key}"),
        }
    }

    pub(super) fn sort_key(&self) -> &str {
        &self.sk
    }

    /// The key of a raw item.
    pub(super) fn of(item: &Item) -> Option<Self> {
        let text = |name| item.get(name).and_then(|value| value.as_s().ok()).cloned();
        Some(Self {
            pk: text(PK)?,
            sk: text(SK)?,
        })
    }

    pub(super) fn attributes(&self) -> Item {
        HashMap::from([
            (PK.to_owned(), string(&self.pk)),
            (SK.to_owned(), string(&self.sk)),
        ])
    }

    pub(super) fn is_key_of(&self, item: &Item) -> bool {
        let text = |name| item.get(name).and_then(|value| value.as_s().ok());
        text(PK) == Some(&self.pk) && text(SK) == Some(&self.sk)
    }
}

/// What an item is, by its keys (the table layout in the module documentation); `None` for a
/// key this adapter never writes.
pub fn item_kind(pk: &str, sk: &str) -> Option<ItemKind> {
    if sk.starts_with(RATE_PREFIX)
        && (pk.starts_with(VISITOR_PREFIX) || pk.starts_with(SOURCE_PREFIX) || pk == ANONYMOUS_PK)
    {
        return Some(ItemKind::RateBucket);
    }
    if pk.starts_with(CHAT_PREFIX) {
        return Some(if sk == CHAT_SK {
            ItemKind::Chat
        } else if sk == FEED_POSITION_SK {
            ItemKind::FeedPosition
        } else if sk == NOTIFY_SK {
            ItemKind::NotifyPosition
        } else if sk.starts_with(MESSAGE_PREFIX) {
            ItemKind::Message
        } else if sk.starts_with(FEED_ENTRY_PREFIX) {
            ItemKind::FeedEntry
        } else if sk.starts_with(SEND_KEY_PREFIX) {
            ItemKind::SendKey
        } else if sk.starts_with(NOTIFIED_PREFIX) {
            ItemKind::Notification
        } else if sk.starts_with(SUBSCRIPTION_PREFIX) {
            ItemKind::Subscription
        } else {
            return None;
        });
    }
    if pk.starts_with(VISITOR_PREFIX) {
        return Some(if sk == VISITOR_SK {
            ItemKind::Visitor
        } else if sk == START_CLAIM_SK {
            ItemKind::StartClaim
        } else if sk.starts_with(CONNECTION_PREFIX) {
            ItemKind::ConnectionNote
        } else {
            return None;
        });
    }
    if pk.starts_with(CONNECTION_PREFIX) {
        return Some(ItemKind::Connection);
    }
    let cursor = ItemKey::reconcile_cursor();
    (pk == cursor.pk && sk == cursor.sk).then_some(ItemKind::ReconcileCursor)
}

/// Sets the item's TTL attribute (nothing when it never expires).
pub(super) fn set_expiry(item: &mut Item, expires_at: Option<DateTime<Utc>>) {
    if let Some(expires_at) = expires_at {
        item.insert(EXPIRES_AT.into(), number(expires_at.timestamp()));
    }
}

/// Whether DynamoDB's TTL has passed for an item it has not swept yet.
pub(super) fn is_expired(item: &Item, kind: &str) -> StoreResult<bool> {
    let Some(value) = item.get(EXPIRES_AT) else {
        return Ok(false);
    };
    let expires_at: i64 = value
        .as_n()
        .ok()
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| corrupt(kind, "has an unreadable expiry"))?;
    Ok(expires_at <= Utc::now().timestamp())
}

pub(super) fn corrupt(kind: &str, problem: &str) -> StoreError {
    StoreError::Corrupt(format!("a stored {kind} item {problem}"))
}

pub(super) fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
