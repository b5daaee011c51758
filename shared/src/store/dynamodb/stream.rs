//! The table's DynamoDB stream, as the notifier reads it (the Lambda event of a stream batch,
//! `NEW_AND_OLD_IMAGES`): which chats' sync feeds moved and which chats changed.
//!
//! - an `INSERT` or `MODIFY` of a feed entry (`sk` = `FEED#<position>`): its chat's feed moved;
//! - a `MODIFY` of a chat (`sk` = `CHAT`) whose visible state changed (what a frontend sees of
//!   it, or its removal; an image that cannot be read counts as a change): the chat changed;
//! - anything else (messages, subscriptions, connections, removals, a chat's first write) is
//!   none of the notifier's business.
//!
//! The template's filter already keeps all but feed entries and chats away; this reading does
//! not rely on it.

use std::collections::HashMap;

use serde::Deserialize;
use serde_dynamo::AttributeValue;
use serde_json::Value;

use super::item::FEED_ENTRY_PREFIX;
use super::records::RECORD;
use super::schema::{PK, SK};
use crate::domain::ChatId;
use crate::domain::chat::ChatRecord;

/// What one stream record tells the notifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamChange {
    /// The chat's sync feed has a new entry.
    Feed(ChatId),
    /// The chat's visible state changed.
    Chat(ChatId),
}

/// A stream batch, read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamBatch {
    pub records: usize,
    pub changes: Vec<StreamChange>,
    /// Records that are not DynamoDB stream records of this table's shape (skipped: a batch
    /// that can never be read must not block the stream).
    pub unreadable: usize,
}

/// Why a payload is not a stream batch at all.
#[derive(Debug, thiserror::Error)]
#[error("not a DynamoDB stream batch: {0}")]
pub struct NotAStreamBatch(String);

type Image = HashMap<String, AttributeValue>;

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "eventName")]
    event_name: String,
    dynamodb: StreamRecord,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamRecord {
    keys: Image,
    #[serde(default)]
    new_image: Option<Image>,
    #[serde(default)]
    old_image: Option<Image>,
}

/// Reads a stream batch from the Lambda event's JSON.
pub fn read_stream_batch(payload: &Value) -> Result<StreamBatch, NotAStreamBatch> {
    let records = payload
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| NotAStreamBatch("no Records list".into()))?;
    let mut read = StreamBatch {
        records: records.len(),
        ..StreamBatch::default()
    };
    for record in records {
        match Record::deserialize(record) {
            Ok(record) => read.changes.extend(change_of(&record)),
            Err(_) => read.unreadable += 1,
        }
    }
    Ok(read)
}

fn text<'a>(image: &'a Image, name: &str) -> Option<&'a str> {
    match image.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

fn change_of(record: &Record) -> Option<StreamChange> {
    let keys = &record.dynamodb.keys;
    let chat = ChatId::new(text(keys, PK)?.strip_prefix("CHAT#")?);
    let sort_key = text(keys, SK)?;
    let event = record.event_name.as_str();
    if sort_key.starts_with(FEED_ENTRY_PREFIX) && matches!(event, "INSERT" | "MODIFY") {
        return Some(StreamChange::Feed(chat));
    }
    if sort_key == "CHAT" && event == "MODIFY" && visibly_changed(&record.dynamodb) {
        return Some(StreamChange::Chat(chat));
    }
    None
}

/// Whether a chat's write changed what its visitor sees: its view, or its removal.
fn visibly_changed(record: &StreamRecord) -> bool {
    let seen = |image: &Option<Image>| {
        let record = image.as_ref()?.get(RECORD)?.clone();
        let chat: ChatRecord = serde_dynamo::from_attribute_value(record).ok()?;
        Some((chat.view(), chat.removed.is_set()))
    };
    match (seen(&record.old_image), seen(&record.new_image)) {
        (Some(old), Some(new)) => old != new,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::chat::ChatOwner;
    use crate::domain::visitor::VisitorKey;

    fn chat_image(chat: &ChatRecord) -> Value {
        let record: AttributeValue = serde_dynamo::to_attribute_value(chat).unwrap();
        json!({"pk": {"S": format!("CHAT#{}", chat.id)}, "sk": {"S": "CHAT"},
               "record": serde_json::to_value(record).unwrap(), "version": {"N": "3"}})
    }

    fn record(event: &str, pk: &str, sk: &str, old: Option<Value>, new: Option<Value>) -> Value {
        let mut dynamodb = json!({"ApproximateCreationDateTime": 1764496800,
            "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
            "SequenceNumber": "100", "SizeBytes": 120, "StreamViewType": "NEW_AND_OLD_IMAGES"});
        if let Some(old) = old {
            dynamodb["OldImage"] = old;
        }
        if let Some(new) = new {
            dynamodb["NewImage"] = new;
        }
        json!({"eventID": "1", "eventName": event, "eventVersion": "1.1",
               "eventSource": "aws:dynamodb", "awsRegion": "eu-west-1", "dynamodb": dynamodb,
               "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/x"})
    }

    fn open_chat(id: &str) -> ChatRecord {
        let mut chat = ChatRecord::new(ChatId::new(id));
        chat.room_id = Some(crate::domain::RoomId::new("room"));
        chat.owner = Some(ChatOwner {
            visitor: VisitorKey::from_stored("v".repeat(64)),
            visitor_name: "Ada".into(),
        });
        chat
    }

    #[test]
    fn feed_entries_and_visible_chat_changes_are_read_and_the_rest_ignored() {
        let chat = open_chat("c1");
        let mut counted = chat.clone();
        counted.counters_checked = Some(crate::domain::counters::Counters::default());
        let mut ended = chat.clone();
        ended.is_ended.set();
        let feed_item = json!({"pk": {"S": "CHAT#c1"}, "sk": {"S": "FEED#00000000000000000007"}});
        let batch = json!({"Records": [
            record("INSERT", "CHAT#c1", "FEED#00000000000000000007", None, Some(feed_item.clone())),
            record("REMOVE", "CHAT#c1", "FEED#00000000000000000006", Some(feed_item), None),
            record("MODIFY", "CHAT#c2", "CHAT", Some(chat_image(&chat)), Some(chat_image(&ended))),
            record("MODIFY", "CHAT#c3", "CHAT", Some(chat_image(&chat)), Some(chat_image(&counted))),
            record("INSERT", "CHAT#c4", "CHAT", None, Some(chat_image(&chat))),
            record("MODIFY", "CHAT#c5", "MSG#m1", None, None),
            record("MODIFY", "CHAT#c6", "SUB#conn", None, None),
            record("MODIFY", "CHAT#c7", "FEED", None, None),
            record("INSERT", "CONN#x", "CONN", None, None),
            record("MODIFY", "CHAT#c8", "CHAT", Some(json!({"record": {"S": "?"}})), None),
            json!({"eventName": "INSERT"}),
        ]});
        let read = read_stream_batch(&batch).unwrap();
        assert_eq!(
            read.changes,
            [
                StreamChange::Feed(ChatId::new("c1")),
                StreamChange::Chat(ChatId::new("c2")),
                StreamChange::Chat(ChatId::new("c8")),
            ]
        );
        assert_eq!((read.records, read.unreadable), (11, 1));
    }

    #[test]
    fn a_payload_that_is_no_batch_is_refused() {
        for payload in [json!({}), json!({"Records": {}}), json!("batch")] {
            assert!(read_stream_batch(&payload).is_err(), "{payload}");
        }
        assert_eq!(
            read_stream_batch(&json!({"Records": []})).unwrap(),
            StreamBatch::default()
        );
    }
}
