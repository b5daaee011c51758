//! Sending messages: at once in history without a duplicate echo, idempotency by
//! `client_message_id` and `Idempotency-Key`, ended chats, and a renewed Giosg token.

use reqwest::Method;
use serde_json::{Value, json};
use shared::store::ChatStore;

use crate::{messages, support};

pub(crate) async fn sent_message_is_in_history_at_once_and_the_echo_does_not_duplicate_it<
    S: ChatStore,
>(
    store: S,
) {
    let env = support::harness::start(store).await;
    env.sim(Method::POST, "/_sim/webhooks/pause", Some(json!({})))
        .await;
    let (token, chat) = env.new_chat("Ada").await;
    let sent = env.send(&token, &chat, "Hello, is anyone there?").await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let message = &sent.body["message"];
    assert_eq!(message["text"], "Hello, is anyone there?");
    assert_eq!(message["sender"]["type"], "visitor");
    assert_eq!(message["chat_id"], chat.as_str());
    assert_eq!(message["deleted"], false);
    // In history before any webhook has been delivered.
    let before_echo = env.history(&token, &chat, "").await;
    assert_eq!(messages(&before_echo).len(), 1);
    env.sim(Method::POST, "/_sim/webhooks/resume", Some(json!({})))
        .await;
    env.flush_webhooks().await;
    let after_echo = env.history(&token, &chat, "").await;
    let texts: Vec<Value> = messages(&after_echo)
        .into_iter()
        .filter(|m| m["type"] == "msg")
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(
        texts,
        vec![json!("Hello, is anyone there?")],
        "{}",
        after_echo.body
    );
    let waiting = support::harness::behaviour().waiting_on_visitor_message;
    assert_eq!(
        after_echo.body["chat"]["status"],
        if waiting { "waiting" } else { "open" }
    );
    env.stop().await;
}

pub(crate) async fn client_message_id_replay_returns_the_first_answer_and_sends_nothing<
    S: ChatStore,
>(
    store: S,
) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let path = format!("/v1/chats/{chat}/messages");
    let first = env
        .call(
            Method::POST,
            &path,
            Some(&token),
            Some(json!({"text": "once", "client_message_id": "k-1"})),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["message"]["client_message_id"], "k-1");
    let replay = env
        .call(
            Method::POST,
            &path,
            Some(&token),
            Some(json!({"text": "different text", "client_message_id": "k-1"})),
        )
        .await;
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.body["message"]["id"], first.body["message"]["id"]);
    assert_eq!(replay.body["message"]["text"], "once");
    assert_eq!(env.giosg_calls("send_message").await, 1);
    env.flush_webhooks().await;
    let history = env.history(&token, &chat, "").await;
    let own: Vec<Value> = messages(&history)
        .into_iter()
        .filter(|m| m["type"] == "msg")
        .collect();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["client_message_id"], "k-1");
    // Too long a key is refused.
    env.call(
        Method::POST,
        &path,
        Some(&token),
        Some(json!({"text": "x", "client_message_id": "k".repeat(65)})),
    )
    .await
    .assert_error(400, "invalid_request");
    env.stop().await;
}

pub(crate) async fn idempotency_key_header_works_like_client_message_id<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let path = format!("/v1/chats/{chat}/messages");
    let headers = [("Idempotency-Key", "h-1")];
    let first = env
        .call_with(
            Method::POST,
            &path,
            Some(&token),
            Some(json!({"text": "a"})),
            &headers,
        )
        .await;
    assert_eq!(first.status, 201);
    let again = env
        .call_with(
            Method::POST,
            &path,
            Some(&token),
            Some(json!({"text": "b"})),
            &headers,
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["message"]["id"], first.body["message"]["id"]);
    assert_eq!(env.giosg_calls("send_message").await, 1);
    env.stop().await;
}

pub(crate) async fn ended_chat_refuses_messages_without_calling_giosg<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/end"),
        Some(json!({})),
    )
    .await;
    env.flush_webhooks().await;
    let sends = env.giosg_calls("send_message").await;
    env.send(&token, &chat, "anyone?")
        .await
        .assert_error(409, "chat_ended");
    assert_eq!(env.giosg_calls("send_message").await, sends);
    env.stop().await;
}

pub(crate) async fn expired_giosg_token_is_renewed_and_the_message_is_sent<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let visitors = env.sim(Method::GET, "/_sim/visitors", None).await;
    let visitor_id = visitors
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["variables"]["username"] == "Ada")
        .unwrap()["visitor_id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.sim(
        Method::POST,
        &format!("/_sim/visitors/{visitor_id}/expire_token"),
        Some(json!({})),
    )
    .await;
    let auths = env.giosg_calls("visitor_auth").await;
    assert_eq!(env.send(&token, &chat, "still here").await.status, 201);
    assert_eq!(
        env.giosg_calls("visitor_auth").await,
        auths + 1,
        "re-authenticated once"
    );
    // The renewed token was stored: the next message needs no new authentication.
    assert_eq!(env.send(&token, &chat, "and again").await.status, 201);
    assert_eq!(env.giosg_calls("visitor_auth").await, auths + 1);
    env.stop().await;
}

/// A send Giosg refuses (here a 409) in a chat its organization API shows open is answered
/// `502 giosg_unavailable` and the chat stays open: the next message is sent.
pub(crate) async fn a_refused_send_in_an_open_chat_does_not_end_it<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    env.sim(
        Method::POST,
        "/_sim/faults",
        Some(json!({"endpoint": "send_message", "status": 409, "count": 1})),
    )
    .await;
    env.send(&token, &chat, "refused")
        .await
        .assert_error(502, "giosg_unavailable");
    assert_eq!(env.giosg_calls("owned_chat").await, 1, "asked Giosg why");
    let chat_now = env
        .call(
            Method::GET,
            &format!("/v1/chats/{chat}"),
            Some(&token),
            None,
        )
        .await;
    assert_ne!(chat_now.body["chat"]["status"], "ended");
    assert_eq!(env.send(&token, &chat, "sent").await.status, 201);
    env.stop().await;
}
