//! Placement by chat: a message Giosg described in full belongs to the room when its chat does,
//! whether or not its own resource names the room and whichever of the two arrives first; what
//! is not placed is in no history.

use shared::domain::cursor::PageRequest;
use shared::domain::{Field, MessageId, RoomId};
use shared::store::{Applied, ChatStore};

use crate::{
    ROOM, apply_chat, apply_message, chat_id, chat_started, history, ids, message_added,
    message_changed, message_snapshot,
};

/// A full message resource without `room_id`, as Giosg's message webhooks may send it.
fn roomless_added(id: &str, created: i64, text: &str) -> shared::domain::message::MessageEvent {
    let mut event = message_added("c1", id, created, text);
    event.resource.as_mut().unwrap().room_id = Field::Absent;
    event
}

pub(crate) async fn a_message_without_room_id_is_placed_by_its_known_chat<S: ChatStore>(store: S) {
    apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    let (applied, record) = apply_message(&store, "c1", "m1", roomless_added("m1", 11, "hi")).await;
    assert_eq!(applied, Applied::Stored);
    assert_eq!(
        record.unwrap().room_id,
        Some(RoomId::new(ROOM)),
        "placed for good"
    );
    let stored = store
        .get_message(&chat_id("c1"), &MessageId::new("m1"))
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.is_pending());
    let page = history(&store, "c1", PageRequest::Latest { limit: 50 }).await;
    assert_eq!(ids(&page), ["m1"]);
}

pub(crate) async fn a_message_without_room_id_before_its_chat_is_placed_when_the_chat_arrives<
    S: ChatStore,
>(
    store: S,
) {
    let (applied, record) =
        apply_message(&store, "c1", "m1", roomless_added("m1", 11, "early")).await;
    assert_eq!(applied, Applied::Stored);
    assert!(record.unwrap().is_pending(), "waits for its chat");
    apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    let stored = store
        .get_message(&chat_id("c1"), &MessageId::new("m1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.room_id,
        Some(RoomId::new(ROOM)),
        "placed when the chat came"
    );
    let page = history(&store, "c1", PageRequest::Latest { limit: 50 }).await;
    assert_eq!(ids(&page), ["m1"]);
    assert_eq!(
        page.messages[0].text.get().map(String::as_str),
        Some("early")
    );
}

/// A `changed` carrying `created_at` for a message not seen yet is not shown (it would be a
/// half-filled message); the `added`, when it comes, is.
pub(crate) async fn a_change_for_a_message_not_seen_yet_is_in_no_history<S: ChatStore>(store: S) {
    apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    let mut partial = message_snapshot("c1", "m1", 11, "edited");
    partial.room_id = Field::Absent;
    partial.message_type = Field::Absent;
    partial.sender_type = Field::Absent;
    apply_message(&store, "c1", "m1", message_changed(partial)).await;
    let page = history(&store, "c1", PageRequest::Latest { limit: 50 }).await;
    assert!(ids(&page).is_empty(), "{:?}", ids(&page));
    let after = history(
        &store,
        "c1",
        PageRequest::After {
            cursor: shared::domain::cursor::Cursor::start(),
            limit: 50,
        },
    )
    .await;
    assert!(ids(&after).is_empty(), "nor in the sync feed");
    apply_message(&store, "c1", "m1", roomless_added("m1", 11, "original")).await;
    let page = history(&store, "c1", PageRequest::Latest { limit: 50 }).await;
    assert_eq!(ids(&page), ["m1"]);
}

/// The message echo can win the race against start-chat storing the chat: it waits, and the
/// started chat places it.
pub(crate) async fn a_started_chat_places_the_messages_that_raced_ahead<S: ChatStore>(store: S) {
    apply_message(&store, "c1", "m1", roomless_added("m1", 11, "raced")).await;
    store
        .record_started_chat(
            &crate::visitor("ada", "Ada"),
            &chat_id("c1"),
            &chat_started("c1", 10, "ada"),
            &crate::context(),
        )
        .await
        .unwrap();
    let page = history(&store, "c1", PageRequest::Latest { limit: 50 }).await;
    assert_eq!(ids(&page), ["m1"]);
}
