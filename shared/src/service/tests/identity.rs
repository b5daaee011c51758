//! An identified person's start when the Giosg API token was rotated: their Giosg credentials
//! are sealed under a key derived from that token, so they no longer open. The person gets a new
//! Giosg visitor and a new chat; their chats so far stay theirs, and their devices follow.

use super::*;
use crate::domain::VisitorId;
use crate::domain::visitor::{PersonKey, VisitorKey};
use crate::identity::VerifiedIdentity;
use crate::store::ChatStore;

fn identity(api_token: &str, subject: &str) -> VerifiedIdentity {
    VerifiedIdentity {
        person: PersonKey::of(subject),
        name: Some(name("Ada Lovelace")),
        sealing: VisitorToken::for_identity(&Secret::new(api_token), subject),
    }
}

fn start(token: Option<&VisitorToken>) -> StartChat {
    StartChat {
        token: token.map(|t| VisitorToken::parse(t.expose()).unwrap()),
        name: name("Visitor"),
        request_id: format!("request-{:016x}", rand::random::<u64>()),
        visitor_ref: None,
        source: None,
    }
}

/// The Giosg visitor the person's own visitor record holds.
async fn persons_giosg_visitor(service: &Service<MemoryStore, FakeGiosg>) -> VisitorId {
    let key = VisitorKey::for_identity(&PersonKey::of("user-ada"));
    let record = service.store.get_visitor(&key).await.unwrap().unwrap();
    record.giosg_visitor_id
}

#[tokio::test]
async fn a_rotated_giosg_api_token_gives_the_person_a_new_giosg_visitor_and_keeps_their_chats() {
    let service = service();
    let before = identity("api-token-before", "user-ada");
    let first = service
        .start_chat_as(start(None), before.clone())
        .await
        .unwrap();
    let device = first.issued_token.unwrap();
    let again = service
        .start_chat_as(start(Some(&device)), before)
        .await
        .unwrap();
    assert!(again.resumed);
    assert_eq!(again.chat.id, first.chat.id);
    let giosg_visitor = persons_giosg_visitor(&service).await;

    // The API token rotated: the person's credentials no longer open.
    let after = identity("api-token-after", "user-ada");
    let rotated = service
        .start_chat_as(start(Some(&device)), after.clone())
        .await
        .unwrap();
    let new_giosg_visitor = persons_giosg_visitor(&service).await;
    assert_ne!(new_giosg_visitor, giosg_visitor, "a new Giosg visitor");
    assert!(!rotated.resumed);
    assert_ne!(rotated.chat.id, first.chat.id, "a new chat");
    assert!(rotated.issued_token.is_none(), "the device keeps its token");
    // The device reaches both chats, and sends with the new visitor's credentials.
    let listed: Vec<ChatId> = service
        .list_chats(&device)
        .await
        .unwrap()
        .into_iter()
        .map(|chat| chat.id)
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&first.chat.id) && listed.contains(&rotated.chat.id));
    service
        .send_message(send(&device, &rotated.chat.id, "hello again", None))
        .await
        .unwrap();
    // From now on the person resumes that chat, as that visitor.
    let resumed = service.start_chat_as(start(None), after).await.unwrap();
    assert!(resumed.resumed);
    assert_eq!(resumed.chat.id, rotated.chat.id);
    assert_eq!(persons_giosg_visitor(&service).await, new_giosg_visitor);
    assert_eq!(service.giosg.calls("start_chat"), 2);
}
