//! Chats from webhooks: `changed` merges only what it carries, `is_ended` never reverts, stale
//! and concurrent changes, removed chats, other rooms, redelivery, and recording a chat we started.

use shared::domain::EventAction;
use shared::domain::chat::ChatEvent;
use shared::domain::{ChatResource, Field, RoomId};
use shared::store::{Applied, ChatStore};

use crate::{
    OTHER_ROOM, ROOM, apply_chat, apply_message, at, chat_added, chat_changed, chat_id,
    chat_removed, chat_snapshot, chat_started, context, message_added, visitor, visitor_key,
};

pub(crate) async fn changed_merges_only_the_fields_it_carries<S: ChatStore>(store: S) {
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

pub(crate) async fn is_ended_never_reverts<S: ChatStore>(store: S) {
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

pub(crate) async fn stale_changed_does_not_undo_a_newer_one<S: ChatStore>(store: S) {
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

pub(crate) async fn removed_chat_stays_removed_after_a_late_added<S: ChatStore>(store: S) {
    apply_chat(&store, "c1", chat_removed()).await;
    apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    let chat = store.get_chat(&chat_id("c1")).await.unwrap().unwrap();
    assert!(chat.removed.is_set());
    assert!(!chat.is_visible_to(&visitor_key("ada")));
}

pub(crate) async fn another_rooms_chat_is_ignored_and_not_stored<S: ChatStore>(store: S) {
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

pub(crate) async fn redelivered_added_is_unchanged<S: ChatStore>(store: S) {
    let (_, first) = apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    let (applied, again) = apply_chat(&store, "c1", chat_added("c1", 10)).await;
    assert_eq!(applied, Applied::Unchanged);
    assert_eq!(again, first);

    let (_, message) = apply_message(&store, "c1", "m1", message_added("c1", "m1", 11, "hi")).await;
    let redelivered = apply_message(&store, "c1", "m1", message_added("c1", "m1", 11, "hi")).await;
    assert_eq!(redelivered, (Applied::Unchanged, message));
}

pub(crate) async fn concurrent_changes_converge_to_the_newest<S: ChatStore>(store: S) {
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

pub(crate) async fn record_started_chat_stores_the_chat_and_its_visitor<S: ChatStore>(store: S) {
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

pub(crate) async fn record_started_chat_merges_a_webhook_that_came_first<S: ChatStore>(store: S) {
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
