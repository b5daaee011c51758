//! The settings that stand for giosg-api.md §6 (message shapes, extra message types, page
//! links, error bodies, success statuses, timestamp precision), each shown over HTTP, and
//! control API messages of any type from any sender.

use giosg_sim::{AgentMessageRequest, FaultSpec, MessageType, ParticipantType};
use serde_json::{Value, json};

use crate::support::{Harness, id_of, keys, sorted};

/// Status, `Content-Type` and body text of a call, for answers that may not be JSON.
pub(crate) async fn raw(
    h: &Harness,
    method: &str,
    path: &str,
    authorization: Option<String>,
    body: Option<Value>,
) -> (u16, String, String) {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        h.url(path)
    };
    let mut request = h.http.request(method.parse().unwrap(), url);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// The number of fractional-second digits of a timestamp (with or without `Z`).
pub(crate) fn fraction_digits(stamp: &str) -> usize {
    let fraction = stamp.rsplit_once('.').expect("a fraction").1;
    let fraction = fraction.strip_suffix('Z').unwrap_or(fraction);
    assert!(fraction.chars().all(|c| c.is_ascii_digit()), "{stamp}");
    fraction.len()
}

fn org_messages_path(h: &Harness, chat_id: &str) -> String {
    format!("/api/v5/orgs/{}/owned_chats/{chat_id}/messages", h.org())
}

#[tokio::test]
async fn micros_precision_writes_six_digits_in_both_forms_and_orders_pages() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"timestamp_precision": "micros"}))
        .await
        .unwrap();
    let (visitor, chat_id) = h.visitor_with_chat().await;
    for i in 1..=4 {
        h.send(&visitor, &chat_id, &format!("m{i}")).await;
    }
    h.control().join(&chat_id, Some("Jones")).await.unwrap();
    let mut stamps = Vec::new();
    let mut url = org_messages_path(&h, &chat_id);
    let mut seen = Vec::new();
    loop {
        let (status, page) = h.org_call("GET", &url, None).await;
        assert_eq!(status, 200, "{page}");
        for message in page["results"].as_array().unwrap() {
            stamps.push(message["created_at"].as_str().unwrap().to_owned());
            seen.push(message["type"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, ["msg", "msg", "msg", "msg", "join"]);
    for stamp in &stamps {
        assert!(stamp.ends_with('Z'), "{stamp}");
        assert_eq!(fraction_digits(stamp), 6, "{stamp}");
    }
    let mut sorted_stamps = stamps.clone();
    sorted_stamps.sort();
    sorted_stamps.dedup();
    assert_eq!(sorted_stamps, stamps, "strictly increasing");

    h.control()
        .update_settings(&json!({"timestamp_format": "no_offset"}))
        .await
        .unwrap();
    let message = h.send(&visitor, &chat_id, "later").await;
    let created = message["created_at"].as_str().unwrap();
    assert_eq!(
        created.len(),
        "2015-02-13T11:31:36.042123".len(),
        "{created}"
    );
    assert_eq!(fraction_digits(created), 6);
}

#[tokio::test]
async fn without_message_room_id_messages_carry_no_room_id_anywhere() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"message_room_id": false}))
        .await
        .unwrap();
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let sent = h.send(&visitor, &chat_id, "hi").await;
    let reply = h.control().agent_message(&chat_id, "Hello").await.unwrap();
    assert!(reply.room_id.is_none());
    assert!(sent.get("room_id").is_none(), "{sent}");
    assert_eq!(sent["chat_id"], chat_id.as_str());

    let (_, visitor_page) = h
        .bearer(
            &visitor,
            "GET",
            &Harness::messages_path(&visitor, &chat_id),
            None,
        )
        .await;
    let (_, org_page) = h
        .org_call("GET", &org_messages_path(&h, &chat_id), None)
        .await;
    for page in [&visitor_page, &org_page] {
        let results = page["results"].as_array().unwrap();
        assert_eq!(results.len(), 3, "{page}");
        for message in results {
            assert!(message.get("room_id").is_none(), "{message}");
        }
    }
    let received = h.all_hooks().await;
    for hook in &received {
        let resource = &hook.body["resource"];
        if hook.hook == "messages" {
            assert!(resource.get("room_id").is_none(), "{}", hook.body);
            assert_eq!(resource["chat_id"], chat_id.as_str());
        } else if hook.body["action"] == "added" {
            assert_eq!(resource["room_id"], h.sim.room_id(), "chats keep room_id");
        }
    }
    let (_, chat) = h
        .org_call(
            "GET",
            &format!("/api/v5/orgs/{}/owned_chats/{chat_id}", h.org()),
            None,
        )
        .await;
    assert_eq!(chat["room_id"], h.sim.room_id());
}

#[tokio::test]
async fn message_chat_id_always_puts_chat_id_in_changed_and_removed_messages() {
    let h = Harness::start().await;
    let (_visitor, chat_id) = h.visitor_with_chat().await;
    let reply = h.control().agent_message(&chat_id, "Helo").await.unwrap();
    h.settle().await;
    h.control()
        .edit_message(&chat_id, &reply.id, "Hullo")
        .await
        .unwrap();
    let default_changed = h.hooks("messages").await;
    assert_eq!(default_changed[0]["resource"], json!({"message": "Hullo"}));
    h.settle().await;

    h.control()
        .update_settings(&json!({"message_chat_id": "always"}))
        .await
        .unwrap();
    h.control()
        .edit_message(&chat_id, &reply.id, "Hello")
        .await
        .unwrap();
    h.control()
        .purge_message(&chat_id, &reply.id)
        .await
        .unwrap();
    h.control()
        .delete_message(&chat_id, &reply.id)
        .await
        .unwrap();
    let messages = h.hooks("messages").await;
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[0]["resource"],
        json!({"message": "Hello", "chat_id": chat_id})
    );
    assert_eq!(
        keys(&messages[1]["resource"]),
        sorted(&["message", "sensitive_data_purged_at", "chat_id"])
    );
    assert_eq!(messages[2]["action"], "removed");
    assert_eq!(messages[2]["resource"]["chat_id"], chat_id.as_str());

    h.settle().await;
    h.control()
        .update_settings(&json!({"removed_resource": "empty"}))
        .await
        .unwrap();
    let other = h.control().agent_message(&chat_id, "bye").await.unwrap();
    h.settle().await;
    h.control()
        .delete_message(&chat_id, &other.id)
        .await
        .unwrap();
    let removed = h.hooks("messages").await;
    assert_eq!(
        removed[0]["resource"],
        json!({}),
        "an empty one stays empty"
    );
}

#[tokio::test]
async fn extra_message_types_post_a_greeting_and_join_notices_from_rules() {
    let h = Harness::start().await;
    h.control()
        .update_settings(&json!({"extra_message_types": true}))
        .await
        .unwrap();
    let visitor = h.visitor().await;
    let chat = h.start_chat(&visitor).await;
    let chat_id = id_of(&chat);
    let received = h.all_hooks().await;
    let summary: Vec<(&str, &str)> = received
        .iter()
        .map(|r| (r.hook.as_str(), r.body["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("chats", "added"),
            ("messages", "added"),
            ("chats", "changed")
        ]
    );
    let greeting = &received[1].body["resource"];
    assert_eq!(greeting["type"], "autosuggest");
    assert_eq!(greeting["sender_type"], "rule");
    assert_eq!(greeting["sender_name"], "Greeting rule");
    assert_eq!(greeting["sender_public_name"], "Assistant");
    assert_eq!(greeting["message"], "Hi! How can we help you today?");
    let action = &greeting["attachments"][0]["actions"][0];
    assert_eq!(action["type"], "button");
    assert!(action["id"].is_string() && action["text"].is_string());
    assert_eq!(greeting["chat_id"], chat_id.as_str());
    h.settle().await;

    h.control().join(&chat_id, Some("Brown")).await.unwrap();
    let received = h.all_hooks().await;
    let types: Vec<(&str, Value)> = received
        .iter()
        .map(|r| (r.hook.as_str(), r.body["resource"]["type"].clone()))
        .collect();
    assert_eq!(
        types,
        [
            ("messages", json!("join")),
            ("messages", json!("system")),
            ("chats", Value::Null)
        ]
    );
    let notice = &received[1].body["resource"];
    assert_eq!(notice["sender_type"], "rule");
    assert_eq!(notice["message"], "Brown joined the chat");

    let (_, page) = h
        .org_call("GET", &org_messages_path(&h, &chat_id), None)
        .await;
    let listed: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["autosuggest", "join", "system"]);
    let chat = h.control().chat(&chat_id).await.unwrap().chat;
    assert_eq!(chat.message_count, 0, "only msg counts");
    let other_greeting = &h.control().chat(&chat_id).await.unwrap().messages[0];
    let second = h.start_chat(&visitor).await;
    let second_greeting = &h.control().chat(&id_of(&second)).await.unwrap().messages[0];
    assert_eq!(
        other_greeting.sender_id, second_greeting.sender_id,
        "the room's rule has a stable id"
    );
}

#[tokio::test]
async fn control_messages_take_any_type_and_sender_in_every_profile() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    let post = |kind: Option<MessageType>, sender: Option<ParticipantType>, text: &str| {
        let request = AgentMessageRequest {
            text: Some(text.to_owned()),
            kind,
            sender_type: sender,
            ..Default::default()
        };
        let control = h.control();
        let chat_id = chat_id.clone();
        async move { control.send_agent_message(&chat_id, &request).await }
    };
    let suggestion = post(
        Some(MessageType::Autosuggest),
        Some(ParticipantType::Rule),
        "Need help?",
    )
    .await
    .unwrap();
    assert_eq!(
        (suggestion.kind, suggestion.sender_type),
        (MessageType::Autosuggest, ParticipantType::Rule)
    );
    let press = post(
        Some(MessageType::Action),
        Some(ParticipantType::Visitor),
        "Talk to an agent",
    )
    .await
    .unwrap();
    assert_eq!(press.sender_id, visitor.id);
    assert_eq!(press.kind, MessageType::Action);
    let reply = post(None, None, "Hello").await.unwrap();
    assert_eq!(
        (reply.kind, reply.sender_type),
        (MessageType::Msg, ParticipantType::User)
    );
    let chat = h.control().chat(&chat_id).await.unwrap();
    assert_eq!(chat.chat.message_count, 1, "only the msg counts");
    assert_eq!(chat.chat.visitor_message_count, 0);
    assert_eq!(chat.memberships.len(), 2, "rules never become members");

    let path = format!("/_sim/chats/{chat_id}/messages");
    for body in [
        json!({"text": "x", "type": "join"}),
        json!({"text": "x", "type": "nonsense"}),
        json!({"text": "x", "sender_type": "robot"}),
    ] {
        let (status, answer) = h.call("POST", &path, None, Some(body)).await;
        assert_eq!(status, 400, "{answer}");
    }
    let hooks = h.hooks("messages").await;
    let senders: Vec<&str> = hooks
        .iter()
        .map(|m| m["resource"]["sender_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        senders,
        ["rule", "visitor", "user", "user"],
        "join, then msg"
    );
}

#[tokio::test]
async fn next_links_can_be_relative_or_on_another_origin() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    for i in 1..=7 {
        h.send(&visitor, &chat_id, &format!("m{i}")).await;
    }
    let first_page = Harness::messages_path(&visitor, &chat_id);
    h.control()
        .update_settings(&json!({"next_links": "relative"}))
        .await
        .unwrap();
    let (_, page) = h.bearer(&visitor, "GET", &first_page, None).await;
    let next = page["next"].as_str().unwrap();
    assert!(next.starts_with(&format!("{first_page}?cursor=")), "{next}");
    let (_, second) = h.bearer(&visitor, "GET", next, None).await;
    assert_eq!(second["results"][0]["message"], "m4");
    assert!(second["previous"].as_str().unwrap().starts_with('/'));

    h.control()
        .update_settings(&json!({"next_links": "other_origin"}))
        .await
        .unwrap();
    let (_, page) = h.bearer(&visitor, "GET", &first_page, None).await;
    let next = page["next"].as_str().unwrap();
    let path = next
        .strip_prefix("http://giosg-internal.invalid:8000")
        .unwrap_or_else(|| panic!("other origin: {next}"));
    let (_, second) = h.bearer(&visitor, "GET", path, None).await;
    assert_eq!(second["results"][0]["message"], "m4");
    let previous = second["previous"].as_str().unwrap();
    assert!(previous.starts_with("http://giosg-internal.invalid:8000/api/v5/"));
}

#[tokio::test]
async fn text_error_bodies_are_html_pages_with_the_same_statuses() {
    let h = Harness::start().await;
    let (visitor, chat_id) = h.visitor_with_chat().await;
    h.control()
        .update_settings(&json!({"error_body": "text"}))
        .await
        .unwrap();
    let messages = Harness::messages_path(&visitor, &chat_id);
    let (status, content_type, body) = raw(&h, "GET", &messages, None, None).await;
    assert_eq!(status, 401);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(body.contains("<h1>Unauthorized</h1>"), "{body}");
    let bearer = Some(format!("Bearer {}", visitor.token));
    let empty = json!({"type": "msg"});
    let (status, content_type, body) =
        raw(&h, "POST", &messages, bearer.clone(), Some(empty)).await;
    assert_eq!(
        (status, content_type.as_str()),
        (400, "text/html; charset=utf-8")
    );
    assert!(
        body.contains("<h1>Bad Request</h1>") && body.contains("message: "),
        "{body}"
    );
    let (status, _, body) = raw(&h, "GET", "/api/v5/nothing", None, None).await;
    assert_eq!(status, 404);
    assert!(body.contains("<h1>Not Found</h1>"), "{body}");

    h.control()
        .add_fault(&FaultSpec {
            endpoint: giosg_sim::Endpoint::VisitorMessages.into(),
            status: 503,
            count: 1,
            retry_after: None,
            delay_ms: None,
            after_effect: false,
        })
        .await
        .unwrap();
    let (status, content_type, _) = raw(&h, "GET", &messages, bearer, None).await;
    assert_eq!(
        (status, content_type.as_str()),
        (503, "application/json"),
        "injected faults keep their JSON body"
    );
    let (status, body) = h.call("GET", "/_sim/chats/nope", None, None).await;
    assert_eq!(status, 404);
    assert!(body["detail"].is_string(), "the control API stays JSON");
}

#[tokio::test]
async fn start_chat_and_send_message_success_statuses_are_settings() {
    let h = Harness::start().await;
    let visitor = h.visitor().await;
    h.control()
        .update_settings(&json!({"start_chat_status": 200, "send_message_status": 200}))
        .await
        .unwrap();
    let (status, chat) = h
        .bearer(&visitor, "POST", &h.start_chat_path(&visitor), None)
        .await;
    assert_eq!(status, 200, "{chat}");
    let body = json!({"type": "msg", "message": "hi"});
    let path = Harness::messages_path(&visitor, &id_of(&chat));
    let (status, message) = h.bearer(&visitor, "POST", &path, Some(body)).await;
    assert_eq!(status, 200, "{message}");
    for bad in [
        json!({"start_chat_status": 404}),
        json!({"send_message_status": 302}),
    ] {
        let (status, body) = h.call("PUT", "/_sim/settings", None, Some(bad)).await;
        assert_eq!(status, 400, "{body}");
    }
}
