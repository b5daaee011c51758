//! The generator and the observation used by the convergence property tests.

use std::collections::BTreeSet;

use giosg_sim::{MessageChatId, TimestampFormat, TimestampPrecision};
use proptest::prelude::*;
use serde_json::{Value, json};
use shared::domain::chat::ChatRecord;
use shared::domain::cursor::PageRequest;
use shared::domain::message::{Message, MessageRecord};
use shared::domain::visitor::VisitorKey;
use shared::domain::webhook::{parse_chat_webhook, parse_message_webhook};
use shared::domain::{ChatId, MessageId, RoomId};
use shared::store::{ChatStore, StoreContext};

pub const ORG: &str = "0f1e2d3c-0000-4000-8000-000000000001";
pub const ROOM: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
pub const OTHER_ROOM: &str = "bbbbbbbb-0000-4000-8000-00000000000b";

/// One webhook delivery: which endpoint and the exact body Giosg would post.
#[derive(Clone, Debug)]
pub enum Delivery {
    Chat(Value),
    Message(Value),
}

/// How the generated deliveries are written: Giosg's wire habits as the simulator profile of
/// this run (`GIOSG_SIM_PROFILE`) has them, so the property holds for the contrary guesses too.
#[derive(Clone, Copy, Debug)]
pub struct WireShape {
    /// Message resources carry `room_id` (the contrary profile leaves it out).
    message_room_id: bool,
    /// `changed` and `removed` message resources carry `chat_id` too.
    chat_id_always: bool,
    /// `changed` resources carry `id`.
    changed_includes_id: bool,
    /// Timestamps: with or without `Z`, or alternating.
    format: TimestampFormat,
    /// Six fractional digits instead of three.
    micros: bool,
    /// Rule messages (`autosuggest`, `action`, `system`, sender `rule`) are generated too.
    extra_types: bool,
}

impl WireShape {
    pub fn of_profile() -> Self {
        let behaviour = giosg_sim::Profile::from_env()
            .expect("GIOSG_SIM_PROFILE names a simulator profile")
            .behaviour();
        Self {
            message_room_id: behaviour.message_room_id,
            chat_id_always: behaviour.message_chat_id == MessageChatId::Always,
            changed_includes_id: behaviour.changed_includes_id,
            format: behaviour.timestamp_format,
            micros: behaviour.timestamp_precision == TimestampPrecision::Micros,
            extra_types: behaviour.extra_message_types,
        }
    }

    /// The time `second` seconds into the test day, in this shape (mixed forms alternate by
    /// second, so one chat's stream carries both).
    fn time(&self, second: u32) -> String {
        let fraction = if self.micros { "000417" } else { "000" };
        let offset = match self.format {
            TimestampFormat::Z => "Z",
            TimestampFormat::NoOffset => "",
            TimestampFormat::Mixed if second.is_multiple_of(2) => "Z",
            TimestampFormat::Mixed => "",
        };
        format!(
            "2026-11-24T10:{:02}:{:02}.{fraction}{offset}",
            second / 60,
            second % 60
        )
    }

    fn message_kinds(&self) -> &'static [&'static str] {
        if self.extra_types {
            &["msg", "join", "leave", "autosuggest", "action", "system"]
        } else {
            &["msg", "join", "leave", "autosuggest"]
        }
    }

    fn sender(&self, plan: &MessagePlan) -> &'static str {
        match (plan.sender_is_visitor, self.extra_types && plan.kind >= 3) {
            (true, _) => "visitor",
            (false, true) => "rule",
            (false, false) => "user",
        }
    }

    /// A `changed` message resource: the changed fields, and what the profile adds.
    fn message_changed(&self, mut fields: Value, id: &str, chat_id: &str) -> Value {
        if self.changed_includes_id {
            fields["id"] = json!(id);
        }
        if self.chat_id_always {
            fields["chat_id"] = json!(chat_id);
        }
        fields
    }
}

fn chat_channel() -> String {
    format!("/api/v5/orgs/{ORG}/owned_chats")
}

fn message_channel(chat: &str) -> String {
    format!("/api/v5/orgs/{ORG}/owned_chats/{chat}/messages")
}

#[derive(Clone, Debug)]
struct ChatChange {
    is_waiting: Option<bool>,
    ends: bool,
    claims_not_ended: bool,
}

#[derive(Clone, Debug)]
struct MessagePlan {
    sender_is_visitor: bool,
    kind: usize,
    edit: Option<String>,
    purge: bool,
    removed: Option<usize>,
}

#[derive(Clone, Debug)]
struct ChatPlan {
    room: &'static str,
    changes: Vec<ChatChange>,
    removed: Option<usize>,
    messages: Vec<MessagePlan>,
}

fn chat_change() -> impl Strategy<Value = ChatChange> {
    (
        proptest::option::of(any::<bool>()),
        prop::bool::weighted(0.2),
        any::<bool>(),
    )
        .prop_map(|(is_waiting, ends, claims_not_ended)| ChatChange {
            is_waiting,
            ends,
            claims_not_ended,
        })
}

fn message_plan(kinds: usize) -> impl Strategy<Value = MessagePlan> {
    (
        any::<bool>(),
        0usize..kinds,
        proptest::option::of("[a-z]{1,8}"),
        prop::bool::weighted(0.2),
        proptest::option::weighted(0.2, 0usize..3),
    )
        .prop_map(
            |(sender_is_visitor, kind, edit, purge, removed)| MessagePlan {
                sender_is_visitor,
                kind,
                edit,
                purge,
                removed,
            },
        )
}

fn chat_plan(kinds: usize) -> impl Strategy<Value = ChatPlan> {
    (
        prop::bool::weighted(0.8),
        prop::collection::vec(chat_change(), 0..5),
        proptest::option::weighted(0.15, 0usize..3),
        prop::collection::vec(message_plan(kinds), 0..6),
    )
        .prop_map(|(ours, changes, removed, messages)| ChatPlan {
            room: if ours { ROOM } else { OTHER_ROOM },
            changes,
            removed,
            messages,
        })
}

fn removed_resource(variant: usize, last_state: Value) -> Option<Value> {
    match variant {
        0 => None,
        1 => Some(json!({})),
        _ => Some(last_state),
    }
}

fn envelope(channel: String, action: &str, id: &str, resource: Option<Value>) -> Value {
    let mut body = json!({"channel": channel, "action": action, "resource_id": id});
    if let Some(resource) = resource {
        body["resource"] = resource;
    }
    body
}

/// The in-order, exactly-once deliveries of a few chats (mostly in our room, some in another),
/// each with timestamped `changed`s, messages with at most one untimestamped edit, purges and
/// removals. (Two untimestamped edits of one message are order-dependent by contract: the later
/// arrival wins; that rule has its own example test.)
pub fn deliveries(shape: WireShape) -> impl Strategy<Value = Vec<Delivery>> {
    let kinds = shape.message_kinds().len();
    prop::collection::vec(chat_plan(kinds), 1..4).prop_map(move |chats| {
        let time = |second: u32| shape.time(second);
        let mut out = Vec::new();
        for (c, plan) in chats.iter().enumerate() {
            let chat_id = format!("c0000000-0000-4000-8000-00000000000{c}");
            let created = 10 * c as u32;
            let full = json!({
                "id": chat_id, "room_id": plan.room, "created_at": time(created),
                "updated_at": time(created), "is_ended": false, "ended_at": null,
                "is_waiting": false, "chat_type": "visitor", "message_count": 0
            });
            out.push(Delivery::Chat(envelope(
                chat_channel(),
                "added",
                &chat_id,
                Some(full.clone()),
            )));
            for (k, change) in plan.changes.iter().enumerate() {
                let at = time(created + 100 + k as u32);
                let mut resource = json!({"updated_at": at});
                if shape.changed_includes_id {
                    resource["id"] = json!(chat_id);
                }
                if let Some(waiting) = change.is_waiting {
                    resource["is_waiting"] = json!(waiting);
                }
                if change.ends {
                    resource["is_ended"] = json!(true);
                    resource["ended_at"] = json!(at);
                } else if change.claims_not_ended {
                    resource["is_ended"] = json!(false);
                }
                out.push(Delivery::Chat(envelope(
                    chat_channel(),
                    "changed",
                    &chat_id,
                    Some(resource),
                )));
            }
            for (m, message) in plan.messages.iter().enumerate() {
                let message_id = format!("m{c}{m}000000-0000-4000-8000-000000000000");
                let kind = shape.message_kinds()[message.kind];
                let mut full = json!({
                    "id": message_id, "chat_id": chat_id, "room_id": plan.room,
                    "created_at": time(created + 1 + m as u32 / 2), "type": kind,
                    "sender_type": shape.sender(message),
                    "sender_name": "Internal Name", "sender_public_name": "Public",
                    "sender_avatar": null, "message": format!("text {m}"), "attachments": [],
                    "is_encrypted": false, "sensitive_data_purged_at": null
                });
                if !shape.message_room_id {
                    full.as_object_mut().unwrap().remove("room_id");
                }
                let changed = |fields: Value| shape.message_changed(fields, &message_id, &chat_id);
                let channel = message_channel(&chat_id);
                out.push(Delivery::Message(envelope(
                    channel.clone(),
                    "added",
                    &message_id,
                    Some(full.clone()),
                )));
                if let Some(edit) = &message.edit {
                    out.push(Delivery::Message(envelope(
                        channel.clone(),
                        "changed",
                        &message_id,
                        Some(changed(json!({"message": edit}))),
                    )));
                }
                if message.purge {
                    let purge =
                        json!({"message": null, "sensitive_data_purged_at": time(created + 300)});
                    out.push(Delivery::Message(envelope(
                        channel.clone(),
                        "changed",
                        &message_id,
                        Some(changed(purge)),
                    )));
                }
                if let Some(variant) = message.removed {
                    out.push(Delivery::Message(envelope(
                        channel.clone(),
                        "removed",
                        &message_id,
                        removed_resource(variant, full),
                    )));
                }
            }
            if let Some(variant) = plan.removed {
                out.push(Delivery::Chat(envelope(
                    chat_channel(),
                    "removed",
                    &chat_id,
                    removed_resource(variant, full),
                )));
            }
        }
        out
    })
}

/// A permutation of `0..len` with random duplicates mixed in (every delivery at least once).
pub fn permuted_with_duplicates(len: usize) -> impl Strategy<Value = Vec<usize>> {
    let duplicates = prop::collection::vec(0..len.max(1), 0..=len);
    (
        Just((0..len).collect::<Vec<usize>>()).prop_shuffle(),
        duplicates,
    )
        .prop_flat_map(move |(order, duplicates)| {
            let mut all = order;
            if len > 0 {
                all.extend(duplicates);
            }
            Just(all).prop_shuffle()
        })
}

pub fn context() -> StoreContext {
    StoreContext::new(RoomId::new(ROOM))
}

/// Feeds deliveries through the same parsing and folding the webhook handler uses.
pub async fn apply_all<S: ChatStore>(store: &S, deliveries: &[Delivery]) {
    let context = context();
    for delivery in deliveries {
        match delivery {
            Delivery::Chat(body) => {
                let hook =
                    parse_chat_webhook(body.to_string().as_bytes()).expect("valid chat envelope");
                store
                    .apply_chat_event(&hook.chat_id, &hook.event, &context)
                    .await
                    .expect("store works");
            }
            Delivery::Message(body) => {
                let hook = parse_message_webhook(body.to_string().as_bytes())
                    .expect("valid message envelope");
                store
                    .apply_message_event(&hook.chat_id, &hook.message_id, &hook.event, &context)
                    .await
                    .expect("store works");
            }
        }
    }
}

/// Everything a frontend or operator could observe: every known chat and message record in
/// full (stamps included) and each chat's history. Pending records of other rooms' traffic are
/// invisible and expire on their own, so they are not part of the observable state.
#[derive(Debug, PartialEq)]
pub struct Observed {
    chats: Vec<Option<ChatRecord>>,
    messages: Vec<Option<MessageRecord>>,
    histories: Vec<Vec<MessageRecord>>,
    /// Each chat's whole sync feed, by message id.
    feeds: Vec<Vec<Message>>,
}

/// A record without its feed position: where a change lands in the feed depends on the order
/// the changes were stored, which is what the deliveries vary.
fn without_position(mut record: MessageRecord) -> MessageRecord {
    record.feed_seq = None;
    record
}

impl Observed {
    /// How many messages the histories show, all chats together.
    pub fn messages_in_history(&self) -> usize {
        self.histories.iter().map(Vec::len).sum()
    }
}

pub async fn observe<S: ChatStore>(store: &S, deliveries: &[Delivery]) -> Observed {
    let mut chat_ids = BTreeSet::new();
    let mut message_ids = BTreeSet::new();
    for delivery in deliveries {
        match delivery {
            Delivery::Chat(body) => {
                chat_ids.insert(body["resource_id"].as_str().unwrap().to_owned());
            }
            Delivery::Message(body) => {
                let channel = body["channel"].as_str().unwrap();
                let chat = channel.split('/').nth(6).unwrap().to_owned();
                chat_ids.insert(chat.clone());
                message_ids.insert((chat, body["resource_id"].as_str().unwrap().to_owned()));
            }
        }
    }
    let mut observed = Observed {
        chats: Vec::new(),
        messages: Vec::new(),
        histories: Vec::new(),
        feeds: Vec::new(),
    };
    for chat in &chat_ids {
        let chat_id = ChatId::new(chat.clone());
        let record = store.get_chat(&chat_id).await.unwrap();
        observed.chats.push(record.filter(|r| !r.is_pending()));
        let page = store
            .history_page(&chat_id, &PageRequest::Latest { limit: 100 })
            .await
            .unwrap();
        let (_, _, position) = store
            .get_visitor_chat_and_feed(&VisitorKey::from_stored("nobody".into()), &chat_id)
            .await
            .unwrap();
        // The feed lists every message history shows, once, as history shows it (an entry
        // keeps the record of the message's last visible change).
        let mut feed: Vec<Message> = store
            .feed_page(&chat_id, 0, position, usize::MAX)
            .await
            .unwrap()
            .into_iter()
            .map(|entry| entry.message.view())
            .collect();
        feed.sort_by(|a, b| a.id.cmp(&b.id));
        let history: Vec<MessageRecord> = page.messages.into_iter().map(without_position).collect();
        let mut shown: Vec<Message> = history.iter().map(MessageRecord::view).collect();
        shown.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(feed, shown, "chat {chat}: the feed and history disagree");
        observed.histories.push(history);
        observed.feeds.push(feed);
    }
    for (chat, message) in &message_ids {
        let record = store
            .get_message(&ChatId::new(chat.clone()), &MessageId::new(message.clone()))
            .await
            .unwrap();
        observed
            .messages
            .push(record.filter(|r| !r.is_pending()).map(without_position));
    }
    observed
}
