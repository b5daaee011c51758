//! The flows against a fake Giosg port and the in-memory store: no HTTP anywhere. (The same
//! flows are tested over HTTP against the simulator in `shared/tests/api/`.)

use super::*;
use crate::domain::cursor::PageRequest;
use crate::domain::input::{IdempotencyKey, MessageText, VisitorName};
use crate::domain::visitor::VisitorToken;
use crate::domain::webhook::parse_chat_webhook;
use crate::domain::{ChatId, SenderType};
use crate::giosg::GiosgError;
use crate::secret::Secret;
use crate::store::memory::MemoryStore;

mod exactly_once;
mod fake;
mod flaky;
mod identity;
mod realtime;
mod store_faults;

use fake::{FakeGiosg, refused};

fn rules() -> Rules {
    Rules {
        org_id: crate::domain::OrgId::new("org"),
        store_context: crate::store::StoreContext::new(crate::domain::RoomId::new("room")),
        allow_offline_chats: false,
        availability_cache: std::time::Duration::ZERO,
        send_claim_stale_after: super::send::SEND_CLAIM_STALE_AFTER,
    }
}

fn service() -> Service<MemoryStore, FakeGiosg> {
    Service::new(MemoryStore::new(), FakeGiosg::default(), rules())
}

fn name(name: &str) -> VisitorName {
    VisitorName::parse(Some(name.into())).unwrap()
}

fn text(text: &str) -> MessageText {
    MessageText::parse(Some(text.into())).unwrap()
}

async fn new_chat<S: crate::store::ChatStore>(
    service: &Service<S, FakeGiosg>,
) -> (VisitorToken, ChatId) {
    let started = service
        .start_chat(StartChat {
            token: None,
            name: name("Ada"),
            request_id: format!("request-{:016x}", rand::random::<u64>()),
            visitor_ref: None,
            source: None,
        })
        .await
        .unwrap();
    (started.issued_token.unwrap(), started.chat.id)
}

fn send(token: &VisitorToken, chat: &ChatId, words: &str, key: Option<&str>) -> SendMessage {
    SendMessage {
        token: VisitorToken::parse(token.expose()).unwrap(),
        chat_id: chat.clone(),
        text: text(words),
        idempotency_key: key.map(|k| IdempotencyKey::parse(k.into()).unwrap()),
        request_id: format!("request-{:016x}", rand::random::<u64>()),
    }
}

#[tokio::test]
async fn a_new_visitor_gets_a_token_and_a_stored_chat_in_the_room() {
    let service = service();
    let started = service
        .start_chat(StartChat {
            token: None,
            name: name("Ada"),
            request_id: format!("request-{:016x}", rand::random::<u64>()),
            visitor_ref: None,
            source: None,
        })
        .await
        .unwrap();
    assert!(!started.resumed);
    let token = started.issued_token.expect("a token for a new visitor");
    let stored = service.get_chat(&token, &started.chat.id).await.unwrap();
    assert_eq!(stored.room_id, Some(crate::domain::RoomId::new("room")));
    assert_eq!(stored.owner.unwrap().visitor_name, "Ada");
    assert_eq!(service.giosg.calls("start_chat"), 1);
    assert_eq!(service.giosg.calls("set_variable"), 1);
}

#[tokio::test]
async fn a_returning_visitor_resumes_its_open_chat_without_starting_another() {
    let service = service();
    let (token, chat) = new_chat(&service).await;
    let again = service
        .start_chat(StartChat {
            token: Some(token),
            name: name("Ada"),
            request_id: format!("request-{:016x}", rand::random::<u64>()),
            visitor_ref: None,
            source: None,
        })
        .await
        .unwrap();
    assert!(again.resumed);
    assert!(again.issued_token.is_none());
    assert_eq!(again.chat.id, chat);
    assert_eq!(service.giosg.calls("start_chat"), 1);
}

#[tokio::test]
async fn nobody_online_refuses_a_chat_and_starts_nothing() {
    let service = service();
    service.giosg.state.lock().unwrap().offline = true;
    let refused = service
        .start_chat(StartChat {
            token: None,
            name: name("Ada"),
            request_id: format!("request-{:016x}", rand::random::<u64>()),
            visitor_ref: None,
            source: None,
        })
        .await;
    assert!(matches!(refused, Err(ServiceError::AgentsOffline)));
    assert_eq!(service.giosg.calls("start_chat"), 0);
}

#[tokio::test]
async fn a_replayed_key_returns_the_first_message_and_sends_once() {
    let service = service();
    let (token, chat) = new_chat(&service).await;
    let first = service
        .send_message(send(&token, &chat, "hello", Some("k1")))
        .await
        .unwrap();
    let SendOutcome::Sent(first) = first else {
        panic!("the first send sends")
    };
    let replay = service
        .send_message(send(&token, &chat, "other words", Some("k1")))
        .await
        .unwrap();
    let SendOutcome::Replayed(replayed) = replay else {
        panic!("the replay sends nothing")
    };
    assert_eq!(replayed.id, first.id);
    assert_eq!(replayed.text.get().map(String::as_str), Some("hello"));
    assert_eq!(service.giosg.calls("send_message"), 1);
    let history = service
        .history(&token, &chat, &PageRequest::Latest { limit: 50 })
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 1, "stored at once, once");
}

#[tokio::test]
async fn a_send_giosg_failed_releases_its_key_so_a_retry_sends() {
    let service = service();
    let (token, chat) = new_chat(&service).await;
    service.giosg.fail_next_send(GiosgError::Unavailable {
        endpoint: "send_message",
        reason: "HTTP 503".into(),
        status: Some(503),
        may_have_acted: false,
    });
    let failed = service
        .send_message(send(&token, &chat, "hello", Some("k1")))
        .await;
    assert!(matches!(failed, Err(ServiceError::Giosg(_))));
    let retried = service
        .send_message(send(&token, &chat, "hello", Some("k1")))
        .await
        .unwrap();
    assert!(matches!(retried, SendOutcome::Sent(_)));
    assert_eq!(service.giosg.calls("send_message"), 2);
}

#[tokio::test]
async fn giosg_refusing_a_send_as_ended_ends_the_chat_for_good() {
    let service = service();
    let (token, chat) = new_chat(&service).await;
    service.giosg.state.lock().unwrap().chats_ended = true;
    service.giosg.fail_next_send(refused("send_message", 409));
    let refused = service
        .send_message(send(&token, &chat, "hello", None))
        .await;
    assert!(matches!(refused, Err(ServiceError::ChatEnded)));
    let stored = service.get_chat(&token, &chat).await.unwrap();
    assert!(stored.is_ended.is_set());
    let again = service
        .send_message(send(&token, &chat, "hello", None))
        .await;
    assert!(matches!(again, Err(ServiceError::ChatEnded)));
    assert_eq!(
        service.giosg.calls("send_message"),
        1,
        "nothing sent to an ended chat"
    );
}

#[tokio::test]
async fn an_unknown_token_and_someone_elses_chat_are_told_apart_only_by_the_token() {
    let service = service();
    let (_, chat) = new_chat(&service).await;
    let (other, _) = new_chat(&service).await;
    let stranger = VisitorToken::generate();
    assert!(matches!(
        service.get_chat(&stranger, &chat).await,
        Err(ServiceError::UnknownVisitor)
    ));
    assert!(matches!(
        service.get_chat(&other, &chat).await,
        Err(ServiceError::ChatNotFound)
    ));
}

#[tokio::test]
async fn a_service_without_giosg_reads_and_folds_webhooks() {
    let giosg = service();
    let (token, chat) = new_chat(&giosg).await;
    let reader = Service::without_giosg(giosg.store, rules());
    assert_eq!(reader.list_chats(&token).await.unwrap().len(), 1);
    let ended = format!(
        r#"{{"channel": "/api/v5/orgs/org/owned_chats", "action": "changed", "resource_id": "{chat}",
            "resource": {{"is_ended": true}}}}"#
    );
    let hook = parse_chat_webhook(ended.as_bytes()).unwrap();
    assert_eq!(
        reader.apply_chat_webhook(&hook).await.unwrap(),
        WebhookOutcome::Stored
    );
    assert_eq!(
        reader.apply_chat_webhook(&hook).await.unwrap(),
        WebhookOutcome::Duplicate
    );
    let upper_case_org = ended.replace("/orgs/org/", "/orgs/ORG/");
    let hook = parse_chat_webhook(upper_case_org.as_bytes()).unwrap();
    assert_eq!(
        reader.apply_chat_webhook(&hook).await.unwrap(),
        WebhookOutcome::Duplicate,
        "the organization, in another case, is ours"
    );
    let other_org = ended.replace("/orgs/org/", "/orgs/another-org/");
    let hook = parse_chat_webhook(other_org.as_bytes()).unwrap();
    assert_eq!(
        reader.apply_chat_webhook(&hook).await.unwrap(),
        WebhookOutcome::Ignored
    );
    assert!(
        reader
            .get_chat(&token, &chat)
            .await
            .unwrap()
            .is_ended
            .is_set()
    );
}

#[tokio::test]
async fn a_refused_send_in_a_chat_giosg_shows_open_keeps_it_open() {
    let service = service();
    let (token, chat) = new_chat(&service).await;
    service.giosg.fail_next_send(refused("send_message", 409));
    let refused_send = service
        .send_message(send(&token, &chat, "hello", None))
        .await;
    assert!(
        matches!(refused_send, Err(ServiceError::Giosg(_))),
        "{refused_send:?}"
    );
    assert_eq!(service.giosg.calls("owned_chat"), 1, "asked Giosg why");
    assert!(
        service
            .get_chat(&token, &chat)
            .await
            .unwrap()
            .is_ended
            .is_unset()
    );
    service.giosg.fail_next_send(refused("send_message", 400));
    let text_refused = service
        .send_message(send(&token, &chat, "hello", None))
        .await;
    assert!(matches!(text_refused, Err(ServiceError::TextRefused)));
    let sent = service
        .send_message(send(&token, &chat, "hello", None))
        .await;
    assert!(
        matches!(sent, Ok(SendOutcome::Sent(_))),
        "the chat stays usable"
    );
}

#[tokio::test]
async fn a_refused_start_is_agents_offline_only_when_the_room_is_offline() {
    let service = service();
    service.giosg.state.lock().unwrap().start_failure = Some(refused("start_chat", 403));
    let start = || StartChat {
        token: None,
        name: name("Ada"),
        request_id: format!("request-{:016x}", rand::random::<u64>()),
        visitor_ref: None,
        source: None,
    };
    let online = service.start_chat(start()).await;
    assert!(matches!(online, Err(ServiceError::Giosg(_))), "{online:?}");
    {
        let mut state = service.giosg.state.lock().unwrap();
        state.start_failure = Some(refused("start_chat", 403));
        state.offline_when_refusing = true;
    }
    let offline = service.start_chat(start()).await;
    assert!(
        matches!(offline, Err(ServiceError::AgentsOffline)),
        "{offline:?}"
    );
}

fn service_visitor_token() -> VisitorToken {
    VisitorToken::for_service_visitor(&Secret::new("the-giosg-api-token"))
}

#[tokio::test]
async fn the_service_visitor_is_kept_in_the_store_and_reused_after_a_cold_start() {
    let first = service().with_stored_service_visitor(service_visitor_token());
    assert!(first.availability().await.unwrap().online);
    assert_eq!(first.giosg.calls("visitor_auth"), 1);
    // A cold start: a new process with the same table.
    let second = Service::new(first.store, FakeGiosg::default(), rules())
        .with_stored_service_visitor(service_visitor_token());
    assert!(second.availability().await.unwrap().online);
    assert_eq!(
        second.giosg.calls("visitor_auth"),
        0,
        "no new Giosg visitor"
    );
    assert_eq!(second.giosg.calls("room"), 1);
}

#[tokio::test]
async fn a_stored_service_visitor_giosg_refuses_is_replaced() {
    let first = service().with_stored_service_visitor(service_visitor_token());
    first.availability().await.unwrap();
    let giosg = FakeGiosg::default();
    {
        let mut state = giosg.state.lock().unwrap();
        state.forgot_older_visitors = true;
        state.visitors = 7;
    }
    let second = Service::new(first.store, giosg, rules())
        .with_stored_service_visitor(service_visitor_token());
    assert!(second.availability().await.unwrap().online);
    assert_eq!(second.giosg.calls("visitor_auth"), 1, "a new visitor");
    // The new one is stored: a third cold start reuses it.
    let third = Service::new(second.store, FakeGiosg::default(), rules())
        .with_stored_service_visitor(service_visitor_token());
    {
        let mut state = third.giosg.state.lock().unwrap();
        state.forgot_older_visitors = true;
        state.visitors = 8;
    }
    assert!(third.availability().await.unwrap().online);
    assert_eq!(third.giosg.calls("visitor_auth"), 0);
}
