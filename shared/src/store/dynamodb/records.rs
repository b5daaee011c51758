//! How records become DynamoDB items and back: the `record` and `version` attributes, the index
//! attributes a record carries and its expiry; the feed entry and the visitor item made from
//! them.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::item::{
    ACTIVE_ENDED, ACTIVE_OPEN, Item, ItemKey, corrupt, is_expired, number, set_expiry, string,
};
use super::schema::{
    ACTIVE_AT, ACTIVE_STATE, CHAT_ORDER, COUNTERS_MOVED, EXPIRES_AT, MSG_ORDER, OWNER, PERSON_REF,
};
use crate::domain::chat::{Activity, ChatRecord};
use crate::domain::message::MessageRecord;
use crate::domain::visitor::VisitorRecord;
use crate::store::{StoreContext, StoreResult};

// Beside the keys: the record's serde image and, on chats and messages, its version.
pub(super) const RECORD: &str = "record";
pub(super) const VERSION: &str = "version";

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
