//! Exactly once when things fail halfway, in the send flow (spec §8): a sender that died or
//! could not store, and a Giosg call whose outcome is unknown, found out from Giosg's listing.
//! The same over HTTP against the simulator: `shared/tests/api/exactly_once.rs`.

use super::flaky::FlakyStore;
use super::*;
use crate::domain::input::text_digest;
use crate::domain::message::MessageRecord;
use crate::store::{ChatStore, Claim, Reservation};

fn dead_claim(text: &str) -> Claim {
    Claim {
        owner: "a-request-that-died".into(),
        text_digest: text_digest(text),
    }
}

fn impatient_rules() -> Rules {
    Rules {
        send_claim_stale_after: std::time::Duration::ZERO,
        ..rules()
    }
}

fn visitor_texts(history: &[MessageRecord]) -> Vec<(String, Option<String>)> {
    history
        .iter()
        .filter(|m| m.sender_type.get() == Some(&SenderType::Visitor))
        .map(|m| {
            (
                m.text.get().cloned().unwrap_or_default(),
                m.client_message_id.clone(),
            )
        })
        .collect()
}

async fn stored<S: ChatStore>(
    service: &Service<S, FakeGiosg>,
    chat: &ChatId,
) -> Vec<(String, Option<String>)> {
    let page = service
        .store
        .history_page(chat, &PageRequest::Latest { limit: 50 })
        .await
        .unwrap();
    visitor_texts(&page.messages)
}

#[tokio::test]
async fn a_sender_that_died_after_giosg_took_its_message_is_found_out_not_sent_again() {
    let service = Service::new(MemoryStore::new(), FakeGiosg::default(), impatient_rules());
    let (token, chat) = new_chat(&service).await;
    // The request that died had claimed the key, and Giosg had taken its message.
    let claim = dead_claim("hello");
    assert_eq!(
        service
            .store
            .reserve_send(&chat, "k1", &claim, &service.rules.store_context)
            .await
            .unwrap(),
        Reservation::Reserved
    );
    service.giosg.holds(&chat, "hello");

    let outcome = service
        .send_message(send(&token, &chat, "hello", Some("k1")))
        .await
        .unwrap();
    let SendOutcome::Replayed(record) = outcome else {
        panic!("the landed message is the answer, not a new send: {outcome:?}");
    };
    assert_eq!(record.text.get().map(String::as_str), Some("hello"));
    assert_eq!(service.giosg.calls("send_message"), 0);
    assert_eq!(service.giosg.calls("visitor_messages"), 1);
    assert_eq!(
        stored(&service, &chat).await,
        [("hello".into(), Some("k1".into()))]
    );
}

#[tokio::test]
async fn a_sender_that_died_before_giosg_took_its_message_is_sent_by_the_retry() {
    let service = Service::new(MemoryStore::new(), FakeGiosg::default(), impatient_rules());
    let (token, chat) = new_chat(&service).await;
    service
        .store
        .reserve_send(
            &chat,
            "k1",
            &dead_claim("hello"),
            &service.rules.store_context,
        )
        .await
        .unwrap();
    let outcome = service
        .send_message(send(&token, &chat, "hello", Some("k1")))
        .await
        .unwrap();
    assert!(matches!(outcome, SendOutcome::Sent(_)), "{outcome:?}");
    assert_eq!(service.giosg.calls("send_message"), 1);
    assert_eq!(
        stored(&service, &chat).await,
        [("hello".into(), Some("k1".into()))]
    );
}

#[tokio::test]
async fn a_send_in_flight_elsewhere_is_in_progress_until_it_goes_stale() {
    let service = service();
    let (token, chat) = new_chat(&service).await;
    service
        .store
        .reserve_send(
            &chat,
            "k1",
            &dead_claim("hello"),
            &service.rules.store_context,
        )
        .await
        .unwrap();
    let error = service
        .send_message(send(&token, &chat, "hello", Some("k1")))
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::SendInProgress), "{error:?}");
    assert_eq!(service.giosg.calls("send_message"), 0);
    assert_eq!(
        service.giosg.calls("visitor_messages"),
        0,
        "nothing to find out yet"
    );
}

#[tokio::test]
async fn another_keys_message_with_the_same_text_is_not_taken_for_this_one() {
    let service = Service::new(MemoryStore::new(), FakeGiosg::default(), impatient_rules());
    let (token, chat) = new_chat(&service).await;
    service
        .send_message(send(&token, &chat, "ok", Some("k0")))
        .await
        .unwrap();
    service
        .store
        .reserve_send(&chat, "k1", &dead_claim("ok"), &service.rules.store_context)
        .await
        .unwrap();
    let outcome = service
        .send_message(send(&token, &chat, "ok", Some("k1")))
        .await
        .unwrap();
    assert!(matches!(outcome, SendOutcome::Sent(_)), "{outcome:?}");
    assert_eq!(service.giosg.calls("send_message"), 2);
    assert_eq!(
        stored(&service, &chat).await,
        [
            ("ok".into(), Some("k0".into())),
            ("ok".into(), Some("k1".into()))
        ]
    );
}

#[tokio::test]
async fn an_unknown_outcome_is_503_and_the_retry_answers_with_what_landed() {
    let service = service();
    let (token, chat) = new_chat(&service).await;
    service
        .giosg
        .lose_next_send_answer(GiosgError::Unavailable {
            endpoint: "send_message",
            reason: "timed out".into(),
            status: None,
            may_have_acted: true,
        });
    let error = service
        .send_message(send(&token, &chat, "are you there?", Some("k1")))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ServiceError::Giosg(e) if e.may_have_acted()),
        "{error:?}"
    );
    assert!(stored(&service, &chat).await.is_empty());
    // The retry needs no waiting: the key says the outcome is unknown.
    let outcome = service
        .send_message(send(&token, &chat, "are you there?", Some("k1")))
        .await
        .unwrap();
    assert!(matches!(outcome, SendOutcome::Replayed(_)), "{outcome:?}");
    assert_eq!(service.giosg.calls("send_message"), 1);
    assert_eq!(
        stored(&service, &chat).await,
        [("are you there?".into(), Some("k1".into()))]
    );
}

#[tokio::test]
async fn giosg_took_the_message_and_storing_it_failed_the_retry_returns_it() {
    let service = Service::new(FlakyStore::default(), FakeGiosg::default(), rules());
    let (token, chat) = new_chat(&service).await;
    // Writes of a send with a key: the claim, then the message with the key marked sent.
    service.store.fail_write(2, false);
    let error = service
        .send_message(send(&token, &chat, "stored later", Some("k1")))
        .await
        .unwrap_err();
    assert!(matches!(error, ServiceError::Store(_)), "{error:?}");
    let outcome = service
        .send_message(send(&token, &chat, "stored later", Some("k1")))
        .await
        .unwrap();
    assert!(matches!(outcome, SendOutcome::Replayed(_)), "{outcome:?}");
    assert_eq!(service.giosg.calls("send_message"), 1, "Giosg has it once");
    assert_eq!(
        stored(&service, &chat).await,
        [("stored later".into(), Some("k1".into()))]
    );
}
