//! Exactly once whatever write fails (spec §8): every write of a send and of a start fails in
//! turn, before it is made or after (its answer lost), with Giosg's own answer lost or not; the
//! visitor retries until it succeeds, and there is exactly one message (or chat), in Giosg and
//! in the store. Exhaustive over the steps rather than sampled.

use super::flaky::FlakyStore;
use super::*;
use crate::domain::chat::ChatEvent;
use crate::domain::{ChatResource, EventAction, Field};
use crate::store::ChatStore;

fn lost_answer(endpoint: &'static str) -> GiosgError {
    GiosgError::Unavailable {
        endpoint,
        reason: "timed out".into(),
        status: None,
        may_have_acted: true,
    }
}

/// Stale claims may be found out at once: the retries here come one after another, and a
/// claim left in flight by a failed attempt must not make them wait.
fn flaky_service() -> Service<FlakyStore, FakeGiosg> {
    let rules = Rules {
        send_claim_stale_after: std::time::Duration::ZERO,
        ..rules()
    };
    Service::new(FlakyStore::default(), FakeGiosg::default(), rules)
}

fn cases() -> impl Iterator<Item = (usize, bool, bool)> {
    (1..=5).flat_map(|nth| {
        [false, true]
            .into_iter()
            .flat_map(move |after| [false, true].map(|lose| (nth, after, lose)))
    })
}

#[tokio::test]
async fn a_send_with_any_write_failing_lands_exactly_once() {
    for (nth, after, lose) in cases() {
        let case = format!(
            "write {nth} fails {}, Giosg answer lost: {lose}",
            if after { "after" } else { "before" }
        );
        let service = flaky_service();
        let (token, chat) = new_chat(&service).await;
        if lose {
            service
                .giosg
                .lose_next_send_answer(lost_answer("send_message"));
        }
        service.store.fail_write(nth, after);
        let mut answered = None;
        for _ in 0..6 {
            if let Ok(outcome) = service
                .send_message(send(&token, &chat, "exactly once", Some("k1")))
                .await
            {
                answered = Some(outcome);
                break;
            }
        }
        assert!(answered.is_some(), "{case}: never succeeded");
        let in_giosg = service
            .giosg
            .state
            .lock()
            .unwrap()
            .sent
            .iter()
            .filter(|m| m.message.value().map(String::as_str) == Some("exactly once"))
            .count();
        assert_eq!(in_giosg, 1, "{case}: in Giosg");
        let page = service
            .store
            .history_page(&chat, &PageRequest::Latest { limit: 50 })
            .await
            .unwrap();
        let stored: Vec<_> = page
            .messages
            .iter()
            .filter(|m| m.text.get().map(String::as_str) == Some("exactly once"))
            .map(|m| m.client_message_id.clone())
            .collect();
        assert_eq!(stored, [Some("k1".to_owned())], "{case}: stored");
    }
}

#[tokio::test]
async fn a_start_with_any_write_failing_opens_exactly_one_chat() {
    for (nth, after, lose) in cases() {
        let case = format!(
            "write {nth} fails {}, Giosg answer lost: {lose}",
            if after { "after" } else { "before" }
        );
        let service = flaky_service();
        let (token, first) = new_chat(&service).await;
        let ended = ChatEvent {
            action: EventAction::Changed,
            resource: Some(ChatResource {
                is_ended: Field::Value(true),
                ..ChatResource::default()
            }),
            owner: None,
        };
        service
            .store
            .apply_chat_event(&first, &ended, &service.rules.store_context)
            .await
            .unwrap();
        if lose {
            service
                .giosg
                .lose_next_start_answer(lost_answer("start_chat"));
        }
        service.store.fail_write(nth, after);
        let mut started = None;
        for _ in 0..6 {
            let attempt = service
                .start_chat(StartChat {
                    token: Some(VisitorToken::parse(token.expose()).unwrap()),
                    name: name("Ada"),
                    request_id: format!("request-{:016x}", rand::random::<u64>()),
                    visitor_ref: None,
                    source: None,
                })
                .await;
            if let Ok(chat) = attempt {
                started = Some(chat);
                break;
            }
        }
        let started = started.unwrap_or_else(|| panic!("{case}: never succeeded"));
        assert_ne!(started.chat.id, first, "{case}");
        let in_giosg = service.giosg.state.lock().unwrap().started.len();
        assert_eq!(in_giosg, 2, "{case}: the first chat and one more in Giosg");
        let chats = service.store.visitor_chats(&token.key()).await.unwrap();
        assert_eq!(chats.len(), 2, "{case}: {chats:?}");
        assert!(
            chats
                .iter()
                .any(|c| c.id == started.chat.id && c.is_ended.is_unset()),
            "{case}"
        );
    }
}

/// A window of any length (the setting is hours, saturating) neither panics nor skips a chat.
#[tokio::test]
async fn a_reconcile_window_of_any_length_is_read_as_forever() {
    let service = flaky_service();
    let (_, chat) = new_chat(&service).await;
    let limits = crate::service::ReconcileLimits {
        ended_window: std::time::Duration::MAX,
        ..crate::service::ReconcileLimits::default()
    };
    let run = service.reconcile_active(&limits).await.unwrap();
    assert_eq!(run.chats_active, 1);
    assert_eq!(run.chats_looked_at, 1, "{chat:?}: {run:?}");
    assert!(run.sweep_complete);
}
