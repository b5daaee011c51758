//! Messages: one that arrives before its chat, purged text that never comes back, and removed
//! messages.

use shared::domain::EventAction;
use shared::domain::cursor::PageRequest;
use shared::domain::message::MessageEvent;
use shared::domain::{Field, MessageId, MessageResource};
use shared::store::{Applied, ChatStore};

use crate::{
    apply_chat, apply_message, at, chat_id, chat_started, history, ids, message_added,
    message_changed,
};

pub(crate) async fn message_before_its_chat_is_kept_and_shows_in_history<S: ChatStore>(store: S) {
    let (applied, _) =
        apply_message(&store, "c1", "m1", message_added("c1", "m1", 11, "early")).await;
    assert_eq!(applied, Applied::Stored);
    assert_eq!(store.get_chat(&chat_id("c1")).await.unwrap(), None);
    apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;
    let page = history(&store, "c1", PageRequest::Latest { limit: 50 }).await;
    assert_eq!(ids(&page), ["m1"]);
    assert_eq!(
        page.messages[0].text.get().map(String::as_str),
        Some("early")
    );
    assert!(!page.has_older);
}

pub(crate) async fn purged_text_never_comes_back_after_a_later_edit<S: ChatStore>(store: S) {
    apply_message(
        &store,
        "c1",
        "m1",
        message_added("c1", "m1", 10, "my card is 4242"),
    )
    .await;
    apply_message(
        &store,
        "c1",
        "m1",
        message_changed(MessageResource {
            sensitive_data_purged_at: Field::Value(at(20)),
            message: Field::Null,
            updated_at: Field::Value(at(20)),
            ..MessageResource::default()
        }),
    )
    .await;
    apply_message(
        &store,
        "c1",
        "m1",
        message_changed(MessageResource {
            message: Field::Value("my card is 4242 (edited)".into()),
            updated_at: Field::Value(at(30)),
            ..MessageResource::default()
        }),
    )
    .await;
    apply_message(
        &store,
        "c1",
        "m1",
        message_added("c1", "m1", 10, "my card is 4242"),
    )
    .await;
    let stored = store
        .get_message(&chat_id("c1"), &MessageId::new("m1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.purged_at.at(), Some(at(20)));
    assert_eq!(stored.text.get(), None);
    assert_eq!(stored.view().text, None);
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    assert_eq!(page.messages, [stored]);
}

pub(crate) async fn removed_message_loses_its_text_and_a_late_added_does_not_restore_it<
    S: ChatStore,
>(
    store: S,
) {
    let removal = MessageEvent {
        action: EventAction::Removed,
        resource: None,
        client_message_id: None,
    };
    // Removed after it was stored.
    apply_message(&store, "c1", "m1", message_added("c1", "m1", 10, "oops")).await;
    apply_message(&store, "c1", "m1", removal.clone()).await;
    // Removed before its `added` arrived.
    apply_message(&store, "c1", "m2", removal).await;
    apply_message(
        &store,
        "c1",
        "m2",
        message_added("c1", "m2", 11, "oops again"),
    )
    .await;
    for id in ["m1", "m2"] {
        let stored = store
            .get_message(&chat_id("c1"), &MessageId::new(id))
            .await
            .unwrap();
        if let Some(stored) = stored {
            assert!(stored.removed.is_set(), "{id} stays removed");
            assert_eq!(stored.text.get(), None, "{id} has no text");
            assert!(stored.view().deleted);
        }
    }
    let page = history(&store, "c1", PageRequest::Latest { limit: 10 }).await;
    for message in &page.messages {
        assert!(message.removed.is_set() && message.text.get().is_none());
    }
}

/// A message too big for one storage item (a bot card with hundreds of large buttons) is stored
/// with attachments dropped from the end and says so; one that fits (a 125 KB card) is stored
/// whole. A redelivery of the big one changes nothing.
pub(crate) async fn oversized_attachments_are_trimmed_and_flagged<S: ChatStore>(store: S) {
    use shared::domain::{Attachment, AttachmentAction};

    let card = |buttons: usize, text_len: usize| -> Vec<Attachment> {
        (0..buttons)
            .map(|n| Attachment {
                id: Some(format!("card-{n}")),
                title: Some("x".repeat(text_len)),
                actions: vec![AttachmentAction {
                    id: Some(format!("b{n}")),
                    text: Some("Choose".into()),
                    action_type: Some("button".into()),
                    ..AttachmentAction::default()
                }],
                ..Attachment::default()
            })
            .collect()
    };
    let with_card = |id: &str, attachments: Vec<Attachment>| {
        let mut event = message_added("c1", id, 11, "Pick one");
        event.resource.as_mut().unwrap().attachments = Field::Value(attachments);
        event
    };
    apply_chat(&store, "c1", chat_started("c1", 10, "ada")).await;

    let fitting = card(150, 700);
    let (applied, _) =
        apply_message(&store, "c1", "m-fits", with_card("m-fits", fitting.clone())).await;
    assert_eq!(applied, Applied::Stored);
    let stored = store
        .get_message(&chat_id("c1"), &MessageId::new("m-fits"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.attachments.get(), Some(&fitting));
    assert!(!stored.attachments_truncated);

    let oversized = card(150, 3000);
    let big = with_card("m-big", oversized.clone());
    let (applied, _) = apply_message(&store, "c1", "m-big", big.clone()).await;
    assert_eq!(applied, Applied::Stored);
    let stored = store
        .get_message(&chat_id("c1"), &MessageId::new("m-big"))
        .await
        .unwrap()
        .unwrap();
    let kept = stored.attachments.get().unwrap();
    assert!(
        !kept.is_empty() && kept.len() < oversized.len(),
        "{} kept",
        kept.len()
    );
    assert_eq!(kept[..], oversized[..kept.len()], "dropped from the end");
    assert!(stored.attachments_truncated);
    assert!(stored.view().attachments_truncated);
    let (again, _) = apply_message(&store, "c1", "m-big", big).await;
    assert_eq!(again, Applied::Unchanged);
    let page = history(&store, "c1", PageRequest::Latest { limit: 50 }).await;
    assert_eq!(page.messages.len(), 2);
}
