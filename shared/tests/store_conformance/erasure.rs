//! Erasure (spec §1d): a chat's items and a visitor's items are deleted, counted by kind, and
//! nothing else is touched; a person's visitors are found by `visitor_ref`. The inventory of
//! what a store holds (memory: its own listing; DynamoDB: a scan of the table) is what the
//! checks look at, so an item kind the erasure forgot shows up.

use chrono::Utc;
use shared::domain::connection::{ConnectionId, ConnectionRecord, SubscriptionRecord};
use shared::domain::rate::{RateKey, RateLimit};
use shared::domain::visitor::{PersonKey, VisitorRecord};
use shared::domain::{ChatId, MessageId};
use shared::store::{
    ChatStore, Claim, Erased, ErasureStore, ItemKind, StoreContext, SubscriptionStore,
};

use crate::support::inventory::{Held, Inventory};
use crate::{chat_id, chat_started, message_added, sent_message, visitor, visitor_key};

/// Everything a person can have stored, under `who`: a visitor (with `visitor_ref`
/// `ref-<who>`) and its chat `chat-<who>` with two agent messages and a sent one, send keys (one
/// sent, one in flight), a start claim, a connection subscribed to the chat, the chat's
/// away-notification bookkeeping, and the visitor's token buckets (sends and starts).
pub(crate) async fn fill<S: ChatStore + SubscriptionStore>(
    store: &S,
    who: &str,
    context: &StoreContext,
) {
    let chat = chat_id(&format!("chat-{who}"));
    let record = VisitorRecord {
        visitor_ref: Some(format!("ref-{who}")),
        latest_chat_id: Some(chat.clone()),
        ..visitor(who, "Visitor")
    };
    store
        .record_started_chat(
            &record,
            &chat,
            &chat_started(chat.as_str(), 10, who),
            context,
        )
        .await
        .unwrap();
    for (n, id) in ["agent-1", "agent-2"].into_iter().enumerate() {
        let event = message_added(chat.as_str(), id, 11 + n as i64, "hello");
        store
            .apply_message_event(&chat, &MessageId::new(id), &event, context)
            .await
            .unwrap();
    }
    let sent = sent_message(chat.as_str(), "visitor-1", 20, Some("k-sent"), None);
    store.record_sent_message(&sent, context).await.unwrap();
    let claim = Claim {
        owner: format!("request-of-{who}"),
        text_digest: "digest".into(),
    };
    store
        .reserve_send(&chat, "k-in-flight", &claim, context)
        .await
        .unwrap();
    store.claim_start(&record.key, &claim).await.unwrap();
    let connection = ConnectionRecord {
        id: ConnectionId::new(format!("conn-{who}")),
        visitor: record.key.clone(),
        endpoint: String::new(),
        chats: vec![chat.clone()],
        expires_at: Utc::now() + chrono::Duration::hours(2),
    };
    store.put_connection(&connection).await.unwrap();
    store
        .put_subscription(&SubscriptionRecord {
            chat_id: chat.clone(),
            connection_id: connection.id.clone(),
            endpoint: String::new(),
            position: 0,
            expires_at: connection.expires_at,
        })
        .await
        .unwrap();
    store
        .advance_notify_position(&chat, 2, context)
        .await
        .unwrap();
    store
        .claim_notification(&chat, &MessageId::new("agent-1"), context)
        .await
        .unwrap();
    let limit = RateLimit::new(30, 10).unwrap();
    for key in [
        RateKey::Sends(record.key.clone()),
        RateKey::Starts(record.key.clone()),
    ] {
        assert!(super::rate::take(store, &key, limit).await);
    }
}

fn mentioning(held: &[Held], who: &str) -> Vec<Held> {
    held.iter()
        .filter(|item| item.text.contains(who))
        .cloned()
        .collect()
}

pub(crate) async fn erasing_a_chat_deletes_its_items_and_nothing_else<
    S: ChatStore + SubscriptionStore + ErasureStore + Inventory,
>(
    store: S,
) {
    let context = crate::context();
    fill(&store, "ada", &context).await;
    fill(&store, "bob", &context).await;
    let bobs = mentioning(&store.held().await, "bob");

    let erased = store.erase_chat(&chat_id("chat-ada")).await.unwrap();
    let expected = Erased {
        chats: 1,
        messages: 3,
        feed_positions: 1,
        feed_entries: 3,
        send_keys: 2,
        subscriptions: 1,
        notify_positions: 1,
        notifications: 1,
        ..Erased::default()
    };
    assert_eq!(erased.erased, expected);
    assert_eq!(erased.subscribers, [ConnectionId::new("conn-ada")]);
    let left = store.held().await;
    // The visitor's record and its connection's still name the chat: the service clears
    // those (`Service::erase_chat`), the store deletes.
    let about_the_chat: Vec<&Held> = left
        .iter()
        .filter(|item| item.text.contains("chat-ada"))
        .filter(|item| !matches!(item.kind, ItemKind::Connection | ItemKind::Visitor))
        .collect();
    assert!(about_the_chat.is_empty(), "left: {about_the_chat:#?}");
    assert!(
        mentioning(&left, "bob") == bobs,
        "another visitor's items changed"
    );
    assert_eq!(store.get_chat(&chat_id("chat-ada")).await.unwrap(), None);

    let again = store.erase_chat(&chat_id("chat-ada")).await.unwrap();
    assert_eq!((again.erased.total(), again.subscribers.len()), (0, 0));
}

pub(crate) async fn erasing_a_visitor_deletes_its_record_claim_connections_and_buckets<
    S: ChatStore + SubscriptionStore + ErasureStore + Inventory,
>(
    store: S,
) {
    let context = crate::context();
    fill(&store, "ada", &context).await;
    fill(&store, "bob", &context).await;
    let bobs = mentioning(&store.held().await, "bob");
    let ada = visitor_key("ada");

    let erased = store.erase_visitor(&ada).await.unwrap();
    let expected = Erased {
        visitors: 1,
        start_claims: 1,
        connections: 1,
        rate_buckets: 2,
        ..Erased::default()
    };
    assert_eq!(erased, expected);
    assert_eq!(store.get_visitor(&ada).await.unwrap(), None);
    let connection = ConnectionId::new("conn-ada");
    assert_eq!(store.get_connection(&connection).await.unwrap(), None);
    let left = store.held().await;
    let of_the_visitor: Vec<&Held> = left
        .iter()
        .filter(|item| item.text.contains(ada.as_str()) || item.text.contains("conn-ada"))
        .filter(|item| item.kind != ItemKind::Chat && item.kind != ItemKind::Subscription)
        .collect();
    assert!(of_the_visitor.is_empty(), "left: {of_the_visitor:#?}");
    assert!(
        mentioning(&left, "bob") == bobs,
        "another visitor's items changed"
    );
    assert_eq!(store.erase_visitor(&ada).await.unwrap().total(), 0);
}

pub(crate) async fn a_persons_visitors_and_chats_are_found<
    S: ChatStore + SubscriptionStore + ErasureStore,
>(
    store: S,
) {
    let context = crate::context();
    fill(&store, "ada", &context).await;
    fill(&store, "bob", &context).await;
    // Ada on a second device: another visitor with the same visitor_ref.
    let second = VisitorRecord {
        visitor_ref: Some("ref-ada".into()),
        ..visitor("ada-phone", "Ada")
    };
    store.put_visitor(&second, &context).await.unwrap();

    let mut found = store.visitors_of(&PersonKey::of("ref-ada")).await.unwrap();
    found.sort();
    assert_eq!(found, [visitor_key("ada"), visitor_key("ada-phone")]);
    assert!(
        store
            .visitors_of(&PersonKey::of("ref-nobody"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.chats_of(&visitor_key("ada")).await.unwrap(),
        [ChatId::new("chat-ada")]
    );
    assert!(
        store
            .chats_of(&visitor_key("ada-phone"))
            .await
            .unwrap()
            .is_empty()
    );

    // A visitor_ref given again at a later start, changed: found by the new one only.
    let renamed = VisitorRecord {
        visitor_ref: Some("ref-ada-new".into()),
        ..second
    };
    store.put_visitor(&renamed, &context).await.unwrap();
    let found = store.visitors_of(&PersonKey::of("ref-ada")).await.unwrap();
    assert_eq!(found, [visitor_key("ada")]);
    let found = store
        .visitors_of(&PersonKey::of("ref-ada-new"))
        .await
        .unwrap();
    assert_eq!(found, [visitor_key("ada-phone")]);
}
