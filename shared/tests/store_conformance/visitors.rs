//! Visitors: stored, read back and replaced; a visitor's chats, newest first; the combined reads
//! (visitor and chat, and the send context).

use shared::domain::visitor::VisitorRecord;
use shared::store::{ChatStore, Claim, SendState};

use crate::{apply_chat, chat_added, chat_id, chat_started, context, visitor, visitor_key};

pub(crate) async fn visitor_is_stored_read_back_and_replaced<S: ChatStore>(store: S) {
    assert_eq!(store.get_visitor(&visitor_key("ada")).await.unwrap(), None);
    let first = visitor("ada", "Ada");
    store.put_visitor(&first, &context()).await.unwrap();
    assert_eq!(
        store.get_visitor(&visitor_key("ada")).await.unwrap(),
        Some(first)
    );
    let renamed = VisitorRecord {
        latest_chat_id: Some(chat_id("c1")),
        ..visitor("ada", "Ada Lovelace")
    };
    store.put_visitor(&renamed, &context()).await.unwrap();
    assert_eq!(
        store.get_visitor(&visitor_key("ada")).await.unwrap(),
        Some(renamed)
    );
}

pub(crate) async fn visitor_chats_are_newest_first_and_only_the_owners<S: ChatStore>(store: S) {
    apply_chat(&store, "c-old", chat_started("c-old", 10, "ada")).await;
    apply_chat(&store, "c-new", chat_started("c-new", 30, "ada")).await;
    apply_chat(&store, "c-mid", chat_started("c-mid", 20, "ada")).await;
    apply_chat(&store, "c-bob", chat_started("c-bob", 40, "bob")).await;
    apply_chat(&store, "c-nobody", chat_added("c-nobody", 50)).await;
    let chats = store.visitor_chats(&visitor_key("ada")).await.unwrap();
    let order: Vec<&str> = chats.iter().map(|chat| chat.id.as_str()).collect();
    assert_eq!(order, ["c-new", "c-mid", "c-old"]);
    assert_eq!(
        chats[0],
        store.get_chat(&chat_id("c-new")).await.unwrap().unwrap()
    );
    let bobs = store.visitor_chats(&visitor_key("bob")).await.unwrap();
    assert_eq!(bobs.len(), 1);
    assert!(
        store
            .visitor_chats(&visitor_key("eve"))
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn combined_reads_return_what_was_stored<S: ChatStore>(store: S) {
    let ada = visitor("ada", "Ada");
    let (none_visitor, none_chat) = store
        .get_visitor_and_chat(&ada.key, &chat_id("c1"))
        .await
        .unwrap();
    assert_eq!((none_visitor, none_chat), (None, None));
    let empty = store
        .send_context(&ada.key, &chat_id("c1"), Some("k1"))
        .await
        .unwrap();
    assert!(empty.visitor.is_none() && empty.chat.is_none() && empty.key_state.is_none());

    store.put_visitor(&ada, &context()).await.unwrap();
    let (_, chat) = apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    let (visitor, stored_chat) = store
        .get_visitor_and_chat(&ada.key, &chat_id("c1"))
        .await
        .unwrap();
    assert_eq!(visitor, Some(ada.clone()));
    assert_eq!(stored_chat, chat);

    let without_key = store
        .send_context(&ada.key, &chat_id("c1"), None)
        .await
        .unwrap();
    assert_eq!(without_key.visitor, Some(ada.clone()));
    assert_eq!(without_key.chat, chat);
    assert_eq!(without_key.key_state, None);
    store
        .reserve_send(
            &chat_id("c1"),
            "k1",
            &Claim {
                owner: "request-a".into(),
                text_digest: "digest".into(),
            },
            &context(),
        )
        .await
        .unwrap();
    let with_key = store
        .send_context(&ada.key, &chat_id("c1"), Some("k1"))
        .await
        .unwrap();
    assert_eq!(with_key.visitor, Some(ada));
    assert_eq!(with_key.chat, chat);
    assert!(matches!(
        with_key.key_state,
        Some(SendState::InFlight { .. })
    ));
}
