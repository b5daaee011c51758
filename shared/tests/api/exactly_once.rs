//! Exactly once when things fail halfway (spec §8): a send whose Giosg outcome is unknown is
//! found out by the retry with the same key, never sent twice; overlapping sends with one key
//! send once.

use reqwest::Method;
use serde_json::{Value, json};
use shared::store::ChatStore;

use crate::support::harness::{Reply, TestEnv};
use crate::{messages, support};

/// The visitor's text messages as Giosg holds them (the simulator's copy of the chat).
async fn in_giosg<S: ChatStore>(env: &TestEnv<S>, chat: &str) -> Vec<String> {
    let detail = env
        .sim(Method::GET, &format!("/_sim/chats/{chat}"), None)
        .await;
    detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["sender_type"] == "visitor" && m["type"] == "msg")
        .map(|m| m["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The visitor's messages in our history.
async fn in_history<S: ChatStore>(env: &TestEnv<S>, token: &str, chat: &str) -> Vec<Value> {
    env.flush_webhooks().await;
    messages(&env.history(token, chat, "").await)
        .into_iter()
        .filter(|m| m["sender"]["type"] == "visitor")
        .collect()
}

async fn send_with_key<S: ChatStore>(
    env: &TestEnv<S>,
    token: &str,
    chat: &str,
    text: &str,
    key: &str,
) -> Reply {
    env.call(
        Method::POST,
        &format!("/v1/chats/{chat}/messages"),
        Some(token),
        Some(json!({"text": text, "client_message_id": key})),
    )
    .await
}

async fn fault<S: ChatStore>(env: &TestEnv<S>, spec: Value) {
    env.sim(Method::POST, "/_sim/faults", Some(spec)).await;
}

/// Giosg stored the message and its answer was lost (a 502 after the fact): the visitor gets
/// 503, and the retry with the same key answers with the message that landed, sending nothing.
pub(crate) async fn a_send_giosg_took_whose_answer_was_lost_is_not_sent_again<S: ChatStore>(
    store: S,
) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    fault(
        &env,
        json!({"endpoint": "send_message", "status": 502, "after_effect": true}),
    )
    .await;
    let failed = send_with_key(&env, &token, &chat, "did it land?", "k-lost").await;
    failed.assert_error(503, "giosg_unavailable");
    assert_eq!(in_giosg(&env, &chat).await, ["did it land?"]);

    let retry = send_with_key(&env, &token, &chat, "did it land?", "k-lost").await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(retry.body["message"]["text"], "did it land?");
    assert_eq!(retry.body["message"]["client_message_id"], "k-lost");
    let again = send_with_key(&env, &token, &chat, "did it land?", "k-lost").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["message"]["id"], retry.body["message"]["id"]);

    assert_eq!(env.giosg_calls("send_message").await, 1, "sent once");
    assert_eq!(in_giosg(&env, &chat).await, ["did it land?"]);
    let history = in_history(&env, &token, &chat).await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["client_message_id"], "k-lost");
    assert_eq!(history[0]["id"], retry.body["message"]["id"]);
    env.stop().await;
}

/// A failure that leaves the outcome unknown but did not land (a 504 before Giosg acted): the
/// retry finds nothing in Giosg and sends, once.
pub(crate) async fn a_send_with_an_unknown_outcome_that_did_not_land_is_sent_by_the_retry<
    S: ChatStore,
>(
    store: S,
) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    fault(&env, json!({"endpoint": "send_message", "status": 504})).await;
    send_with_key(&env, &token, &chat, "second time lucky", "k-504")
        .await
        .assert_error(503, "giosg_unavailable");
    assert!(in_giosg(&env, &chat).await.is_empty());
    let retry = send_with_key(&env, &token, &chat, "second time lucky", "k-504").await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(in_giosg(&env, &chat).await, ["second time lucky"]);
    assert_eq!(in_history(&env, &token, &chat).await.len(), 1);
    env.stop().await;
}

/// Five overlapping sends with one key: one Giosg message; the others replay it or are told the
/// send is under way (409), never a second copy.
pub(crate) async fn overlapping_sends_with_one_key_send_once<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    env.sim(
        Method::POST,
        "/_sim/delays",
        Some(json!({"endpoint": "send_message", "delay_ms": 150, "count": 5})),
    )
    .await;
    let replies = futures::future::join_all(
        (0..5).map(|_| send_with_key(&env, &token, &chat, "just once", "k-race")),
    )
    .await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 201, 409].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(in_giosg(&env, &chat).await, ["just once"]);
    assert_eq!(in_history(&env, &token, &chat).await.len(), 1);
    // Once settled, every retry answers with the one message.
    let settled = send_with_key(&env, &token, &chat, "just once", "k-race").await;
    assert_eq!(settled.status, 200);
    env.stop().await;
}

/// The visitor's chat ends; its next start then opens a new chat. Returns the token.
async fn visitor_whose_chat_ended<S: ChatStore>(env: &TestEnv<S>) -> String {
    let (token, chat) = env.new_chat("Ada").await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/end"),
        Some(json!({})),
    )
    .await;
    env.flush_webhooks().await;
    token
}

async fn start<S: ChatStore>(env: &TestEnv<S>, token: &str) -> Reply {
    env.call(
        Method::POST,
        "/v1/chats",
        Some(token),
        Some(json!({"visitor_name": "Ada"})),
    )
    .await
}

/// Five overlapping starts with one token (after the visitor's chat ended): one Giosg chat,
/// and every answer names it.
pub(crate) async fn overlapping_starts_with_one_token_open_one_chat<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let token = visitor_whose_chat_ended(&env).await;
    let before = env.giosg_calls("start_chat").await;
    env.sim(
        Method::POST,
        "/_sim/delays",
        Some(json!({"endpoint": "start_chat", "delay_ms": 200, "count": 5})),
    )
    .await;
    let replies = futures::future::join_all((0..5).map(|_| start(&env, &token))).await;
    let ids: Vec<&Value> = replies.iter().map(|r| &r.body["chat"]["id"]).collect();
    assert!(
        replies.iter().all(|r| [200, 201].contains(&r.status)),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, &r.body))
            .collect::<Vec<_>>()
    );
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert_eq!(env.giosg_calls("start_chat").await - before, 1);
    env.stop().await;
}

/// Giosg started the chat and the answer was lost: the visitor gets 503, and the retry answers
/// with that chat instead of opening another.
pub(crate) async fn a_start_giosg_took_whose_answer_was_lost_is_found_by_the_retry<S: ChatStore>(
    store: S,
) {
    let env = support::harness::start(store).await;
    let token = visitor_whose_chat_ended(&env).await;
    fault(
        &env,
        json!({"endpoint": "start_chat", "status": 502, "after_effect": true}),
    )
    .await;
    start(&env, &token)
        .await
        .assert_error(503, "giosg_unavailable");
    let before = env.giosg_calls("start_chat").await;
    let retry = start(&env, &token).await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(
        env.giosg_calls("start_chat").await,
        before,
        "no second chat is started"
    );
    let chats = env.call(Method::GET, "/v1/chats", Some(&token), None).await;
    let listed: Vec<&Value> = chats.body["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(listed.len(), 2, "the ended chat and the one Giosg started");
    assert_eq!(*listed[0], retry.body["chat"]["id"]);
    // The chat works: a message goes through.
    let chat = retry.body["chat"]["id"].as_str().unwrap();
    assert_eq!(env.send(&token, chat, "hello again").await.status, 201);
    env.stop().await;
}

/// The echo webhook of a send whose answer was lost settles the send: the message shows in the
/// feed with its key (the frontend recognises its own message), and the retry answers with it
/// without asking Giosg. Without an echo (the contrary profile), the retry finds out instead.
pub(crate) async fn the_echo_of_a_send_whose_answer_was_lost_settles_it<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    fault(
        &env,
        json!({"endpoint": "send_message", "status": 504, "after_effect": true}),
    )
    .await;
    send_with_key(&env, &token, &chat, "echoed", "k-echo")
        .await
        .assert_error(503, "giosg_unavailable");
    let history = in_history(&env, &token, &chat).await;
    let echoes = support::harness::behaviour().echo_visitor_messages;
    if echoes {
        assert_eq!(history.len(), 1, "{history:?}");
        assert_eq!(history[0]["client_message_id"], "k-echo");
    } else {
        assert!(history.is_empty(), "{history:?}");
    }
    let retry = send_with_key(&env, &token, &chat, "echoed", "k-echo").await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(retry.body["message"]["client_message_id"], "k-echo");
    let asked = env.giosg_calls("visitor_messages").await;
    assert_eq!(
        asked,
        u64::from(!echoes),
        "Giosg asked only without an echo"
    );
    assert_eq!(env.giosg_calls("send_message").await, 1);
    assert_eq!(in_history(&env, &token, &chat).await.len(), 1);
    env.stop().await;
}
