//! The chats the reconciler looks at, and where its sweep stopped.

use shared::domain::chat::ChatEvent;
use shared::domain::counters::Counters;
use shared::domain::{ChatId, ChatResource, Field};
use shared::store::{ActiveChat, ChatStore};

use crate::{
    apply_chat, at, chat_added, chat_changed, chat_id, chat_removed, chat_started, context,
};

fn ids(active: &[ActiveChat]) -> Vec<ChatId> {
    active.iter().map(|chat| chat.id.clone()).collect()
}

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
    assert_eq!(ids(&active), [chat_id("c-ended-late"), chat_id("c-open")]);
    let all_ended_too = store.active_chats(at(0)).await.unwrap();
    assert_eq!(
        ids(&all_ended_too),
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

/// A chat's Giosg counters, once reported, are "moved" until checked with those very counters;
/// a later report moves them again.
pub(crate) async fn moved_counters_are_flagged_until_checked<S: ChatStore>(store: S) {
    let counted = |messages: u64, seconds: i64| {
        chat_changed(ChatResource {
            message_count: Field::Value(messages),
            updated_at: Field::Value(at(seconds)),
            ..ChatResource::default()
        })
    };
    apply_chat(&store, "c-1", chat_started("c-1", 10, "ada")).await;
    apply_chat(&store, "c-2", chat_started("c-2", 10, "bob")).await;
    // Never counted: nothing moved.
    assert_eq!(
        moved(&store.active_chats(at(0)).await.unwrap()),
        [("c-1".to_owned(), false), ("c-2".to_owned(), false)]
    );
    apply_chat(&store, "c-2", counted(2, 20)).await;
    assert_eq!(
        moved(&store.active_chats(at(0)).await.unwrap()),
        [("c-1".to_owned(), false), ("c-2".to_owned(), true)]
    );
    let two = Counters {
        messages: Some(2),
        ..Counters::default()
    };
    store
        .set_counters_checked(&chat_id("c-2"), two, &context())
        .await
        .unwrap();
    assert_eq!(
        moved(&store.active_chats(at(0)).await.unwrap())[1],
        ("c-2".to_owned(), false)
    );
    // A report delivered late (older) changes nothing; a newer one moves them again.
    apply_chat(&store, "c-2", counted(1, 15)).await;
    assert_eq!(
        moved(&store.active_chats(at(0)).await.unwrap())[1],
        ("c-2".to_owned(), false)
    );
    apply_chat(&store, "c-2", counted(3, 30)).await;
    assert_eq!(
        moved(&store.active_chats(at(0)).await.unwrap())[1],
        ("c-2".to_owned(), true)
    );
    // Checking a chat that is not stored stores nothing.
    store
        .set_counters_checked(&chat_id("c-none"), two, &context())
        .await
        .unwrap();
    assert!(store.get_chat(&chat_id("c-none")).await.unwrap().is_none());
}

fn moved(active: &[ActiveChat]) -> Vec<(String, bool)> {
    active
        .iter()
        .map(|chat| (chat.id.to_string(), chat.counters_moved))
        .collect()
}
