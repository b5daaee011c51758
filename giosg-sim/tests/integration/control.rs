//! The control API itself: config, settings, views, errors, shutdown.

use giosg_sim::{AgentMessageRequest, Attachment, AttachmentAction, SimConfig, Simulator};
use serde_json::json;

use crate::support::Harness;

#[tokio::test]
async fn config_reports_ids_base_url_and_api_token() {
    let h = Harness::start().await;
    let info = h.control().info().await.unwrap();
    assert_eq!(info.base_url, h.sim.base_url());
    assert_eq!(info.org_id, h.org());
    assert_eq!(info.room_id, h.sim.room_id());
    assert_eq!(info.other_room_id, h.sim.other_room_id());
    assert_eq!(info.api_token, h.sim.api_token());
    assert!(!h.sim.base_url().ends_with('/'));
    assert_eq!(h.sim.local_addr().port(), h.sim.config().bind.port());
}

#[tokio::test]
async fn settings_merge_partial_updates_and_refuse_unknown_keys_or_bad_values() {
    let h = Harness::start().await;
    let defaults = h.control().settings().await.unwrap();
    assert_eq!(defaults, giosg_sim::Behaviour::default());
    let updated = h
        .control()
        .update_settings(&json!({"ended_chat_send_status": 409}))
        .await
        .unwrap();
    assert_eq!(updated.ended_chat_send_status, 409);
    assert_eq!(updated.offline_start_status, defaults.offline_start_status);
    for bad in [
        json!({"no_such_setting": 1}),
        json!({"ended_chat_send_status": 200}),
        json!({"removed_resource": "sometimes"}),
    ] {
        let (status, body) = h.call("PUT", "/_sim/settings", None, Some(bad)).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["settings"][0].is_string());
    }
    assert_eq!(h.control().settings().await.unwrap(), updated);
}

#[tokio::test]
async fn chat_views_show_chats_of_both_rooms_with_messages_and_memberships() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.send(&visitor, &chat_id, "hello").await;
    h.control()
        .send_agent_message(
            &chat_id,
            &AgentMessageRequest {
                text: Some("Pick one".into()),
                agent_name: Some("Taylor".into()),
                attachments: vec![Attachment {
                    text: Some("Options".into()),
                    actions: vec![AttachmentAction {
                        text: Some("Yes".into()),
                        kind: Some("button".into()),
                        value: Some("yes".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    h.control()
        .start_widget_chat(&Default::default())
        .await
        .unwrap();

    let chats = h.control().chats().await.unwrap();
    assert_eq!(chats.len(), 2);
    assert!(chats[0].in_configured_room && !chats[1].in_configured_room);
    assert_eq!(chats[0].messages_total, 3);
    assert_eq!(chats[0].chat.message_count, 2);

    let detail = h.control().chat(&chat_id).await.unwrap();
    assert_eq!(detail.visitor_id, visitor.id);
    assert_eq!(detail.messages.len(), 3);
    assert_eq!(detail.memberships.len(), 2);
    let card = &detail.messages[2].attachments[0];
    assert!(
        !card.id.is_empty() && !card.actions[0].id.is_empty(),
        "ids are generated"
    );
}

#[tokio::test]
async fn control_errors_are_json_with_detail() {
    let h = Harness::start().await;
    let (status, body) = h
        .call(
            "POST",
            "/_sim/chats/nope/messages",
            None,
            Some(json!({"text": "x"})),
        )
        .await;
    assert_eq!(status, 404);
    assert!(body["detail"].is_string());
    let (_visitor, chat_id) = h.visitor_with_chat().await;
    h.control().end_chat(&chat_id).await.unwrap();
    let path = format!("/_sim/chats/{chat_id}/messages");
    let (status, _) = h
        .call("POST", &path, None, Some(json!({"text": "late"})))
        .await;
    assert_eq!(status, 409, "an ended chat takes no new messages");
    let (status, _) = h
        .call("POST", &format!("/_sim/chats/{chat_id}/join"), None, None)
        .await;
    assert_eq!(status, 409, "nor new members");
    let (status, _) = h
        .call("POST", &path, None, Some(json!({"text": "  "})))
        .await;
    assert_eq!(status, 400);
    let (status, _) = h
        .call("POST", "/_sim/visitors/nope/expire_token", None, None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_like_drf() {
    let h = Harness::start().await;
    assert_eq!(
        h.call("GET", "/api/v5/nothing", None, None).await,
        (404, json!({"detail": "Not found."}))
    );
    let (status, body) = h.call("DELETE", "/_sim/config", None, None).await;
    assert_eq!(status, 405);
    assert_eq!(body, json!({"detail": "Method \"DELETE\" not allowed."}));
}

#[tokio::test]
async fn invalid_config_is_refused_at_start() {
    let mut config = SimConfig::new("127.0.0.1:0".parse().unwrap());
    config.other_room_id = config.room_id.clone();
    assert!(Simulator::start(config).await.is_err());
    let mut config = SimConfig::new("127.0.0.1:0".parse().unwrap());
    config.chat_webhook_url = Some("ftp://example.invalid/".into());
    assert!(Simulator::start(config).await.is_err());
    let config = SimConfig::new("127.0.0.1:0".parse().unwrap());
    assert!(
        !format!("{config:?}").contains(&config.api_token),
        "Debug hides the token"
    );
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sim = Simulator::start(SimConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let url = format!("{}/_sim/config", sim.base_url());
    assert!(reqwest::get(&url).await.unwrap().status().is_success());
    sim.shutdown().await;
    assert!(reqwest::get(&url).await.is_err());
}
