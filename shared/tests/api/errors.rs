//! Errors and limits: a Giosg outage, unknown or malformed tokens, another visitor's chat, and
//! message text validation and size limits.

use reqwest::Method;
use serde_json::json;
use shared::store::ChatStore;

use crate::support;

pub(crate) async fn giosg_outage_is_giosg_unavailable<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    env.sim(
        Method::POST,
        "/_sim/faults",
        Some(json!({"endpoint": "*", "status": 503, "count": 1000})),
    )
    .await;
    let reply = env
        .call(
            Method::POST,
            "/v1/chats",
            None,
            Some(json!({"visitor_name": "Ada"})),
        )
        .await;
    reply.assert_error(503, "giosg_unavailable");
    env.stop().await;
}

pub(crate) async fn unknown_or_malformed_tokens_are_unauthorized<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (_, chat_id) = env.new_chat("Ada").await;
    let unknown = "A".repeat(43);
    for token in [Some(unknown.as_str()), Some("not-a-token"), None] {
        for (method, path) in [
            (Method::GET, "/v1/chats".to_owned()),
            (Method::GET, format!("/v1/chats/{chat_id}")),
            (Method::GET, format!("/v1/chats/{chat_id}/messages")),
        ] {
            env.call(method, &path, token, None)
                .await
                .assert_error(401, "unauthorized");
        }
        env.call(
            Method::POST,
            &format!("/v1/chats/{chat_id}/messages"),
            token,
            Some(json!({"text": "hi"})),
        )
        .await
        .assert_error(401, "unauthorized");
    }
    // A token that is present but unknown never silently creates a new visitor.
    env.call(
        Method::POST,
        "/v1/chats",
        Some(&unknown),
        Some(json!({"visitor_name": "Eve"})),
    )
    .await
    .assert_error(401, "unauthorized");
    env.stop().await;
}

pub(crate) async fn another_visitors_chat_is_not_found<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (_, ada_chat) = env.new_chat("Ada").await;
    let (bob, bob_chat) = env.new_chat("Bob").await;
    let sends_before = env.giosg_calls("send_message").await;
    env.call(
        Method::GET,
        &format!("/v1/chats/{ada_chat}"),
        Some(&bob),
        None,
    )
    .await
    .assert_error(404, "not_found");
    env.history(&bob, &ada_chat, "")
        .await
        .assert_error(404, "not_found");
    env.send(&bob, &ada_chat, "hi")
        .await
        .assert_error(404, "not_found");
    env.call(Method::GET, "/v1/chats/does-not-exist", Some(&bob), None)
        .await
        .assert_error(404, "not_found");
    assert_eq!(env.giosg_calls("send_message").await, sends_before);
    let mine = env.call(Method::GET, "/v1/chats", Some(&bob), None).await;
    let ids: Vec<&str> = mine.body["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![bob_chat.as_str()]);
    env.stop().await;
}

pub(crate) async fn message_text_is_validated<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    env.send(&token, &chat, "")
        .await
        .assert_error(400, "invalid_request");
    env.send(&token, &chat, "  \n ")
        .await
        .assert_error(400, "invalid_request");
    env.send(&token, &chat, &"ü".repeat(2001))
        .await
        .assert_error(413, "payload_too_large");
    let max = env.send(&token, &chat, &"ü".repeat(2000)).await;
    assert_eq!(
        max.status, 201,
        "2000 characters (4000 bytes) are fine: {}",
        max.body
    );
    env.call(
        Method::POST,
        &format!("/v1/chats/{chat}/messages"),
        Some(&token),
        Some(json!({"txt": "typo"})),
    )
    .await
    .assert_error(400, "invalid_request");
    let raw = env
        .http
        .post(format!("{}/v1/chats/{chat}/messages", env.api))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    assert_eq!(
        env.giosg_calls("send_message").await,
        1,
        "only the valid one was sent"
    );
    env.stop().await;
}

/// A body field of the wrong type is a 400 whose message names the field, and nothing happens.
pub(crate) async fn a_field_of_the_wrong_type_is_named<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let reply = env
        .call(
            Method::POST,
            "/v1/chats",
            None,
            Some(json!({"visitor_name": 123})),
        )
        .await;
    reply.assert_error(400, "invalid_request");
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("visitor_name"), "{message}");
    assert_eq!(env.giosg_calls("visitor_auth").await, 0, "nothing started");
    // `visitor_ref` (for away notifications): 1 to 128 characters.
    for visitor_ref in [json!(""), json!("r".repeat(129)), json!(5)] {
        let reply = env
            .call(
                Method::POST,
                "/v1/chats",
                None,
                Some(json!({"visitor_name": "Ada", "visitor_ref": visitor_ref})),
            )
            .await;
        reply.assert_error(400, "invalid_request");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("visitor_ref"), "{message}");
    }
    assert_eq!(env.giosg_calls("visitor_auth").await, 0, "nothing started");
    let started = env
        .call(
            Method::POST,
            "/v1/chats",
            None,
            Some(json!({"visitor_name": "Ada", "visitor_ref": "user-42"})),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    assert!(
        !started.body.to_string().contains("user-42"),
        "visitor_ref is stored, not shown"
    );

    let (token, chat_id) = env.new_chat("Ada").await;
    for (body, field) in [
        (json!({"text": ["hi"]}), "text"),
        (
            json!({"text": "hi", "client_message_id": 7}),
            "client_message_id",
        ),
    ] {
        let reply = env
            .call(
                Method::POST,
                &format!("/v1/chats/{chat_id}/messages"),
                Some(&token),
                Some(body),
            )
            .await;
        reply.assert_error(400, "invalid_request");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
    }
    assert_eq!(env.giosg_calls("send_message").await, 0, "nothing sent");
    env.stop().await;
}
