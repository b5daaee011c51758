//! Pending items: a `changed` for a chat we do not know yet waits for its `added` and expires, or
//! is deleted when the chat turns out to be another room's; a message without `created_at`.

use std::time::Duration;

use shared::domain::EventAction;
use shared::domain::chat::ChatEvent;
use shared::domain::cursor::PageRequest;
use shared::domain::{ChatResource, Field, MessageResource};
use shared::store::{Applied, ChatStore, StoreContext};

use crate::{
    OTHER_ROOM, apply_chat, apply_message, at, chat_added, chat_changed, chat_id, chat_snapshot,
    chat_started, context, history, ids, message_added, message_changed, visitor_key,
};

pub(crate) async fn changed_for_an_unknown_chat_is_pending_until_its_added<S: ChatStore>(store: S) {
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

pub(crate) async fn pending_chat_is_not_visible_and_expires<S: ChatStore>(store: S) {
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

pub(crate) async fn pending_chat_whose_added_names_another_room_is_deleted<S: ChatStore>(store: S) {
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

pub(crate) async fn pending_message_without_created_at_is_not_in_history<S: ChatStore>(store: S) {
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
