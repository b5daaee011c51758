//! The store conformance suite: one set of behaviours, written once over `S: ChatStore`, run
//! against every adapter (`memory::*` and `dynamodb::*`, the latter on moto). A few checks of
//! the DynamoDB item layout itself (TTL attributes) are in `dynamodb_items`.

mod support;

use std::time::Duration;

use chrono::Utc;
use shared::domain::EventAction;
use shared::domain::chat::{ChatEvent, ChatOwner, ChatRecord};
use shared::domain::cursor::{Cursor, PageRequest};
use shared::domain::message::{MessageEvent, MessageRecord};
use shared::domain::visitor::{SealedCredentials, VisitorKey, VisitorRecord};
use shared::domain::{
    ChatId, ChatResource, Field, GiosgTime, MessageId, MessageResource, MessageType, RoomId,
    SenderType, VisitorId,
};
use shared::store::{
    Applied, ChatStore, HistoryPage, Reservation, SendState, SentMessage, StoreContext,
};

// ---------------------------------------------------------------------------------------------
// Fixtures

const ROOM: &str = "room-ours";
const OTHER_ROOM: &str = "room-other";

fn context() -> StoreContext {
    StoreContext::new(RoomId::new(ROOM))
}

/// A whole-second time, `seconds` after a fixed origin.
fn at(seconds: i64) -> GiosgTime {
    GiosgTime::from(chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap())
}

fn chat_id(id: &str) -> ChatId {
    ChatId::new(id)
}

fn visitor_key(name: &str) -> VisitorKey {
    VisitorKey::from_stored(format!("visitor-key-{name}"))
}

fn visitor(name: &str, display_name: &str) -> VisitorRecord {
    VisitorRecord {
        key: visitor_key(name),
        giosg_visitor_id: VisitorId::new(format!("giosg-{name}")),
        credentials: SealedCredentials::from_stored(format!("sealed-{name}-{display_name}")),
        name: display_name.to_owned(),
        latest_chat_id: None,
        created_at: Utc::now(),
    }
}

/// A full chat snapshot (a webhook `added`), open and in `room`, created at `created`.
fn chat_snapshot(id: &str, room: &str, created: i64) -> ChatResource {
    ChatResource {
        id: Some(chat_id(id)),
        room_id: Field::Value(RoomId::new(room)),
        created_at: Field::Value(at(created)),
        updated_at: Field::Value(at(created)),
        is_ended: Field::Value(false),
        ended_at: Field::Null,
        is_waiting: Field::Value(false),
        ..ChatResource::default()
    }
}

fn chat_added(id: &str, created: i64) -> ChatEvent {
    ChatEvent {
        action: EventAction::Added,
        resource: Some(chat_snapshot(id, ROOM, created)),
        owner: None,
    }
}

/// Giosg's answer to our own start-chat call: a snapshot that names its visitor.
fn chat_started(id: &str, created: i64, owner: &str) -> ChatEvent {
    ChatEvent {
        owner: Some(ChatOwner {
            visitor: visitor_key(owner),
            visitor_name: format!("Name of {owner}"),
        }),
        ..chat_added(id, created)
    }
}

fn chat_changed(resource: ChatResource) -> ChatEvent {
    ChatEvent {
        action: EventAction::Changed,
        resource: Some(resource),
        owner: None,
    }
}

fn chat_removed() -> ChatEvent {
    ChatEvent {
        action: EventAction::Removed,
        resource: None,
        owner: None,
    }
}

fn message_snapshot(chat: &str, id: &str, created: i64, text: &str) -> MessageResource {
    MessageResource {
        id: Some(MessageId::new(id)),
        message_type: Field::Value(MessageType::Msg),
        chat_id: Field::Value(chat_id(chat)),
        room_id: Field::Value(RoomId::new(ROOM)),
        created_at: Field::Value(at(created)),
        sender_type: Field::Value(SenderType::User),
        sender_public_name: Field::Value("Agent Smith".into()),
        message: Field::Value(text.into()),
        attachments: Field::Value(Vec::new()),
        ..MessageResource::default()
    }
}

fn message_added(chat: &str, id: &str, created: i64, text: &str) -> MessageEvent {
    MessageEvent {
        action: EventAction::Added,
        resource: Some(message_snapshot(chat, id, created, text)),
        client_message_id: None,
    }
}

fn message_changed(resource: MessageResource) -> MessageEvent {
    MessageEvent {
        action: EventAction::Changed,
        resource: Some(resource),
        client_message_id: None,
    }
}

/// A visitor's message as Giosg answers our send call (and as its `added` echo carries it).
fn visitor_message(chat: &str, id: &str, created: i64, text: &str) -> MessageResource {
    MessageResource {
        sender_type: Field::Value(SenderType::Visitor),
        sender_public_name: Field::Value("Ada".into()),
        ..message_snapshot(chat, id, created, text)
    }
}

fn sent_message(
    chat: &str,
    id: &str,
    created: i64,
    key: Option<&str>,
    visitor: Option<VisitorRecord>,
) -> SentMessage {
    SentMessage {
        chat_id: chat_id(chat),
        message_id: MessageId::new(id),
        event: MessageEvent {
            action: EventAction::Added,
            resource: Some(visitor_message(chat, id, created, "hello from Ada")),
            client_message_id: key.map(str::to_owned),
        },
        idempotency_key: key.map(str::to_owned),
        visitor,
    }
}

async fn apply_chat<S: ChatStore>(
    store: &S,
    id: &str,
    event: ChatEvent,
) -> (Applied, Option<ChatRecord>) {
    store
        .apply_chat_event(&chat_id(id), &event, &context())
        .await
        .expect("chat event applies")
}

async fn apply_message<S: ChatStore>(
    store: &S,
    chat: &str,
    id: &str,
    event: MessageEvent,
) -> (Applied, Option<MessageRecord>) {
    store
        .apply_message_event(&chat_id(chat), &MessageId::new(id), &event, &context())
        .await
        .expect("message event applies")
}

async fn history<S: ChatStore>(store: &S, chat: &str, request: PageRequest) -> HistoryPage {
    store
        .history_page(&chat_id(chat), &request)
        .await
        .expect("history reads")
}

fn ids(page: &HistoryPage) -> Vec<&str> {
    page.messages.iter().map(|m| m.id.as_str()).collect()
}

fn cursor_at(message: &MessageRecord) -> Cursor {
    Cursor::at(
        message
            .order_key()
            .expect("a message in history has an order key"),
    )
}

/// Stores messages `m01..=m{count}` of chat `c1`, created one second apart, in a shuffled order.
async fn seed_history<S: ChatStore>(store: &S, count: usize) -> Vec<String> {
    let ids: Vec<String> = (1..=count).map(|i| format!("m{i:02}")).collect();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&i| (i * 7919) % count.max(1));
    for i in order {
        let created = i64::try_from(i).unwrap() + 100;
        apply_message(
            store,
            "c1",
            &ids[i],
            message_added("c1", &ids[i], created, "hi"),
        )
        .await;
    }
    ids
}

fn strs(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------------------
// The behaviours

async fn visitor_is_stored_read_back_and_replaced<S: ChatStore>(store: S) {
    assert_eq!(store.get_visitor(&visitor_key("ada")).await.unwrap(), None);
    let first = visitor("ada", "Ada");
    store.put_visitor(&first).await.unwrap();
    assert_eq!(
        store.get_visitor(&visitor_key("ada")).await.unwrap(),
        Some(first)
    );
    let renamed = VisitorRecord {
        latest_chat_id: Some(chat_id("c1")),
        ..visitor("ada", "Ada Lovelace")
    };
    store.put_visitor(&renamed).await.unwrap();
    assert_eq!(
        store.get_visitor(&visitor_key("ada")).await.unwrap(),
        Some(renamed)
    );
}

async fn changed_merges_only_the_fields_it_carries<S: ChatStore>(store: S) {
    let (applied, _) = apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    assert_eq!(applied, Applied::Stored);
    let (applied, merged) = apply_chat(
        &store,
        "c1",
        chat_changed(ChatResource {
            is_waiting: Field::Value(true),
            updated_at: Field::Value(at(20)),
            ..ChatResource::default()
        }),
    )
    .await;
    assert_eq!(applied, Applied::Stored);
    let merged = merged.unwrap();
    assert_eq!(merged.is_waiting.get(), Some(&true));
    assert_eq!(merged.created_at, Some(at(10)));
    assert_eq!(merged.updated_at, Some(at(20)));
    assert_eq!(merged.room_id, Some(RoomId::new(ROOM)));
    assert!(merged.is_ended.is_unset());
    assert_eq!(merged.owner.as_ref().unwrap().visitor, visitor_key("ada"));
    assert_eq!(store.get_chat(&chat_id("c1")).await.unwrap(), Some(merged));
}

async fn is_ended_never_reverts<S: ChatStore>(store: S) {
    apply_chat(&store, "c1", chat_added("c1", 10)).await;
    apply_chat(
        &store,
        "c1",
        chat_changed(ChatResource {
            is_ended: Field::Value(true),
            ended_at: Field::Value(at(30)),
            updated_at: Field::Value(at(30)),
            ..ChatResource::default()
        }),
    )
    .await;
    apply_chat(
        &store,
        "c1",
        chat_changed(ChatResource {
            is_ended: Field::Value(false),
            ended_at: Field::Null,
            updated_at: Field::Value(at(40)),
            ..ChatResource::default()
        }),
    )
    .await;
    // A redelivered snapshot from before the end does not reopen it either.
    apply_chat(&store, "c1", chat_added("c1", 10)).await;
    let chat = store.get_chat(&chat_id("c1")).await.unwrap().unwrap();
    assert!(chat.is_ended.is_set());
    assert_eq!(chat.ended_at, Some(at(30)));
}

async fn stale_changed_does_not_undo_a_newer_one<S: ChatStore>(store: S) {
    apply_chat(&store, "c1", chat_added("c1", 10)).await;
    let change = |waiting: bool, updated: i64| {
        chat_changed(ChatResource {
            is_waiting: Field::Value(waiting),
            updated_at: Field::Value(at(updated)),
            ..ChatResource::default()
        })
    };
    apply_chat(&store, "c1", change(true, 30)).await;
    let (applied, chat) = apply_chat(&store, "c1", change(false, 20)).await;
    assert_eq!(applied, Applied::Unchanged);
    let chat = chat.unwrap();
    assert_eq!(chat.is_waiting.get(), Some(&true));
    assert_eq!(chat.updated_at, Some(at(30)));
    assert_eq!(store.get_chat(&chat_id("c1")).await.unwrap(), Some(chat));
}

async fn removed_chat_stays_removed_after_a_late_added<S: ChatStore>(store: S) {
    apply_chat(&store, "c1", chat_removed()).await;
    apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    let chat = store.get_chat(&chat_id("c1")).await.unwrap().unwrap();
    assert!(chat.removed.is_set());
    assert!(!chat.is_visible_to(&visitor_key("ada")));
}

async fn another_rooms_chat_is_ignored_and_not_stored<S: ChatStore>(store: S) {
    let event = ChatEvent {
        action: EventAction::Added,
        resource: Some(chat_snapshot("c9", OTHER_ROOM, 10)),
        owner: None,
    };
    assert_eq!(
        apply_chat(&store, "c9", event).await,
        (Applied::Ignored, None)
    );
    assert_eq!(store.get_chat(&chat_id("c9")).await.unwrap(), None);
}

async fn changed_for_an_unknown_chat_is_pending_until_its_added<S: ChatStore>(store: S) {
    let (applied, pending) = apply_chat(
        &store,
        "c1",
        chat_changed(ChatResource {
            is_waiting: Field::Value(true),
            updated_at: Field::Value(at(20)),
            ..ChatResource::default()
        }),
    )
    .await;
    assert_eq!(applied, Applied::Stored);
    let pending = pending.unwrap();
    assert!(pending.is_pending());
    assert_eq!(store.get_chat(&chat_id("c1")).await.unwrap(), Some(pending));

    let (applied, known) = apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    assert_eq!(applied, Applied::Stored);
    let known = known.unwrap();
    assert!(!known.is_pending());
    assert!(known.is_visible_to(&visitor_key("ada")));
    assert_eq!(
        known.is_waiting.get(),
        Some(&true),
        "the early change is kept"
    );
    assert_eq!(known.created_at, Some(at(10)));
    assert_eq!(store.get_chat(&chat_id("c1")).await.unwrap(), Some(known));
}

async fn pending_chat_is_not_visible_and_expires<S: ChatStore>(store: S) {
    let change = chat_changed(ChatResource {
        is_waiting: Field::Value(true),
        ..ChatResource::default()
    });
    let (_, pending) = apply_chat(&store, "c1", change.clone()).await;
    assert!(!pending.unwrap().is_visible_to(&visitor_key("ada")));
    assert!(
        store
            .visitor_chats(&visitor_key("ada"))
            .await
            .unwrap()
            .is_empty()
    );

    let expire_at_once = StoreContext {
        pending_ttl: Duration::ZERO,
        ..context()
    };
    store
        .apply_chat_event(&chat_id("c2"), &change, &expire_at_once)
        .await
        .unwrap();
    assert_eq!(store.get_chat(&chat_id("c2")).await.unwrap(), None);
    // The expired leftover does not stand in the way of the chat's `added`.
    let (applied, known) = apply_chat(&store, "c2", chat_added("c2", 10)).await;
    assert_eq!(applied, Applied::Stored);
    assert_eq!(known.unwrap().is_waiting.get(), Some(&false));
}

async fn pending_chat_whose_added_names_another_room_is_deleted<S: ChatStore>(store: S) {
    apply_chat(
        &store,
        "c9",
        chat_changed(ChatResource {
            is_ended: Field::Value(true),
            ..ChatResource::default()
        }),
    )
    .await;
    let theirs = ChatEvent {
        action: EventAction::Added,
        resource: Some(chat_snapshot("c9", OTHER_ROOM, 10)),
        owner: None,
    };
    assert_eq!(
        apply_chat(&store, "c9", theirs.clone()).await,
        (Applied::Deleted, None)
    );
    assert_eq!(store.get_chat(&chat_id("c9")).await.unwrap(), None);
    assert_eq!(
        apply_chat(&store, "c9", theirs).await,
        (Applied::Ignored, None)
    );
}

async fn redelivered_added_is_unchanged<S: ChatStore>(store: S) {
    let (_, first) = apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    let (applied, again) = apply_chat(&store, "c1", chat_added("c1", 10)).await;
    assert_eq!(applied, Applied::Unchanged);
    assert_eq!(again, first);

    let (_, message) = apply_message(&store, "c1", "m1", message_added("c1", "m1", 11, "hi")).await;
    let redelivered = apply_message(&store, "c1", "m1", message_added("c1", "m1", 11, "hi")).await;
    assert_eq!(redelivered, (Applied::Unchanged, message));
}

async fn concurrent_changes_converge_to_the_newest<S: ChatStore>(store: S) {
    apply_chat(&store, "c1", chat_added("c1", 0)).await;
    let changes = (1..=8).map(|i| {
        let event = chat_changed(ChatResource {
            is_waiting: Field::Value(i % 2 == 0),
            updated_at: Field::Value(at(i)),
            ..ChatResource::default()
        });
        let store = &store;
        async move {
            store
                .apply_chat_event(&chat_id("c1"), &event, &context())
                .await
                .expect("no contention error with eight writers")
        }
    });
    futures::future::join_all(changes).await;
    let chat = store.get_chat(&chat_id("c1")).await.unwrap().unwrap();
    assert_eq!(chat.updated_at, Some(at(8)));
    assert_eq!(chat.is_waiting.get(), Some(&true));
}

async fn message_before_its_chat_is_kept_and_shows_in_history<S: ChatStore>(store: S) {
    let (applied, _) =
        apply_message(&store, "c1", "m1", message_added("c1", "m1", 11, "early")).await;
    assert_eq!(applied, Applied::Stored);
    assert_eq!(store.get_chat(&chat_id("c1")).await.unwrap(), None);
    apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    let page = history(&store, "c1", PageRequest::Latest { limit: 50 }).await;
    assert_eq!(ids(&page), ["m1"]);
    assert_eq!(
        page.messages[0].text.get().map(String::as_str),
        Some("early")
    );
    assert!(!page.has_older);
}

async fn history_is_in_created_at_order_with_ties_by_id<S: ChatStore>(store: S) {
    for (id, created) in [("m-b", 20), ("m-c", 10), ("m-a", 20), ("m-d", 30)] {
        apply_message(&store, "c1", id, message_added("c1", id, created, id)).await;
    }
    // Another chat's messages are not this chat's history.
    apply_message(&store, "c2", "m-x", message_added("c2", "m-x", 15, "x")).await;
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    assert_eq!(ids(&page), ["m-c", "m-a", "m-b", "m-d"]);
    assert!(!page.has_older);
}

async fn pending_message_without_created_at_is_not_in_history<S: ChatStore>(store: S) {
    let edit = message_changed(MessageResource {
        message: Field::Value("edited".into()),
        ..MessageResource::default()
    });
    let (applied, pending) = apply_message(&store, "c1", "m1", edit).await;
    assert_eq!(applied, Applied::Stored);
    assert!(pending.unwrap().is_pending());
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    assert!(page.messages.is_empty());

    apply_message(
        &store,
        "c1",
        "m1",
        message_added("c1", "m1", 11, "original"),
    )
    .await;
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    assert_eq!(ids(&page), ["m1"]);
    assert_eq!(
        page.messages[0].text.get().map(String::as_str),
        Some("edited")
    );
}

async fn latest_page_is_the_newest_limit_with_has_older<S: ChatStore>(store: S) {
    let all = seed_history(&store, 7).await;
    let page = history(&store, "c1", PageRequest::Latest { limit: 3 }).await;
    assert_eq!(ids(&page), strs(&all[4..]));
    assert!(page.has_older);
    // Exactly `limit` messages: nothing older.
    let page = history(&store, "c1", PageRequest::Latest { limit: 7 }).await;
    assert_eq!(ids(&page), strs(&all));
    assert!(!page.has_older);
    let page = history(&store, "c1", PageRequest::Latest { limit: 6 }).await;
    assert_eq!(ids(&page), strs(&all[1..]));
    assert!(page.has_older);
    let empty = history(&store, "c-none", PageRequest::Latest { limit: 3 }).await;
    assert!(empty.messages.is_empty() && !empty.has_older);
}

async fn before_pages_walk_back_to_the_start<S: ChatStore>(store: S) {
    let all = seed_history(&store, 7).await;
    let newest = history(&store, "c1", PageRequest::Latest { limit: 3 }).await;
    let middle = history(
        &store,
        "c1",
        PageRequest::Before {
            cursor: cursor_at(&newest.messages[0]),
            limit: 3,
        },
    )
    .await;
    assert_eq!(ids(&middle), strs(&all[1..4]));
    assert!(middle.has_older);
    let oldest = history(
        &store,
        "c1",
        PageRequest::Before {
            cursor: cursor_at(&middle.messages[0]),
            limit: 3,
        },
    )
    .await;
    assert_eq!(ids(&oldest), strs(&all[..1]));
    assert!(!oldest.has_older);
    // Exactly `limit` older messages left: nothing older than them.
    let exact = history(
        &store,
        "c1",
        PageRequest::Before {
            cursor: cursor_at(&newest.messages[0]),
            limit: 4,
        },
    )
    .await;
    assert_eq!(ids(&exact), strs(&all[..4]));
    assert!(!exact.has_older);
    let before_start = history(
        &store,
        "c1",
        PageRequest::Before {
            cursor: Cursor::start(),
            limit: 3,
        },
    )
    .await;
    assert!(before_start.messages.is_empty() && !before_start.has_older);
}

async fn after_pages_return_only_what_came_later<S: ChatStore>(store: S) {
    let all = seed_history(&store, 7).await;
    let first = history(&store, "c1", PageRequest::Latest { limit: 7 }).await;
    let page = history(
        &store,
        "c1",
        PageRequest::After {
            cursor: cursor_at(&first.messages[1]),
            limit: 3,
        },
    )
    .await;
    assert_eq!(ids(&page), strs(&all[2..5]));
    assert!(page.has_older);
    let rest = history(
        &store,
        "c1",
        PageRequest::After {
            cursor: cursor_at(&page.messages[2]),
            limit: 3,
        },
    )
    .await;
    assert_eq!(ids(&rest), strs(&all[5..]));
    let nothing_new = history(
        &store,
        "c1",
        PageRequest::After {
            cursor: cursor_at(&first.messages[6]),
            limit: 3,
        },
    )
    .await;
    assert!(nothing_new.messages.is_empty());
    // A message inserted later shows up after the newest cursor.
    apply_message(&store, "c1", "m99", message_added("c1", "m99", 500, "late")).await;
    let polled = history(
        &store,
        "c1",
        PageRequest::After {
            cursor: cursor_at(&first.messages[6]),
            limit: 3,
        },
    )
    .await;
    assert_eq!(ids(&polled), ["m99"]);
}

async fn start_cursor_returns_everything_from_the_beginning<S: ChatStore>(store: S) {
    let all = seed_history(&store, 5).await;
    let everything = history(
        &store,
        "c1",
        PageRequest::After {
            cursor: Cursor::start(),
            limit: 100,
        },
    )
    .await;
    assert_eq!(ids(&everything), strs(&all));
    assert!(!everything.has_older);
    let first_two = history(
        &store,
        "c1",
        PageRequest::After {
            cursor: Cursor::start(),
            limit: 2,
        },
    )
    .await;
    assert_eq!(ids(&first_two), strs(&all[..2]));
    assert!(!first_two.has_older);
}

async fn microsecond_times_keep_redeliveries_unchanged_and_cursors_exact<S: ChatStore>(store: S) {
    let precise =
        GiosgTime::from(chrono::DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap());
    let added = MessageEvent {
        action: EventAction::Added,
        resource: Some(MessageResource {
            created_at: Field::Value(precise),
            updated_at: Field::Value(precise),
            ..message_snapshot("c1", "m1", 0, "hi")
        }),
        client_message_id: None,
    };
    apply_message(&store, "c1", "m1", added.clone()).await;
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    assert_eq!(ids(&page), ["m1"]);
    let polled = history(
        &store,
        "c1",
        PageRequest::After {
            cursor: cursor_at(&page.messages[0]),
            limit: 10,
        },
    )
    .await;
    assert!(
        polled.messages.is_empty(),
        "a page's own message is not after its cursor"
    );
    assert_eq!(
        apply_message(&store, "c1", "m1", added).await.0,
        Applied::Unchanged
    );
}

async fn purged_text_never_comes_back_after_a_later_edit<S: ChatStore>(store: S) {
    apply_message(
        &store,
        "c1",
        "m1",
        message_added("c1", "m1", 10, "my card is 4242"),
    )
    .await;
    apply_message(
        &store,
        "c1",
        "m1",
        message_changed(MessageResource {
            sensitive_data_purged_at: Field::Value(at(20)),
            message: Field::Null,
            updated_at: Field::Value(at(20)),
            ..MessageResource::default()
        }),
    )
    .await;
    apply_message(
        &store,
        "c1",
        "m1",
        message_changed(MessageResource {
            message: Field::Value("my card is 4242 (edited)".into()),
            updated_at: Field::Value(at(30)),
            ..MessageResource::default()
        }),
    )
    .await;
    apply_message(
        &store,
        "c1",
        "m1",
        message_added("c1", "m1", 10, "my card is 4242"),
    )
    .await;
    let stored = store
        .get_message(&chat_id("c1"), &MessageId::new("m1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.purged_at.at(), Some(at(20)));
    assert_eq!(stored.text.get(), None);
    assert_eq!(stored.view().text, None);
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    assert_eq!(page.messages, [stored]);
}

async fn removed_message_loses_its_text_and_a_late_added_does_not_restore_it<S: ChatStore>(
    store: S,
) {
    let removal = MessageEvent {
        action: EventAction::Removed,
        resource: None,
        client_message_id: None,
    };
    // Removed after it was stored.
    apply_message(&store, "c1", "m1", message_added("c1", "m1", 10, "oops")).await;
    apply_message(&store, "c1", "m1", removal.clone()).await;
    // Removed before its `added` arrived.
    apply_message(&store, "c1", "m2", removal).await;
    apply_message(
        &store,
        "c1",
        "m2",
        message_added("c1", "m2", 11, "oops again"),
    )
    .await;
    for id in ["m1", "m2"] {
        let stored = store
            .get_message(&chat_id("c1"), &MessageId::new(id))
            .await
            .unwrap();
        if let Some(stored) = stored {
            assert!(stored.removed.is_set(), "{id} stays removed");
            assert_eq!(stored.text.get(), None, "{id} has no text");
            assert!(stored.view().deleted);
        }
    }
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    for message in &page.messages {
        assert!(message.removed.is_set() && message.text.get().is_none());
    }
}

async fn send_key_is_taken_while_in_flight_and_stale_claims_are_taken_over<S: ChatStore>(store: S) {
    let chat = chat_id("c1");
    let hour = Duration::from_secs(3600);
    assert_eq!(
        store.reserve_send(&chat, "k1", hour).await.unwrap(),
        Reservation::Reserved
    );
    match store.reserve_send(&chat, "k1", hour).await.unwrap() {
        Reservation::Taken(SendState::InFlight { since }) => {
            assert!((Utc::now() - since).num_seconds().abs() < 60);
        }
        other => panic!("expected the key in flight, got {other:?}"),
    }
    // The same key in another chat is another key.
    assert_eq!(
        store
            .reserve_send(&chat_id("c2"), "k1", hour)
            .await
            .unwrap(),
        Reservation::Reserved
    );
    // A claim older than `stale_after` is abandoned: it may be taken over.
    assert_eq!(
        store
            .reserve_send(&chat, "k1", Duration::ZERO)
            .await
            .unwrap(),
        Reservation::Reserved
    );
    let sending = store
        .send_context(&visitor_key("ada"), &chat, Some("k1"))
        .await
        .unwrap();
    assert!(matches!(
        sending.key_state,
        Some(SendState::InFlight { .. })
    ));
}

async fn sent_key_is_final<S: ChatStore>(store: S) {
    let chat = chat_id("c1");
    store
        .reserve_send(&chat, "k1", Duration::ZERO)
        .await
        .unwrap();
    store
        .record_sent_message(&sent_message("c1", "m1", 10, Some("k1"), None), &context())
        .await
        .unwrap();
    let sent = SendState::Sent {
        message_id: MessageId::new("m1"),
    };
    assert_eq!(
        store
            .reserve_send(&chat, "k1", Duration::ZERO)
            .await
            .unwrap(),
        Reservation::Taken(sent.clone())
    );
    store.release_send(&chat, "k1").await.unwrap();
    assert_eq!(
        store
            .reserve_send(&chat, "k1", Duration::ZERO)
            .await
            .unwrap(),
        Reservation::Taken(sent)
    );
}

async fn release_frees_an_in_flight_key<S: ChatStore>(store: S) {
    let chat = chat_id("c1");
    let hour = Duration::from_secs(3600);
    // Releasing a key nobody holds is harmless.
    store.release_send(&chat, "k1").await.unwrap();
    store.reserve_send(&chat, "k1", hour).await.unwrap();
    store.release_send(&chat, "k1").await.unwrap();
    let sending = store
        .send_context(&visitor_key("ada"), &chat, Some("k1"))
        .await
        .unwrap();
    assert_eq!(sending.key_state, None);
    assert_eq!(
        store.reserve_send(&chat, "k1", hour).await.unwrap(),
        Reservation::Reserved
    );
}

async fn record_sent_message_stores_message_marks_key_sent_and_saves_visitor<S: ChatStore>(
    store: S,
) {
    apply_chat(&store, "c1", chat_started("c1", 5, "ada")).await;
    store.put_visitor(&visitor("ada", "Ada")).await.unwrap();
    let refreshed = VisitorRecord {
        latest_chat_id: Some(chat_id("c1")),
        ..visitor("ada", "Ada (refreshed session)")
    };
    let record = store
        .record_sent_message(
            &sent_message("c1", "m1", 10, Some("k1"), Some(refreshed.clone())),
            &context(),
        )
        .await
        .unwrap();
    assert_eq!(record.client_message_id.as_deref(), Some("k1"));
    assert_eq!(
        record.text.get().map(String::as_str),
        Some("hello from Ada")
    );
    assert_eq!(
        store
            .get_message(&chat_id("c1"), &MessageId::new("m1"))
            .await
            .unwrap(),
        Some(record.clone())
    );
    let sending = store
        .send_context(&visitor_key("ada"), &chat_id("c1"), Some("k1"))
        .await
        .unwrap();
    assert_eq!(sending.visitor, Some(refreshed));
    assert_eq!(
        sending.key_state,
        Some(SendState::Sent {
            message_id: MessageId::new("m1")
        })
    );
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    assert_eq!(page.messages, [record]);

    // Without a key or a visitor: only the message.
    let plain = store
        .record_sent_message(&sent_message("c1", "m2", 11, None, None), &context())
        .await
        .unwrap();
    assert_eq!(plain.client_message_id, None);
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    assert_eq!(ids(&page), ["m1", "m2"]);
}

async fn sent_message_merges_with_an_echo_that_arrived_first<S: ChatStore>(store: S) {
    let echo = MessageEvent {
        action: EventAction::Added,
        resource: Some(visitor_message("c1", "m1", 10, "hello from Ada")),
        client_message_id: None,
    };
    apply_message(&store, "c1", "m1", echo).await;
    // What the webhooks told first is merged with, not overwritten by, our send's answer.
    let edit = message_changed(MessageResource {
        message: Field::Value("hello from Ada (edited)".into()),
        updated_at: Field::Value(at(20)),
        ..MessageResource::default()
    });
    apply_message(&store, "c1", "m1", edit).await;
    let ada = visitor("ada", "Ada");
    let record = store
        .record_sent_message(
            &sent_message("c1", "m1", 10, Some("k1"), Some(ada.clone())),
            &context(),
        )
        .await
        .unwrap();
    assert_eq!(record.client_message_id.as_deref(), Some("k1"));
    assert_eq!(
        record.text.get().map(String::as_str),
        Some("hello from Ada (edited)")
    );
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    assert_eq!(page.messages, [record]);
    let sending = store
        .send_context(&visitor_key("ada"), &chat_id("c1"), Some("k1"))
        .await
        .unwrap();
    assert_eq!(sending.visitor, Some(ada));
    assert_eq!(
        sending.key_state,
        Some(SendState::Sent {
            message_id: MessageId::new("m1")
        })
    );
}

async fn echo_after_a_sent_message_is_not_duplicated<S: ChatStore>(store: S) {
    let record = store
        .record_sent_message(&sent_message("c1", "m1", 10, Some("k1"), None), &context())
        .await
        .unwrap();
    let echo = MessageEvent {
        action: EventAction::Added,
        resource: Some(visitor_message("c1", "m1", 10, "hello from Ada")),
        client_message_id: None,
    };
    assert_eq!(
        apply_message(&store, "c1", "m1", echo).await,
        (Applied::Unchanged, Some(record.clone()))
    );
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    assert_eq!(page.messages, [record]);
}

async fn visitor_chats_are_newest_first_and_only_the_owners<S: ChatStore>(store: S) {
    apply_chat(&store, "c-old", chat_started("c-old", 10, "ada")).await;
    apply_chat(&store, "c-new", chat_started("c-new", 30, "ada")).await;
    apply_chat(&store, "c-mid", chat_started("c-mid", 20, "ada")).await;
    apply_chat(&store, "c-bob", chat_started("c-bob", 40, "bob")).await;
    apply_chat(&store, "c-nobody", chat_added("c-nobody", 50)).await;
    let chats = store.visitor_chats(&visitor_key("ada")).await.unwrap();
    let order: Vec<&str> = chats.iter().map(|chat| chat.id.as_str()).collect();
    assert_eq!(order, ["c-new", "c-mid", "c-old"]);
    assert_eq!(
        chats[0],
        store.get_chat(&chat_id("c-new")).await.unwrap().unwrap()
    );
    let bobs = store.visitor_chats(&visitor_key("bob")).await.unwrap();
    assert_eq!(bobs.len(), 1);
    assert!(
        store
            .visitor_chats(&visitor_key("eve"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn combined_reads_return_what_was_stored<S: ChatStore>(store: S) {
    let ada = visitor("ada", "Ada");
    let (none_visitor, none_chat) = store
        .get_visitor_and_chat(&ada.key, &chat_id("c1"))
        .await
        .unwrap();
    assert_eq!((none_visitor, none_chat), (None, None));
    let empty = store
        .send_context(&ada.key, &chat_id("c1"), Some("k1"))
        .await
        .unwrap();
    assert!(empty.visitor.is_none() && empty.chat.is_none() && empty.key_state.is_none());

    store.put_visitor(&ada).await.unwrap();
    let (_, chat) = apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    let (visitor, stored_chat) = store
        .get_visitor_and_chat(&ada.key, &chat_id("c1"))
        .await
        .unwrap();
    assert_eq!(visitor, Some(ada.clone()));
    assert_eq!(stored_chat, chat);

    let without_key = store
        .send_context(&ada.key, &chat_id("c1"), None)
        .await
        .unwrap();
    assert_eq!(without_key.visitor, Some(ada.clone()));
    assert_eq!(without_key.chat, chat);
    assert_eq!(without_key.key_state, None);
    store
        .reserve_send(&chat_id("c1"), "k1", Duration::from_secs(60))
        .await
        .unwrap();
    let with_key = store
        .send_context(&ada.key, &chat_id("c1"), Some("k1"))
        .await
        .unwrap();
    assert_eq!(with_key.visitor, Some(ada));
    assert_eq!(with_key.chat, chat);
    assert!(matches!(
        with_key.key_state,
        Some(SendState::InFlight { .. })
    ));
}

async fn record_started_chat_stores_the_chat_and_its_visitor<S: ChatStore>(store: S) {
    let mut ada = visitor("ada", "Ada");
    ada.latest_chat_id = Some(chat_id("c1"));
    let chat = store
        .record_started_chat(
            &ada,
            &chat_id("c1"),
            &chat_started("c1", 10, "ada"),
            &context(),
        )
        .await
        .unwrap();
    assert!(chat.is_visible_to(&visitor_key("ada")));
    assert_eq!(store.get_chat(&chat_id("c1")).await.unwrap(), Some(chat));
    assert_eq!(
        store.get_visitor(&visitor_key("ada")).await.unwrap(),
        Some(ada)
    );
}

async fn record_started_chat_merges_a_webhook_that_came_first<S: ChatStore>(store: S) {
    // The agent's first reply set is_waiting before our start-chat call stored anything.
    apply_chat(&store, "c1", chat_added("c1", 10)).await;
    apply_chat(
        &store,
        "c1",
        chat_changed(ChatResource {
            is_waiting: Field::Value(true),
            updated_at: Field::Value(at(20)),
            ..ChatResource::default()
        }),
    )
    .await;
    let ada = visitor("ada", "Ada");
    let chat = store
        .record_started_chat(
            &ada,
            &chat_id("c1"),
            &chat_started("c1", 10, "ada"),
            &context(),
        )
        .await
        .unwrap();
    assert!(
        chat.is_visible_to(&visitor_key("ada")),
        "ownership is added"
    );
    assert_eq!(
        chat.is_waiting.get(),
        Some(&true),
        "the newer webhook is kept"
    );
    assert_eq!(
        store.get_visitor(&visitor_key("ada")).await.unwrap(),
        Some(ada)
    );
}

// ---------------------------------------------------------------------------------------------
// Every behaviour, for every store

macro_rules! conformance_tests {
    ($new_store:expr; $($behaviour:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $behaviour() {
                super::$behaviour($new_store).await;
            }
        )+
    };
}

macro_rules! for_every_store {
    ($($behaviour:ident),+ $(,)?) => {
        mod memory {
            conformance_tests!(shared::store::memory::MemoryStore::new(); $($behaviour),+);
        }

        mod dynamodb {
            conformance_tests!(crate::support::moto::fresh_store().await; $($behaviour),+);
        }
    };
}

for_every_store!(
    visitor_is_stored_read_back_and_replaced,
    changed_merges_only_the_fields_it_carries,
    is_ended_never_reverts,
    stale_changed_does_not_undo_a_newer_one,
    removed_chat_stays_removed_after_a_late_added,
    another_rooms_chat_is_ignored_and_not_stored,
    changed_for_an_unknown_chat_is_pending_until_its_added,
    pending_chat_is_not_visible_and_expires,
    pending_chat_whose_added_names_another_room_is_deleted,
    redelivered_added_is_unchanged,
    concurrent_changes_converge_to_the_newest,
    message_before_its_chat_is_kept_and_shows_in_history,
    history_is_in_created_at_order_with_ties_by_id,
    pending_message_without_created_at_is_not_in_history,
    latest_page_is_the_newest_limit_with_has_older,
    before_pages_walk_back_to_the_start,
    after_pages_return_only_what_came_later,
    start_cursor_returns_everything_from_the_beginning,
    microsecond_times_keep_redeliveries_unchanged_and_cursors_exact,
    purged_text_never_comes_back_after_a_later_edit,
    removed_message_loses_its_text_and_a_late_added_does_not_restore_it,
    send_key_is_taken_while_in_flight_and_stale_claims_are_taken_over,
    sent_key_is_final,
    release_frees_an_in_flight_key,
    record_sent_message_stores_message_marks_key_sent_and_saves_visitor,
    sent_message_merges_with_an_echo_that_arrived_first,
    echo_after_a_sent_message_is_not_duplicated,
    visitor_chats_are_newest_first_and_only_the_owners,
    combined_reads_return_what_was_stored,
    record_started_chat_stores_the_chat_and_its_visitor,
    record_started_chat_merges_a_webhook_that_came_first,
);

// ---------------------------------------------------------------------------------------------
// The DynamoDB item layout: what only the raw items show

mod dynamodb_items {
    use std::collections::HashMap;
    use std::time::Duration;

    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::types::AttributeValue;
    use chrono::Utc;
    use shared::domain::{ChatResource, Field};
    use shared::store::StoreContext;
    use shared::store::dynamodb::{DynamoStore, EXPIRES_AT};

    use super::{ChatStore, MessageId, at, chat_added, chat_changed, chat_id, context};
    use crate::support::moto::fresh_table;

    async fn raw_item(
        client: &Client,
        table: &str,
        pk: &str,
        sk: &str,
    ) -> HashMap<String, AttributeValue> {
        client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .expect("the item exists")
    }

    fn expires_at(item: &HashMap<String, AttributeValue>) -> Option<i64> {
        item.get(EXPIRES_AT)
            .map(|value| value.as_n().unwrap().parse().unwrap())
    }

    #[tokio::test]
    async fn pending_items_carry_a_ttl_of_the_pending_period() {
        let (client, table) = fresh_table().await;
        let store = DynamoStore::new(client.clone(), table.clone());
        let change = chat_changed(ChatResource {
            is_waiting: Field::Value(true),
            ..ChatResource::default()
        });
        store
            .apply_chat_event(&chat_id("c1"), &change, &context())
            .await
            .unwrap();
        let edit = super::message_changed(shared::domain::MessageResource {
            message: Field::Value("edited".into()),
            ..Default::default()
        });
        store
            .apply_message_event(&chat_id("c1"), &MessageId::new("m1"), &edit, &context())
            .await
            .unwrap();
        let day_from_now = (Utc::now() + chrono::Duration::hours(24)).timestamp();
        for sk in ["CHAT", "MSG#m1"] {
            let item = raw_item(&client, &table, "CHAT#c1", sk).await;
            let ttl = expires_at(&item).unwrap_or_else(|| panic!("{sk} has a TTL"));
            assert!((ttl - day_from_now).abs() < 60, "{sk} expires in 24 h");
        }
    }

    #[tokio::test]
    async fn known_chat_has_no_ttl_unless_retention_is_on() {
        let (client, table) = fresh_table().await;
        let store = DynamoStore::new(client.clone(), table.clone());
        store
            .apply_chat_event(&chat_id("c1"), &chat_added("c1", 10), &context())
            .await
            .unwrap();
        let item = raw_item(&client, &table, "CHAT#c1", "CHAT").await;
        assert_eq!(expires_at(&item), None);

        let retained = StoreContext {
            retention: Some(Duration::from_secs(30 * 24 * 3600)),
            ..context()
        };
        store
            .apply_chat_event(&chat_id("c2"), &chat_added("c2", 10), &retained)
            .await
            .unwrap();
        let item = raw_item(&client, &table, "CHAT#c2", "CHAT").await;
        let thirty_days_after_creation = at(10).as_datetime().timestamp() + 30 * 24 * 3600;
        assert_eq!(expires_at(&item), Some(thirty_days_after_creation));
    }
}
