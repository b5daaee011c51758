//! Each event of giosg-api.md §4 "What Giosg emits" in a chat's life (start, messages, join,
//! reply, leave, end), asserted as exact envelopes; edits, removals and the settings that change
//! the envelopes are in `webhook_changes`.

use serde_json::{Value, json};

use crate::support::{CHAT_KEYS, Harness, MESSAGE_KEYS, id_of, keys, sorted};

pub(crate) fn assert_envelope(hook: &Value, channel: &str, action: &str, resource_id: &str) {
    assert_eq!(hook["channel"], channel, "{hook}");
    assert_eq!(hook["action"], action, "{hook}");
    assert_eq!(hook["resource_id"], resource_id, "{hook}");
    assert!(
        hook.get("app_user_auth").is_none(),
        "no bot user by default: {hook}"
    );
}

#[tokio::test]
async fn visitor_starting_a_chat_emits_chat_added_with_the_full_resource() {
    let h = Harness::start().await;
    let visitor = h.visitor().await;
    let chat = h.start_chat(&visitor).await;
    let chat_id = id_of(&chat);

    let chat_hooks = h.hooks("chats").await;
    assert_eq!(chat_hooks.len(), 1);
    assert_envelope(&chat_hooks[0], &h.chats_channel(), "added", &chat_id);
    let resource = &chat_hooks[0]["resource"];
    assert_eq!(keys(resource), sorted(&CHAT_KEYS));
    assert_eq!(resource, &chat, "the webhook carries what the API answered");
    assert_eq!(resource["room_id"], h.sim.room_id());
    assert_eq!(resource["room_organization_id"], h.org());
    assert_eq!(resource["chat_type"], "visitor");
    assert_eq!(resource["is_waiting"], false);
    assert_eq!(resource["visitor_member_count"], 1);
    assert!(
        h.hooks("messages").await.is_empty(),
        "a chat start sends no message webhook"
    );
}

#[tokio::test]
async fn visitor_message_emits_its_echo_as_message_added_and_chat_changed_waiting_true() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let message = h.send(&visitor, &chat_id, "Hello?").await;
    let message_id = id_of(&message);

    let received = h.all_hooks().await;
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].hook, "messages",
        "message added comes before chat changed"
    );
    let added = &received[0].body;
    assert_envelope(added, &h.messages_channel(&chat_id), "added", &message_id);
    assert_eq!(keys(&added["resource"]), sorted(&MESSAGE_KEYS));
    assert_eq!(added["resource"], message);
    assert_eq!(added["resource"]["sender_type"], "visitor");
    assert_eq!(added["resource"]["sender_id"], visitor.id.as_str());
    assert_eq!(added["resource"]["message"], "Hello?");
    assert_eq!(added["resource"]["room_id"], h.sim.room_id());

    let changed = &received[1].body;
    assert_envelope(changed, &h.chats_channel(), "changed", &chat_id);
    let resource = &changed["resource"];
    assert_eq!(
        keys(resource),
        sorted(&[
            "updated_at",
            "is_waiting",
            "waiting_started_at",
            "message_count",
            "visitor_message_count",
            "has_messages",
            "has_visitor_messages",
        ])
    );
    assert_eq!(resource["is_waiting"], true);
    assert!(resource["waiting_started_at"].is_string());
    assert_eq!(resource["message_count"], 1);
    assert!(resource.get("id").is_none() && resource.get("room_id").is_none());
}

#[tokio::test]
async fn second_visitor_message_changes_only_counters_and_updated_at() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.send(&visitor, &chat_id, "one").await;
    h.settle().await;
    h.send(&visitor, &chat_id, "two").await;
    let chats = h.hooks("chats").await;
    assert_eq!(chats.len(), 1);
    assert_eq!(
        keys(&chats[0]["resource"]),
        sorted(&["updated_at", "message_count", "visitor_message_count"]),
        "is_waiting stays true and waiting_started_at keeps the first message's time"
    );
}

#[tokio::test]
async fn agent_join_emits_join_message_added_and_chat_changed_member_counts() {
    let h = Harness::start().await;
    let (_visitor, chat_id) = h.visitor_with_chat().await;
    let outcome = h.control().join(&chat_id, Some("Smith")).await.unwrap();
    assert!(outcome.joined);

    let received = h.all_hooks().await;
    assert_eq!(received.len(), 2);
    let added = &received[0].body;
    let join = outcome.message.unwrap();
    assert_envelope(added, &h.messages_channel(&chat_id), "added", &join.id);
    let resource = &added["resource"];
    assert_eq!(resource["type"], "join");
    assert_eq!(resource["sender_type"], "user");
    assert_eq!(resource["message"], Value::Null);
    assert_eq!(resource["sender_name"], "Agent Smith (internal)");
    assert_eq!(resource["sender_public_name"], "Smith");
    assert!(resource["sender_avatar"]["url"].is_string());

    let changed = &received[1].body;
    assert_envelope(changed, &h.chats_channel(), "changed", &chat_id);
    assert_eq!(
        keys(&changed["resource"]),
        sorted(&[
            "updated_at",
            "member_count",
            "user_member_count",
            "present_participant_count",
            "present_user_participant_count",
        ])
    );
    assert_eq!(changed["resource"]["user_member_count"], 1);
    assert_eq!(changed["resource"]["member_count"], 2);
}

#[tokio::test]
async fn joining_again_while_participating_emits_nothing() {
    let h = Harness::start().await;
    let (_visitor, chat_id) = h.visitor_with_chat().await;
    h.control().join(&chat_id, None).await.unwrap();
    h.settle().await;
    let again = h.control().join(&chat_id, None).await.unwrap();
    assert!(!again.joined);
    assert!(h.all_hooks().await.is_empty());
}

#[tokio::test]
async fn agent_reply_emits_message_added_and_chat_changed_waiting_false() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.send(&visitor, &chat_id, "Anyone there?").await;
    h.control().join(&chat_id, None).await.unwrap();
    h.settle().await;

    let reply = h
        .control()
        .agent_message(&chat_id, "Hi, Smith here")
        .await
        .unwrap();
    let received = h.all_hooks().await;
    assert_eq!(received.len(), 2);
    let added = &received[0].body;
    assert_envelope(added, &h.messages_channel(&chat_id), "added", &reply.id);
    assert_eq!(added["resource"]["sender_type"], "user");
    assert_eq!(added["resource"]["type"], "msg");
    assert_eq!(added["resource"]["message"], "Hi, Smith here");
    assert_eq!(added["resource"]["sender_public_name"], "Smith");
    assert_eq!(added["resource"]["sender_name"], "Agent Smith (internal)");

    let changed = &received[1].body;
    assert_envelope(changed, &h.chats_channel(), "changed", &chat_id);
    assert_eq!(
        keys(&changed["resource"]),
        sorted(&[
            "updated_at",
            "is_waiting",
            "waiting_started_at",
            "message_count",
            "user_message_count",
            "has_user_messages",
            "is_real_conversation",
        ])
    );
    assert_eq!(changed["resource"]["is_waiting"], false);
    assert_eq!(changed["resource"]["waiting_started_at"], Value::Null);
    assert_eq!(changed["resource"]["is_real_conversation"], true);
}

#[tokio::test]
async fn agent_reply_without_joining_first_joins_automatically() {
    let h = Harness::start().await;
    let (_visitor, chat_id) = h.visitor_with_chat().await;
    h.control().agent_message(&chat_id, "Hello").await.unwrap();
    let messages = h.hooks("messages").await;
    let types: Vec<&Value> = messages.iter().map(|m| &m["resource"]["type"]).collect();
    assert_eq!(types, [&json!("join"), &json!("msg")]);
    assert_eq!(h.hooks("chats").await.len(), 2, "one chat changed per step");
}

#[tokio::test]
async fn agent_leave_emits_leave_message_added_and_chat_changed() {
    let h = Harness::start().await;
    let (_visitor, chat_id) = h.visitor_with_chat().await;
    h.control().join(&chat_id, Some("Brown")).await.unwrap();
    h.settle().await;

    let leave = h.control().leave(&chat_id, Some("Brown")).await.unwrap();
    let received = h.all_hooks().await;
    assert_eq!(received.len(), 2);
    let added = &received[0].body;
    assert_envelope(added, &h.messages_channel(&chat_id), "added", &leave.id);
    assert_eq!(added["resource"]["type"], "leave");
    assert_eq!(added["resource"]["sender_type"], "user");
    assert_eq!(added["resource"]["sender_public_name"], "Brown");
    let changed = &received[1].body;
    assert_envelope(changed, &h.chats_channel(), "changed", &chat_id);
    assert_eq!(
        keys(&changed["resource"]),
        sorted(&[
            "updated_at",
            "present_participant_count",
            "present_user_participant_count"
        ])
    );
    assert_eq!(changed["resource"]["present_user_participant_count"], 0);
}

#[tokio::test]
async fn visitor_ending_the_chat_emits_chat_changed_with_is_ended_and_ended_at() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let path = format!("/api/v5/public/visitors/{}/chats/{chat_id}", visitor.id);
    let (status, chat) = h
        .bearer(&visitor, "PATCH", &path, Some(json!({"is_ended": true})))
        .await;
    assert_eq!(status, 200, "{chat}");
    assert_eq!(chat["is_ended"], true);

    let chats = h.hooks("chats").await;
    assert_eq!(chats.len(), 1);
    assert_envelope(&chats[0], &h.chats_channel(), "changed", &chat_id);
    let resource = &chats[0]["resource"];
    assert_eq!(
        keys(resource),
        sorted(&["updated_at", "is_ended", "ended_at"])
    );
    assert_eq!(resource["is_ended"], true);
    assert_eq!(resource["ended_at"], chat["ended_at"]);
    assert!(h.hooks("messages").await.is_empty());
}

#[tokio::test]
async fn agent_ending_a_waiting_chat_emits_is_ended_and_waiting_false() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.send(&visitor, &chat_id, "help").await;
    h.settle().await;
    h.control().end_chat(&chat_id).await.unwrap();
    let chats = h.hooks("chats").await;
    assert_eq!(chats.len(), 1);
    assert_eq!(
        keys(&chats[0]["resource"]),
        sorted(&[
            "updated_at",
            "is_ended",
            "ended_at",
            "is_waiting",
            "waiting_started_at"
        ])
    );
}

#[tokio::test]
async fn ending_an_ended_chat_again_emits_nothing() {
    let h = Harness::start().await;
    let (_visitor, chat_id) = h.visitor_with_chat().await;
    h.control().end_chat(&chat_id).await.unwrap();
    h.settle().await;
    h.control().end_chat(&chat_id).await.unwrap();
    assert!(h.all_hooks().await.is_empty());
}
