//! Sends and idempotency: reserving a send key, in flight or sent, released, taken over when
//! stale; recording a sent message, and its Giosg echo in either order.

use std::time::Duration;

use chrono::Utc;
use shared::domain::EventAction;
use shared::domain::cursor::PageRequest;
use shared::domain::message::MessageEvent;
use shared::domain::visitor::VisitorRecord;
use shared::domain::{Field, MessageId, MessageResource};
use shared::store::{Applied, ChatStore, Reservation, SendState};

use crate::{
    apply_chat, apply_message, at, chat_id, chat_started, context, history, ids, message_changed,
    sent_message, visitor, visitor_key, visitor_message,
};

pub(crate) async fn send_key_is_taken_while_in_flight_and_stale_claims_are_taken_over<
    S: ChatStore,
>(
    store: S,
) {
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

pub(crate) async fn sent_key_is_final<S: ChatStore>(store: S) {
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

pub(crate) async fn release_frees_an_in_flight_key<S: ChatStore>(store: S) {
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

pub(crate) async fn record_sent_message_stores_message_marks_key_sent_and_saves_visitor<
    S: ChatStore,
>(
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

pub(crate) async fn sent_message_merges_with_an_echo_that_arrived_first<S: ChatStore>(store: S) {
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

pub(crate) async fn echo_after_a_sent_message_is_not_duplicated<S: ChatStore>(store: S) {
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
