//! History order and paging: `created_at` order with ties by id, the latest page, `before` and
//! `after` cursors, the start cursor, and microsecond times.

use shared::domain::EventAction;
use shared::domain::cursor::{Cursor, PageRequest};
use shared::domain::message::MessageEvent;
use shared::domain::{Field, GiosgTime, MessageResource};
use shared::store::{Applied, ChatStore};

use crate::{
    apply_message, cursor_at, history, ids, message_added, message_snapshot, seed_history, strs,
};

pub(crate) async fn history_is_in_created_at_order_with_ties_by_id<S: ChatStore>(store: S) {
    for (id, created) in [("m-b", 20), ("m-c", 10), ("m-a", 20), ("m-d", 30)] {
        apply_message(&store, "c1", id, message_added("c1", id, created, id)).await;
    }
    // Another chat's messages are not this chat's history.
    apply_message(&store, "c2", "m-x", message_added("c2", "m-x", 15, "x")).await;
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    assert_eq!(ids(&page), ["m-c", "m-a", "m-b", "m-d"]);
    assert!(!page.has_older);
}

pub(crate) async fn latest_page_is_the_newest_limit_with_has_older<S: ChatStore>(store: S) {
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

pub(crate) async fn before_pages_walk_back_to_the_start<S: ChatStore>(store: S) {
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

pub(crate) async fn after_pages_return_only_what_came_later<S: ChatStore>(store: S) {
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

pub(crate) async fn start_cursor_returns_everything_from_the_beginning<S: ChatStore>(store: S) {
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

pub(crate) async fn microsecond_times_keep_redeliveries_unchanged_and_cursors_exact<
    S: ChatStore,
>(
    store: S,
) {
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
