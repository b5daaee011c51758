//! giosg-api.md §4 events that change or remove what was said (edits, purges, deletions), and
//! the simulator settings that change the envelopes' shape, asserted as exact envelopes.

use giosg_sim::WidgetChatRequest;
use serde_json::{Value, json};

use crate::support::{Harness, Received, id_of, keys, sorted};
use crate::webhook_events::assert_envelope;

#[tokio::test]
async fn message_edit_emits_message_changed_with_only_the_new_text() {
    let h = Harness::start().await;
    let (_visitor, chat_id) = h.visitor_with_chat().await;
    let reply = h.control().agent_message(&chat_id, "Helo").await.unwrap();
    h.settle().await;
    h.control()
        .edit_message(&chat_id, &reply.id, "Hello")
        .await
        .unwrap();
    let received = h.all_hooks().await;
    assert_eq!(received.len(), 1);
    let changed = &received[0].body;
    assert_envelope(changed, &h.messages_channel(&chat_id), "changed", &reply.id);
    assert_eq!(changed["resource"], json!({"message": "Hello"}));
}

#[tokio::test]
async fn message_purge_emits_message_changed_with_null_message_and_purge_time() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let message = h
        .send(&visitor, &chat_id, "my card is 4111 1111 1111 1111")
        .await;
    let message_id = id_of(&message);
    h.settle().await;
    let purged = h
        .control()
        .purge_message(&chat_id, &message_id)
        .await
        .unwrap();
    let received = h.all_hooks().await;
    assert_eq!(received.len(), 1);
    let changed = &received[0].body;
    assert_envelope(
        changed,
        &h.messages_channel(&chat_id),
        "changed",
        &message_id,
    );
    assert_eq!(
        keys(&changed["resource"]),
        sorted(&["message", "sensitive_data_purged_at"])
    );
    assert_eq!(changed["resource"]["message"], Value::Null);
    assert_eq!(
        changed["resource"]["sensitive_data_purged_at"].as_str(),
        purged.sensitive_data_purged_at.as_deref()
    );
}

#[tokio::test]
async fn message_delete_emits_removed_with_last_state_then_chat_changed_counters() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let message = h.send(&visitor, &chat_id, "oops").await;
    let message_id = id_of(&message);
    h.settle().await;
    h.control()
        .delete_message(&chat_id, &message_id)
        .await
        .unwrap();
    let received = h.all_hooks().await;
    assert_eq!(received.len(), 2);
    let removed = &received[0].body;
    assert_envelope(
        removed,
        &h.messages_channel(&chat_id),
        "removed",
        &message_id,
    );
    assert_eq!(removed["resource"], message, "default: the last state");
    let changed = &received[1].body;
    assert_envelope(changed, &h.chats_channel(), "changed", &chat_id);
    assert_eq!(changed["resource"]["message_count"], 0);
    assert!(changed["resource"]["updated_at"].is_string());
}

#[tokio::test]
async fn chat_delete_emits_removed_with_last_state_by_default() {
    let h = Harness::start().await;
    let (_visitor, chat_id) = h.visitor_with_chat().await;
    let (_, before) = h
        .org_call(
            "GET",
            &format!("/api/v5/orgs/{}/owned_chats/{chat_id}", h.org()),
            None,
        )
        .await;
    h.control().delete_chat(&chat_id).await.unwrap();
    let chats = h.hooks("chats").await;
    assert_eq!(chats.len(), 1);
    assert_envelope(&chats[0], &h.chats_channel(), "removed", &chat_id);
    assert_eq!(chats[0]["resource"], before);
    let (status, _) = h
        .org_call(
            "GET",
            &format!("/api/v5/orgs/{}/owned_chats/{chat_id}", h.org()),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn removed_resource_empty_setting_sends_an_empty_object() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"removed_resource": "empty"}))
        .await
        .unwrap();
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let message_id = id_of(&h.send(&visitor, &chat_id, "x").await);
    h.settle().await;
    h.control()
        .delete_message(&chat_id, &message_id)
        .await
        .unwrap();
    h.control().delete_chat(&chat_id).await.unwrap();
    let removed: Vec<Received> = h
        .all_hooks()
        .await
        .into_iter()
        .filter(|r| r.body["action"] == "removed")
        .collect();
    assert_eq!(removed.len(), 2);
    for hook in removed {
        assert_eq!(hook.body["resource"], json!({}), "{}", hook.body);
    }
}

#[tokio::test]
async fn removed_resource_absent_setting_omits_the_resource_key() {
    let h = Harness::start_with(|config| {
        config.behaviour.removed_resource = giosg_sim::RemovedResource::Absent;
    })
    .await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let message_id = id_of(&h.send(&visitor, &chat_id, "x").await);
    h.settle().await;
    h.control()
        .delete_message(&chat_id, &message_id)
        .await
        .unwrap();
    h.control().delete_chat(&chat_id).await.unwrap();
    let removed: Vec<Received> = h
        .all_hooks()
        .await
        .into_iter()
        .filter(|r| r.body["action"] == "removed")
        .collect();
    assert_eq!(removed.len(), 2);
    for hook in removed {
        assert!(hook.body.get("resource").is_none(), "{}", hook.body);
        assert_eq!(
            keys(&hook.body),
            sorted(&["channel", "action", "resource_id"])
        );
    }
}

#[tokio::test]
async fn without_echo_a_visitor_message_emits_only_chat_changed() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"echo_visitor_messages": false}))
        .await
        .unwrap();
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.send(&visitor, &chat_id, "hi").await;
    let received = h.all_hooks().await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].hook, "chats");
}

#[tokio::test]
async fn waiting_not_driven_by_visitor_messages_keeps_is_waiting_false() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"waiting_on_visitor_message": false}))
        .await
        .unwrap();
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.send(&visitor, &chat_id, "hi").await;
    let chats = h.hooks("chats").await;
    assert!(
        chats[0]["resource"].get("is_waiting").is_none(),
        "{}",
        chats[0]
    );
}

#[tokio::test]
async fn changed_includes_id_setting_adds_the_id_to_changed_resources() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"changed_includes_id": true}))
        .await
        .unwrap();
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.send(&visitor, &chat_id, "hi").await;
    let chats = h.hooks("chats").await;
    assert_eq!(chats[0]["resource"]["id"], chat_id.as_str());
}

#[tokio::test]
async fn app_user_auth_setting_adds_bot_credentials_to_envelopes() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"include_app_user_auth": true}))
        .await
        .unwrap();
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.send(&visitor, &chat_id, "hi").await;
    for hook in h.all_hooks().await {
        let auth = &hook.body["app_user_auth"];
        assert_eq!(auth["token_type"], "Bearer");
        assert_eq!(auth["organization_id"], h.org());
    }
}

#[tokio::test]
async fn other_room_traffic_emits_the_same_webhooks_with_the_other_room_id() {
    let h = Harness::start().await;
    let widget = h
        .control()
        .start_widget_chat(&WidgetChatRequest {
            visitor_name: Some("Web Visitor".into()),
            message: Some("Hi from the website".into()),
        })
        .await
        .unwrap();
    let chat_id = widget.chat.id.clone();
    assert_eq!(widget.chat.room_id, h.sim.other_room_id());
    h.control()
        .agent_message(&chat_id, "Hello website visitor")
        .await
        .unwrap();

    let received = h.all_hooks().await;
    let summary: Vec<(String, String, String)> = received
        .iter()
        .map(|r| {
            let resource_type = if r.hook == "chats" {
                "chat".to_owned()
            } else {
                r.body["resource"]["type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                r.hook.clone(),
                r.body["action"].as_str().unwrap().to_owned(),
                resource_type,
            )
        })
        .collect();
    let expected = [
        ("chats", "added", "chat"),
        ("messages", "added", "msg"),
        ("chats", "changed", "chat"),
        ("messages", "added", "join"),
        ("chats", "changed", "chat"),
        ("messages", "added", "msg"),
        ("chats", "changed", "chat"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(summary, expected);
    assert_eq!(
        received[0].body["resource"]["room_id"],
        h.sim.other_room_id()
    );
    assert_eq!(received[0].body["channel"], h.chats_channel());
    for message in received.iter().filter(|r| r.hook == "messages") {
        assert_eq!(message.body["resource"]["room_id"], h.sim.other_room_id());
        assert_eq!(message.body["channel"], h.messages_channel(&chat_id));
    }
    assert_eq!(received[1].body["resource"]["sender_name"], "Web Visitor");
}
