//! Keeping a [`MemoryStore`] in a file: [`MemoryStore::snapshot`] copies out what it holds as
//! plain serializable records, [`MemoryStore::from_snapshot`] builds a store from them, and
//! [`MemoryStore::revision`] tells the local runner's saver when there is something new to save.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Expiring, MemoryStore, State};
use crate::domain::ChatId;
use crate::domain::chat::ChatRecord;
use crate::domain::message::MessageRecord;
use crate::domain::visitor::VisitorRecord;
use crate::store::SendState;

impl MemoryStore {
    /// A number that changes after every operation that may have written (it may also change
    /// when nothing did). Cheap: a saver polls it and takes a [`Snapshot`] only when it moved.
    pub fn revision(&self) -> u64 {
        self.lock().revision
    }

    /// A copy of everything stored that has not expired, for saving.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        let now = Utc::now();
        let live = |expires_at: Option<DateTime<Utc>>| expires_at.is_none_or(|at| at > now);
        let mut snapshot = Snapshot {
            visitors: state
                .visitors
                .values()
                .filter(|visitor| live(visitor.expires_at))
                .map(|visitor| SnapshotVisitor {
                    record: visitor.record.clone(),
                    expires_at: visitor.expires_at,
                })
                .collect(),
            chats: state
                .chats
                .values()
                .filter(|chat| live(chat.expires_at))
                .map(|chat| SnapshotItem {
                    record: chat.record.clone(),
                    expires_at: chat.expires_at,
                })
                .collect(),
            messages: state
                .messages
                .values()
                .flat_map(|messages| messages.by_id.values())
                .filter(|message| live(message.expires_at))
                .map(|message| SnapshotItem {
                    record: message.record.clone(),
                    expires_at: message.expires_at,
                })
                .collect(),
            send_keys: state
                .send_keys
                .iter()
                .filter(|(_, held)| live(held.expires_at))
                .map(|((chat_id, key), held)| SnapshotSendKey {
                    chat_id: chat_id.clone(),
                    key: key.clone(),
                    state: held.record.clone(),
                    expires_at: held.expires_at,
                })
                .collect(),
        };
        // A stable order, so that saving the same contents twice writes the same file.
        snapshot
            .visitors
            .sort_by(|a, b| a.record.key.cmp(&b.record.key));
        snapshot.chats.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        snapshot.messages.sort_by(|a, b| {
            (&a.record.chat_id, &a.record.id).cmp(&(&b.record.chat_id, &b.record.id))
        });
        snapshot
            .send_keys
            .sort_by(|a, b| (&a.chat_id, &a.key).cmp(&(&b.chat_id, &b.key)));
        snapshot
    }

    /// A store holding what `snapshot` holds (expired items are left out).
    pub fn from_snapshot(snapshot: Snapshot) -> Self {
        let now = Utc::now();
        let live = |expires_at: Option<DateTime<Utc>>| expires_at.is_none_or(|at| at > now);
        let mut state = State::default();
        for visitor in snapshot.visitors.into_iter().filter(|v| live(v.expires_at)) {
            state.put_visitor(&visitor.record, visitor.expires_at);
        }
        for chat in snapshot.chats.into_iter().filter(|c| live(c.expires_at)) {
            state.chats.insert(
                chat.record.id.clone(),
                Expiring {
                    record: chat.record,
                    expires_at: chat.expires_at,
                },
            );
        }
        for message in snapshot.messages.into_iter().filter(|m| live(m.expires_at)) {
            state
                .messages
                .entry(message.record.chat_id.clone())
                .or_default()
                .restore(message.record, message.expires_at);
        }
        for send_key in snapshot
            .send_keys
            .into_iter()
            .filter(|k| live(k.expires_at))
        {
            state.send_keys.insert(
                (send_key.chat_id, send_key.key),
                Expiring {
                    record: send_key.state,
                    expires_at: send_key.expires_at,
                },
            );
        }
        Self {
            state: Mutex::new(state),
        }
    }
}

/// Everything a [`MemoryStore`] holds, as plain serializable records (the same records the
/// DynamoDB adapter stores), for keeping the store in a file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(default)]
    visitors: Vec<SnapshotVisitor>,
    #[serde(default)]
    chats: Vec<SnapshotItem<ChatRecord>>,
    #[serde(default)]
    messages: Vec<SnapshotItem<MessageRecord>>,
    #[serde(default)]
    send_keys: Vec<SnapshotSendKey>,
}

impl Snapshot {
    /// The chats in the snapshot.
    pub fn chats(&self) -> impl Iterator<Item = &ChatRecord> {
        self.chats.iter().map(|chat| &chat.record)
    }

    /// How many messages the snapshot holds.
    pub fn message_count(&self) -> usize {
        self.messages.len()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SnapshotItem<T> {
    record: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
}

/// A visitor: its record, and beside it (so that files saved before visitors expired still
/// read) its expiry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SnapshotVisitor {
    #[serde(flatten)]
    record: VisitorRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SnapshotSendKey {
    chat_id: ChatId,
    key: String,
    state: SendState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::domain::EventAction;
    use crate::domain::MessageId;
    use crate::domain::chat::ChatEvent;
    use crate::domain::chat::ChatOwner;
    use crate::domain::cursor::PageRequest;
    use crate::domain::message::MessageEvent;
    use crate::domain::visitor::SealedCredentials;
    use crate::domain::visitor::VisitorKey;
    use crate::domain::{
        ChatResource, Field, GiosgTime, MessageResource, MessageType, RoomId, SenderType, VisitorId,
    };
    use crate::store::{ChatStore, Claim, Reservation, StoreContext};

    const ROOM: &str = "room";

    fn at(seconds: i64) -> GiosgTime {
        GiosgTime::from(DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap())
    }

    /// A store with a visitor, its chat, two messages and a used idempotency key.
    async fn filled_store() -> (MemoryStore, VisitorKey, ChatId) {
        let store = MemoryStore::new();
        let context = StoreContext::new(RoomId::new(ROOM));
        let key = VisitorKey::from_stored("visitor-key".to_owned());
        let chat = ChatId::new("chat-1");
        store
            .put_visitor(
                &VisitorRecord {
                    key: key.clone(),
                    giosg_visitor_id: VisitorId::new("giosg-visitor"),
                    credentials: SealedCredentials::from_stored("sealed".to_owned()),
                    name: "Ada".to_owned(),
                    latest_chat_id: Some(chat.clone()),
                    created_at: Utc::now(),
                    visitor_ref: None,
                    identity: None,
                },
                &context,
            )
            .await
            .unwrap();
        let chat_event = ChatEvent {
            action: EventAction::Added,
            resource: Some(ChatResource {
                id: Some(chat.clone()),
                room_id: Field::Value(RoomId::new(ROOM)),
                created_at: Field::Value(at(0)),
                updated_at: Field::Value(at(0)),
                is_ended: Field::Value(false),
                ..ChatResource::default()
            }),
            owner: Some(ChatOwner {
                visitor: key.clone(),
                visitor_name: "Ada".to_owned(),
            }),
        };
        store
            .apply_chat_event(&chat, &chat_event, &context)
            .await
            .unwrap();
        for (n, text) in ["Hello", "Anyone there?"].into_iter().enumerate() {
            let id = MessageId::new(format!("message-{n}"));
            let event = MessageEvent {
                action: EventAction::Added,
                resource: Some(MessageResource {
                    id: Some(id.clone()),
                    message_type: Field::Value(MessageType::Msg),
                    chat_id: Field::Value(chat.clone()),
                    room_id: Field::Value(RoomId::new(ROOM)),
                    created_at: Field::Value(at(n as i64 + 1)),
                    sender_type: Field::Value(SenderType::Visitor),
                    message: Field::Value(text.to_owned()),
                    ..MessageResource::default()
                }),
                client_message_id: None,
            };
            store
                .apply_message_event(&chat, &id, &event, &context)
                .await
                .unwrap();
        }
        store
            .reserve_send(
                &chat,
                "client-key",
                &snapshot_claim("snapshot-request"),
                &context,
            )
            .await
            .unwrap();
        (store, key, chat)
    }

    fn snapshot_claim(owner: &str) -> Claim {
        Claim {
            owner: owner.to_owned(),
            text_digest: "digest".to_owned(),
        }
    }

    #[tokio::test]
    async fn a_snapshot_restores_the_same_contents_through_json() {
        let (store, key, chat) = filled_store().await;
        let snapshot = store.snapshot();
        let json = serde_json::to_string(&snapshot).unwrap();
        let restored = MemoryStore::from_snapshot(serde_json::from_str(&json).unwrap());
        assert_eq!(restored.snapshot(), snapshot);
        assert_eq!(snapshot.chats().count(), 1);
        assert_eq!(snapshot.message_count(), 2);

        assert!(restored.get_visitor(&key).await.unwrap().is_some());
        assert_eq!(restored.visitor_chats(&key).await.unwrap().len(), 1);
        let page = restored
            .history_page(&chat, &PageRequest::Latest { limit: 50 })
            .await
            .unwrap();
        let ids: Vec<&str> = page.messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["message-0", "message-1"]);
        assert!(matches!(
            restored
                .reserve_send(
                    &chat,
                    "client-key",
                    &snapshot_claim("another-request"),
                    &StoreContext::new(RoomId::new(ROOM)),
                )
                .await
                .unwrap(),
            Reservation::Taken(SendState::InFlight { claim, .. }) if claim.owner == "snapshot-request"
        ));
    }

    #[tokio::test]
    async fn the_revision_moves_on_writes_and_not_on_reads() {
        let (store, key, chat) = filled_store().await;
        let before = store.revision();
        store.get_visitor(&key).await.unwrap();
        store.get_chat(&chat).await.unwrap();
        store.snapshot();
        assert_eq!(store.revision(), before);
        store
            .release_send(&chat, "client-key", "snapshot-request")
            .await
            .unwrap();
        assert_ne!(store.revision(), before);
    }
}
