//! The sync feed: each visible change takes the chat's next position; a message is listed at
//! its latest change only; pending records and invisible changes take none.

use std::collections::BTreeSet;

use shared::domain::visitor::VisitorKey;
use shared::domain::{Field, MessageId, MessageResource};
use shared::store::{ChatStore, FeedEntry};

use crate::{
    apply_chat, apply_message, chat_added, chat_id, context, message_added, message_changed,
    sent_message,
};

async fn position<S: ChatStore>(store: &S, chat: &str) -> u64 {
    let nobody = VisitorKey::from_stored("nobody".into());
    store
        .get_visitor_chat_and_feed(&nobody, &chat_id(chat))
        .await
        .unwrap()
        .2
}

async fn feed<S: ChatStore>(store: &S, chat: &str, after: u64) -> Vec<(u64, String)> {
    let upto = position(store, chat).await;
    store
        .feed_page(&chat_id(chat), after, upto, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|FeedEntry { position, message }| (position, message.id.to_string()))
        .collect()
}

pub(crate) async fn each_visible_change_takes_the_next_position<S: ChatStore>(store: S) {
    apply_chat(&store, "c1", chat_added("c1", 0)).await;
    assert_eq!(position(&store, "c1").await, 0);
    apply_message(&store, "c1", "m1", message_added("c1", "m1", 10, "one")).await;
    apply_message(&store, "c1", "m2", message_added("c1", "m2", 5, "two")).await;
    // A redelivery changes nothing and takes no position.
    apply_message(&store, "c1", "m1", message_added("c1", "m1", 10, "one")).await;
    assert_eq!(
        feed(&store, "c1", 0).await,
        [(1, "m1".to_owned()), (2, "m2".to_owned())]
    );
    // An edit moves m1 to the end; it is listed there only.
    let edit = MessageResource {
        message: Field::Value("one, edited".into()),
        ..MessageResource::default()
    };
    apply_message(&store, "c1", "m1", message_changed(edit)).await;
    assert_eq!(
        feed(&store, "c1", 0).await,
        [(2, "m2".to_owned()), (3, "m1".to_owned())]
    );
    let page = store.feed_page(&chat_id("c1"), 2, 3, 10).await.unwrap();
    assert_eq!(page[0].message.view().text.as_deref(), Some("one, edited"));
    // After a position, only what came later; the limit cuts the page.
    assert_eq!(feed(&store, "c1", 2).await, [(3, "m1".to_owned())]);
    let one = store.feed_page(&chat_id("c1"), 0, 3, 1).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].position, 2);
    // Nothing beyond the position read.
    assert!(
        store
            .feed_page(&chat_id("c1"), 0, 2, 10)
            .await
            .unwrap()
            .len()
            == 1
    );
}

pub(crate) async fn pending_records_take_no_position_until_shown<S: ChatStore>(store: S) {
    // A change for a message not seen yet is pending: no position.
    let edit = MessageResource {
        message: Field::Value("early edit".into()),
        ..MessageResource::default()
    };
    apply_message(&store, "c2", "m1", message_changed(edit)).await;
    assert_eq!(position(&store, "c2").await, 0);
    // Its `added` shows it: one position, with the edit folded in.
    apply_message(
        &store,
        "c2",
        "m1",
        message_added("c2", "m1", 10, "original"),
    )
    .await;
    let entries = store.feed_page(&chat_id("c2"), 0, 9, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(position(&store, "c2").await, 1);
}

pub(crate) async fn a_sent_message_takes_a_position_and_its_echo_none<S: ChatStore>(store: S) {
    apply_chat(&store, "c3", chat_added("c3", 0)).await;
    store
        .record_sent_message(&sent_message("c3", "v1", 10, None, None), &context())
        .await
        .unwrap();
    assert_eq!(feed(&store, "c3", 0).await, [(1, "v1".to_owned())]);
    let echo = shared::domain::message::MessageEvent {
        action: shared::domain::EventAction::Added,
        resource: Some(crate::visitor_message("c3", "v1", 10, "hello from Ada")),
        client_message_id: None,
    };
    apply_message(&store, "c3", "v1", echo).await;
    assert_eq!(position(&store, "c3").await, 1);
}

/// Writers on one chat at once each get their own position, and every one is listed.
pub(crate) async fn concurrent_writers_each_get_their_own_position<S: ChatStore>(store: S) {
    apply_chat(&store, "c4", chat_added("c4", 0)).await;
    let writes = (0..12).map(|i| {
        let store = &store;
        async move {
            let id = format!("m{i}");
            store
                .apply_message_event(
                    &chat_id("c4"),
                    &MessageId::new(id.as_str()),
                    &message_added("c4", &id, i, "hi"),
                    &context(),
                )
                .await
                .unwrap();
        }
    });
    futures::future::join_all(writes).await;
    let entries = feed(&store, "c4", 0).await;
    let positions: Vec<u64> = entries.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, (1..=12).collect::<Vec<u64>>());
    let ids: BTreeSet<&str> = entries.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), 12);
}
