//! The chats the reconciler looks at, and where its sweep stopped.

use shared::domain::chat::ChatEvent;
use shared::domain::{ChatResource, Field};
use shared::store::ChatStore;

use crate::{apply_chat, at, chat_added, chat_changed, chat_id, chat_removed, chat_started};

fn ended_at(seconds: i64) -> ChatEvent {
    chat_changed(ChatResource {
        is_ended: Field::Value(true),
        ended_at: Field::Value(at(seconds)),
        updated_at: Field::Value(at(seconds)),
        ..ChatResource::default()
    })
}

pub(crate) async fn active_chats_are_the_visible_open_and_recently_ended<S: ChatStore>(store: S) {
    apply_chat(&store, "c-open", chat_started("c-open", 10, "ada")).await;
    apply_chat(
        &store,
        "c-ended-late",
        chat_started("c-ended-late", 10, "ada"),
    )
    .await;
    apply_chat(&store, "c-ended-late", ended_at(500)).await;
    apply_chat(
        &store,
        "c-ended-early",
        chat_started("c-ended-early", 10, "bob"),
    )
    .await;
    apply_chat(&store, "c-ended-early", ended_at(100)).await;
    // Not a visitor's (only a webhook saw it), pending, or removed: not looked at.
    apply_chat(&store, "c-webhook-only", chat_added("c-webhook-only", 10)).await;
    apply_chat(&store, "c-pending", ended_at(400)).await;
    apply_chat(&store, "c-removed", chat_started("c-removed", 10, "eve")).await;
    apply_chat(&store, "c-removed", chat_removed()).await;

    let active = store.active_chats(at(300)).await.unwrap();
    assert_eq!(active, [chat_id("c-ended-late"), chat_id("c-open")]);
    let all_ended_too = store.active_chats(at(0)).await.unwrap();
    assert_eq!(
        all_ended_too,
        [
            chat_id("c-ended-early"),
            chat_id("c-ended-late"),
            chat_id("c-open")
        ]
    );
}

pub(crate) async fn the_reconcile_cursor_is_kept_and_cleared<S: ChatStore>(store: S) {
    assert_eq!(store.reconcile_cursor().await.unwrap(), None);
    store
        .set_reconcile_cursor(Some(&chat_id("c-7")))
        .await
        .unwrap();
    assert_eq!(
        store.reconcile_cursor().await.unwrap(),
        Some(chat_id("c-7"))
    );
    store.set_reconcile_cursor(None).await.unwrap();
    assert_eq!(store.reconcile_cursor().await.unwrap(), None);
}
