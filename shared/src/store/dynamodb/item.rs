//! How records become DynamoDB items and back: the item keys, the `record` and `version`
//! attributes, the index attributes a record carries, its TTL and the read-side expiry check,
//! and the send-key state.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::rate::{ANONYMOUS_PK, RATE_PREFIX, SOURCE_PREFIX};
use super::schema::{
    ACTIVE_AT, ACTIVE_STATE, CHAT_ORDER, COUNTERS_MOVED, EXPIRES_AT, MSG_ORDER, OWNER, PERSON_REF,
    PK, SK,
};
use crate::domain::chat::{Activity, ChatRecord};
use crate::domain::message::MessageRecord;
use crate::domain::visitor::{VisitorKey, VisitorRecord};
use crate::domain::{ChatId, MessageId};
use crate::store::{Claim, ItemKind, SendState, StoreContext, StoreError, StoreResult};

// Beside the keys: the record's serde image and, on chats and messages, its version.
pub(super) const RECORD: &str = "record";
pub(super) const VERSION: &str = "version";
// A send key's item: its state and, by state, since when, whose and for which text, or which
// message.
pub(super) const STATE: &str = "state";
pub(super) const SINCE: &str = "since";
/// Not `owner`: that name is the visitor index's key on chat items.
pub(super) const CLAIMED_BY: &str = "claimed_by";
pub(super) const TEXT_DIGEST: &str = "text_digest";
pub(super) const MESSAGE_ID: &str = "message_id";
pub(super) const IN_FLIGHT: &str = "in_flight";
pub(super) const UNKNOWN: &str = "unknown";
pub(super) const SENT: &str = "sent";

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

/// A record kind stored with a version and a TTL: chats and messages.
pub(super) trait StoredRecord:
    Serialize + DeserializeOwned + PartialEq + Clone + Send + Sync
{
    const KIND: &'static str;

    fn expiry(&self, context: &StoreContext) -> Option<DateTime<Utc>>;

    /// Whether storing `new` over `stored` is a change the sync feed lists (messages only).
    fn feeds(_stored: Option<&Self>, _new: &Self) -> bool {
        false
    }

    /// The record's feed position, and setting it (messages only).
    fn feed_seq(&self) -> Option<u64> {
        None
    }

    fn set_feed_seq(&mut self, _position: u64) {}

    /// The attributes the record's index needs, when it belongs in the index.
    fn index_attributes(&self) -> Vec<(&'static str, AttributeValue)>;
}

impl StoredRecord for ChatRecord {
    const KIND: &'static str = "chat";

    fn expiry(&self, context: &StoreContext) -> Option<DateTime<Utc>> {
        context.expiry(self.is_pending(), self.created_at)
    }

    fn index_attributes(&self) -> Vec<(&'static str, AttributeValue)> {
        let Some(owner) = &self.owner else {
            return Vec::new();
        };
        let created = self
            .created_at
            .map(|created_at| created_at.sortable())
            .unwrap_or_default();
        let mut attributes = vec![
            (OWNER, string(owner.visitor.as_str())),
            (CHAT_ORDER, string(format!("{created}#{}", self.id))),
        ];
        match self.activity() {
            Some(Activity::Open) => {
                attributes.push((ACTIVE_STATE, string(ACTIVE_OPEN)));
                attributes.push((ACTIVE_AT, string(format!("{created}#{}", self.id))));
            }
            Some(Activity::Ended(at)) => {
                let at = at.map(|at| at.sortable()).unwrap_or_default();
                attributes.push((ACTIVE_STATE, string(ACTIVE_ENDED)));
                attributes.push((ACTIVE_AT, string(format!("{at}#{}", self.id))));
            }
            None => {}
        }
        if self.activity().is_some() && self.counters_moved() {
            attributes.push((COUNTERS_MOVED, AttributeValue::Bool(true)));
        }
        attributes
    }
}

impl StoredRecord for MessageRecord {
    const KIND: &'static str = "message";

    fn feeds(stored: Option<&Self>, new: &Self) -> bool {
        crate::domain::feed::changes_feed(stored, new)
    }

    fn feed_seq(&self) -> Option<u64> {
        self.feed_seq
    }

    fn set_feed_seq(&mut self, position: u64) {
        self.feed_seq = Some(position);
    }

    fn expiry(&self, context: &StoreContext) -> Option<DateTime<Utc>> {
        context.expiry(self.is_pending(), self.created_at)
    }

    fn index_attributes(&self) -> Vec<(&'static str, AttributeValue)> {
        self.order_key()
            .map(|key| (MSG_ORDER, string(key.as_str())))
            .into_iter()
            .collect()
    }
}

/// A versioned record as read: the version is kept even when the item has expired (and so
/// reads as absent), because the next write must still be conditioned on it.
pub(super) struct Versioned<R> {
    pub(super) version: Option<u64>,
    pub(super) record: Option<R>,
}

impl<R: StoredRecord> Versioned<R> {
    pub(super) fn decode(item: Option<Item>) -> StoreResult<Self> {
        let Some(item) = item else {
            return Ok(Self {
                version: None,
                record: None,
            });
        };
        let version = item
            .get(VERSION)
            .and_then(|value| value.as_n().ok())
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| corrupt(R::KIND, "has no version"))?;
        let record = if is_expired(&item, R::KIND)? {
            None
        } else {
            Some(decode_record(item, R::KIND)?)
        };
        Ok(Self {
            version: Some(version),
            record,
        })
    }
}

/// The item storing `record`, and the record as it will read back. The two can differ where
/// the serde form is coarser than the value (`GiosgTime` serializes milliseconds, `sortable()`
/// has microseconds), so the index attributes and the returned record are derived from the
/// stored form: cursors made from any returned record then match the index exactly.
pub(super) fn versioned_item<R: StoredRecord>(
    key: &ItemKey,
    record: R,
    version: u64,
    context: &StoreContext,
) -> StoreResult<(Item, R)> {
    let image = encode_record(&record, R::KIND)?;
    let record: R = serde_dynamo::from_attribute_value(image.clone())
        .map_err(|_| corrupt(R::KIND, "does not read back as it was written"))?;
    let mut item = key.attributes();
    item.insert(RECORD.into(), image);
    item.insert(VERSION.into(), number(version));
    for (name, value) in record.index_attributes() {
        item.insert(name.into(), value);
    }
    set_expiry(&mut item, record.expiry(context));
    Ok((item, record))
}

/// The feed entry of a message item being written at `position`: its record and expiry.
pub(super) fn feed_entry_item(chat_pk: &str, position: u64, message_item: &Item) -> Item {
    let mut item = ItemKey::feed_entry(chat_pk, position).attributes();
    for name in [RECORD, EXPIRES_AT] {
        if let Some(value) = message_item.get(name) {
            item.insert(name.into(), value.clone());
        }
    }
    item
}

/// The visitor's item: its record, its key in the `visitor-refs` index when it has one, and
/// its expiry.
pub(super) fn visitor_item(
    visitor: &VisitorRecord,
    expires_at: Option<DateTime<Utc>>,
) -> StoreResult<Item> {
    let mut item = ItemKey::visitor(&visitor.key).attributes();
    item.insert(RECORD.into(), encode_record(visitor, "visitor")?);
    if let Some(person) = visitor.person_key() {
        item.insert(PERSON_REF.into(), string(person.as_str()));
    }
    set_expiry(&mut item, expires_at);
    Ok(item)
}

/// A visitor as read: absent when there is none or its TTL has passed.
pub(super) fn decode_visitor(item: Option<Item>) -> StoreResult<Option<VisitorRecord>> {
    match item {
        Some(item) if !is_expired(&item, "visitor")? => decode_record(item, "visitor").map(Some),
        _ => Ok(None),
    }
}

/// Sets the item's TTL attribute (nothing when it never expires).
pub(super) fn set_expiry(item: &mut Item, expires_at: Option<DateTime<Utc>>) {
    if let Some(expires_at) = expires_at {
        item.insert(EXPIRES_AT.into(), number(expires_at.timestamp()));
    }
}

pub(super) fn encode_record<R: Serialize>(record: &R, kind: &str) -> StoreResult<AttributeValue> {
    serde_dynamo::to_attribute_value(record)
        .map_err(|_| corrupt(kind, "could not be encoded for DynamoDB"))
}

/// Takes the item: its `record` map is moved into the decoder, not deep-copied first (a copy of
/// every message's attribute tree on each history page).
pub(super) fn decode_record<R: DeserializeOwned>(mut item: Item, kind: &str) -> StoreResult<R> {
    let value = item
        .remove(RECORD)
        .ok_or_else(|| corrupt(kind, "has no record"))?;
    // serde's message may quote the offending value; it is not worth leaking into a log.
    serde_dynamo::from_attribute_value(value)
        .map_err(|_| corrupt(kind, "does not match the record type"))
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

pub(super) fn decode_send_state(item: &Item) -> StoreResult<SendState> {
    let text = |name| item.get(name).and_then(|value| value.as_s().ok());
    let claimed = || -> StoreResult<(DateTime<Utc>, Claim)> {
        let since = text(SINCE)
            .and_then(|since| DateTime::parse_from_rfc3339(since).ok())
            .ok_or_else(|| corrupt("send key", "has an unreadable time"))?;
        let claim = Claim {
            owner: text(CLAIMED_BY).cloned().unwrap_or_default(),
            text_digest: text(TEXT_DIGEST).cloned().unwrap_or_default(),
        };
        Ok((since.with_timezone(&Utc), claim))
    };
    match text(STATE).map(String::as_str) {
        Some(IN_FLIGHT) => {
            let (since, claim) = claimed()?;
            Ok(SendState::InFlight { since, claim })
        }
        Some(UNKNOWN) => {
            let (since, claim) = claimed()?;
            Ok(SendState::Unknown { since, claim })
        }
        Some(SENT) => {
            let message_id =
                text(MESSAGE_ID).ok_or_else(|| corrupt("send key", "has no message id"))?;
            Ok(SendState::Sent {
                message_id: MessageId::new(message_id.as_str()),
            })
        }
        _ => Err(corrupt("send key", "has an unknown state")),
    }
}

/// A send key's item in flight for `claim`, claimed now.
pub(super) fn in_flight_item(
    key: &ItemKey,
    claim: &Claim,
    expires_at: Option<DateTime<Utc>>,
) -> Item {
    let mut item = key.attributes();
    item.insert(STATE.into(), string(IN_FLIGHT));
    item.insert(SINCE.into(), string(fixed_width_time(Utc::now())));
    item.insert(CLAIMED_BY.into(), string(&claim.owner));
    item.insert(TEXT_DIGEST.into(), string(&claim.text_digest));
    set_expiry(&mut item, expires_at);
    item
}

/// RFC 3339 with nanoseconds, always the same width, so that string order is time order.
pub(super) fn fixed_width_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn corrupt(kind: &str, problem: &str) -> StoreError {
    StoreError::Corrupt(format!("a stored {kind} item {problem}"))
}

pub(super) fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
