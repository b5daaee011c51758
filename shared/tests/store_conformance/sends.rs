//! Sends and idempotency: reserving a send key, in flight or sent, released, taken over when
//! stale; recording a sent message, and its Giosg echo in either order.

use std::time::Duration;

use chrono::Utc;
use shared::domain::EventAction;
use shared::domain::cursor::PageRequest;
use shared::domain::message::MessageEvent;
use shared::domain::visitor::VisitorRecord;
use shared::domain::{Field, MessageId, MessageResource};
use shared::store::{Applied, ChatStore, Claim, Reservation, SendState};

use crate::{
    apply_chat, apply_message, at, chat_id, chat_started, context, history, ids, message_changed,
    sent_message, visitor, visitor_key, visitor_message,
};

fn claim(owner: &str) -> Claim {
    Claim {
        owner: owner.to_owned(),
        text_digest: format!("digest-of-{owner}"),
    }
}

pub(crate) async fn a_send_key_has_one_owner_whose_own_retry_is_not_a_stranger<S: ChatStore>(
    store: S,
) {
    let chat = chat_id("c1");
    let (a, b) = (claim("request-a"), claim("request-b"));
    assert_eq!(
        store
            .reserve_send(&chat, "k1", &a, &context())
            .await
            .unwrap(),
        Reservation::Reserved
    );
    // The same request's claim again (an SDK retry of a write that landed): still its own.
    assert_eq!(
        store
            .reserve_send(&chat, "k1", &a, &context())
            .await
            .unwrap(),
        Reservation::Reserved
    );
    match store
        .reserve_send(&chat, "k1", &b, &context())
        .await
        .unwrap()
    {
        Reservation::Taken(SendState::InFlight { since, claim }) => {
            assert!((Utc::now() - since).num_seconds().abs() < 60);
            assert_eq!(claim, a, "the holder and its text digest come back");
        }
        other => panic!("expected the key in flight, got {other:?}"),
    }
    // The same key in another chat is another key.
    assert_eq!(
        store
            .reserve_send(&chat_id("c2"), "k1", &b, &context())
            .await
            .unwrap(),
        Reservation::Reserved
    );
    // A late release by a stranger drops nothing.
    store.release_send(&chat, "k1", "request-b").await.unwrap();
    let sending = store
        .send_context(&visitor_key("ada"), &chat, Some("k1"))
        .await
        .unwrap();
    assert!(
        matches!(&sending.key_state, Some(SendState::InFlight { claim, .. }) if claim.owner == "request-a")
    );
    // Staleness is the caller's to judge, from `since`.
    let state = sending.key_state.unwrap();
    assert!(
        state
            .to_find_out(Utc::now(), Duration::from_secs(3600))
            .is_none()
    );
    let (holder, _) = state.to_find_out(Utc::now(), Duration::ZERO).unwrap();
    assert_eq!(holder.owner, "request-a");
}

pub(crate) async fn an_unknown_outcome_is_kept_until_taken_over_by_name<S: ChatStore>(store: S) {
    let chat = chat_id("c1");
    let (a, b, c) = (claim("request-a"), claim("request-b"), claim("request-c"));
    store
        .reserve_send(&chat, "k1", &a, &context())
        .await
        .unwrap();
    // Only the holder marks its outcome unknown.
    store
        .mark_send_unknown(&chat, "k1", "request-b")
        .await
        .unwrap();
    assert!(matches!(
        store
            .reserve_send(&chat, "k1", &b, &context())
            .await
            .unwrap(),
        Reservation::Taken(SendState::InFlight { .. })
    ));
    store
        .mark_send_unknown(&chat, "k1", "request-a")
        .await
        .unwrap();
    let unknown = match store
        .reserve_send(&chat, "k1", &b, &context())
        .await
        .unwrap()
    {
        Reservation::Taken(state @ SendState::Unknown { .. }) => state,
        other => panic!("expected an unknown outcome, got {other:?}"),
    };
    assert!(
        unknown
            .to_find_out(Utc::now(), Duration::from_secs(3600))
            .is_some(),
        "an unknown outcome is found out at once"
    );
    // Even its holder cannot claim it again as if new: it was marked unknown.
    assert!(matches!(
        store
            .reserve_send(&chat, "k1", &a, &context())
            .await
            .unwrap(),
        Reservation::Taken(SendState::Unknown { .. })
    ));
    // A take-over names the holder it found out about: the wrong one changes nothing.
    assert!(matches!(
        store
            .take_over_send(&chat, "k1", "request-c", &b, &context())
            .await
            .unwrap(),
        Reservation::Taken(SendState::Unknown { .. })
    ));
    assert_eq!(
        store
            .take_over_send(&chat, "k1", "request-a", &b, &context())
            .await
            .unwrap(),
        Reservation::Reserved
    );
    // A second stranger taking over from the same old holder loses.
    assert!(matches!(
        store.take_over_send(&chat, "k1", "request-a", &c, &context()).await.unwrap(),
        Reservation::Taken(SendState::InFlight { claim, .. }) if claim.owner == "request-b"
    ));
    // The old holder's late release does not drop the new claim.
    store.release_send(&chat, "k1", "request-a").await.unwrap();
    assert!(matches!(
        store.reserve_send(&chat, "k1", &c, &context()).await.unwrap(),
        Reservation::Taken(SendState::InFlight { claim, .. }) if claim.owner == "request-b"
    ));
}

pub(crate) async fn sent_key_is_final<S: ChatStore>(store: S) {
    let chat = chat_id("c1");
    let a = claim("request-a");
    store
        .reserve_send(&chat, "k1", &a, &context())
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
            .reserve_send(&chat, "k1", &a, &context())
            .await
            .unwrap(),
        Reservation::Taken(sent.clone())
    );
    store.release_send(&chat, "k1", "request-a").await.unwrap();
    store
        .mark_send_unknown(&chat, "k1", "request-a")
        .await
        .unwrap();
    assert_eq!(
        store
            .take_over_send(&chat, "k1", "request-a", &a, &context())
            .await
            .unwrap(),
        Reservation::Taken(sent.clone())
    );
    assert_eq!(
        store
            .reserve_send(&chat, "k1", &claim("request-b"), &context())
            .await
            .unwrap(),
        Reservation::Taken(sent)
    );
}

pub(crate) async fn release_frees_an_in_flight_key<S: ChatStore>(store: S) {
    let chat = chat_id("c1");
    let a = claim("request-a");
    // Releasing a key nobody holds is harmless.
    store.release_send(&chat, "k1", "request-a").await.unwrap();
    store
        .reserve_send(&chat, "k1", &a, &context())
        .await
        .unwrap();
    store.release_send(&chat, "k1", "request-a").await.unwrap();
    let sending = store
        .send_context(&visitor_key("ada"), &chat, Some("k1"))
        .await
        .unwrap();
    assert_eq!(sending.key_state, None);
    assert_eq!(
        store
            .reserve_send(&chat, "k1", &claim("request-b"), &context())
            .await
            .unwrap(),
        Reservation::Reserved
    );
}

pub(crate) async fn record_sent_message_stores_message_marks_key_sent_and_saves_visitor<
    S: ChatStore,
>(
    store: S,
) {
    apply_chat(&store, "c1", chat_started("c1", 5, "ada")).await;
    store
        .put_visitor(&visitor("ada", "Ada"), &context())
        .await
        .unwrap();
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

/// A visitor's start slot follows the same rules as a send key, per visitor.
pub(crate) async fn a_visitor_start_is_claimed_by_one_request_at_a_time<S: ChatStore>(store: S) {
    let ada = visitor_key("ada");
    let (a, b) = (claim("request-a"), claim("request-b"));
    assert_eq!(
        store.claim_start(&ada, &a).await.unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        store.claim_start(&ada, &a).await.unwrap(),
        Reservation::Reserved,
        "its own retried write"
    );
    assert!(matches!(
        store.claim_start(&ada, &b).await.unwrap(),
        Reservation::Taken(SendState::InFlight { claim, .. }) if claim.owner == "request-a"
    ));
    assert_eq!(
        store.claim_start(&visitor_key("bob"), &b).await.unwrap(),
        Reservation::Reserved,
        "another visitor's slot"
    );
    store.mark_start_unknown(&ada, "request-b").await.unwrap();
    store.mark_start_unknown(&ada, "request-a").await.unwrap();
    assert!(matches!(
        store.claim_start(&ada, &b).await.unwrap(),
        Reservation::Taken(SendState::Unknown { .. })
    ));
    assert_eq!(
        store.take_over_start(&ada, "request-a", &b).await.unwrap(),
        Reservation::Reserved
    );
    store.release_start(&ada, "request-a").await.unwrap();
    assert!(matches!(
        store.claim_start(&ada, &a).await.unwrap(),
        Reservation::Taken(SendState::InFlight { claim, .. }) if claim.owner == "request-b"
    ));
    store.release_start(&ada, "request-b").await.unwrap();
    assert_eq!(
        store.claim_start(&ada, &a).await.unwrap(),
        Reservation::Reserved
    );
}

/// The chat's open sends (in flight or unknown), to match an echo; sent keys and other chats'
/// keys are not among them.
pub(crate) async fn open_send_claims_are_the_chats_unsettled_keys<S: ChatStore>(store: S) {
    let chat = chat_id("c1");
    assert!(store.open_send_claims(&chat).await.unwrap().is_empty());
    store
        .reserve_send(&chat, "k-flight", &claim("a"), &context())
        .await
        .unwrap();
    store
        .reserve_send(&chat, "k-unknown", &claim("b"), &context())
        .await
        .unwrap();
    store
        .mark_send_unknown(&chat, "k-unknown", "b")
        .await
        .unwrap();
    store
        .reserve_send(&chat, "k1", &claim("c"), &context())
        .await
        .unwrap();
    store
        .record_sent_message(&sent_message("c1", "m1", 10, Some("k1"), None), &context())
        .await
        .unwrap();
    store
        .reserve_send(&chat_id("c2"), "k-other", &claim("d"), &context())
        .await
        .unwrap();
    let mut open = store.open_send_claims(&chat).await.unwrap();
    open.sort_by(|a, b| a.0.cmp(&b.0));
    let keys: Vec<&str> = open.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["k-flight", "k-unknown"]);
    assert!(matches!(&open[0].1, SendState::InFlight { claim, .. } if claim.owner == "a"));
    assert!(matches!(&open[1].1, SendState::Unknown { claim, .. } if claim.owner == "b"));
}
