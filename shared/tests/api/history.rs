//! Message history: Giosg order with agent replies, joins and leaves; cursors for paging and
//! polling; validated parameters.

use reqwest::Method;
use serde_json::json;
use shared::store::ChatStore;

use crate::{messages, support};

pub(crate) async fn history_is_in_giosg_order_with_agent_replies_join_and_leave<S: ChatStore>(
    store: S,
) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    env.send(&token, &chat, "hi").await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/join"),
        Some(json!({"agent_name": "Smith"})),
    )
    .await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/messages"),
        Some(json!({"text": "Hello Ada", "agent_name": "Smith"})),
    )
    .await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/leave"),
        Some(json!({"agent_name": "Smith"})),
    )
    .await;
    env.flush_webhooks().await;
    let history = env.history(&token, &chat, "").await;
    assert_eq!(history.status, 200);
    let kinds: Vec<(String, String)> = messages(&history)
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap().to_owned(),
                m["sender"]["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let kinds: Vec<(&str, &str)> = kinds
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("msg", "visitor"),
            ("join", "agent"),
            ("msg", "agent"),
            ("leave", "agent")
        ],
        "{}",
        history.body
    );
    let reply = &messages(&history)[2];
    assert_eq!(reply["text"], "Hello Ada");
    let name = reply["sender"]["name"].as_str().unwrap();
    assert!(!name.contains("internal"), "public name only: {name}");
    let times: Vec<String> = messages(&history)
        .iter()
        .map(|m| m["created_at"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    env.stop().await;
}

pub(crate) async fn history_cursors_page_and_poll<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    for i in 0..7 {
        assert_eq!(env.send(&token, &chat, &format!("m{i}")).await.status, 201);
    }
    let texts = |reply: &support::harness::Reply| -> Vec<String> {
        messages(reply)
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    };
    let latest = env.history(&token, &chat, "?limit=3").await;
    assert_eq!(texts(&latest), ["m4", "m5", "m6"]);
    let prev = latest.body["prev_cursor"].as_str().unwrap().to_owned();
    let older = env
        .history(&token, &chat, &format!("?limit=3&before={prev}"))
        .await;
    assert_eq!(texts(&older), ["m1", "m2", "m3"]);
    let prev = older.body["prev_cursor"].as_str().unwrap().to_owned();
    let oldest = env
        .history(&token, &chat, &format!("?limit=3&before={prev}"))
        .await;
    assert_eq!(texts(&oldest), ["m0"]);
    assert!(oldest.body["prev_cursor"].is_null(), "start reached");
    // Polling: nothing new keeps the cursor; something new comes alone.
    let next = latest.body["next_cursor"].as_str().unwrap().to_owned();
    let empty = env.history(&token, &chat, &format!("?after={next}")).await;
    assert!(messages(&empty).is_empty());
    assert_eq!(empty.body["next_cursor"], next.as_str());
    env.send(&token, &chat, "m7").await;
    let polled = env.history(&token, &chat, &format!("?after={next}")).await;
    assert_eq!(texts(&polled), ["m7"]);
    // Paging forward from the very start with `after`.
    let first_page = env.history(&token, &chat, "?limit=100").await;
    assert_eq!(messages(&first_page).len(), 8);
    assert!(first_page.body["prev_cursor"].is_null());
    env.stop().await;
}

pub(crate) async fn history_parameters_are_validated<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    for query in [
        "?limit=0",
        "?limit=101",
        "?limit=x",
        "?after=bogus",
        "?before=%%%",
    ] {
        env.history(&token, &chat, query)
            .await
            .assert_error(400, "invalid_request");
    }
    let cursor = env.history(&token, &chat, "").await.body["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    env.history(&token, &chat, &format!("?after={cursor}&before={cursor}"))
        .await
        .assert_error(400, "invalid_request");
    assert_eq!(env.history(&token, &chat, "?limit=100").await.status, 200);
    assert_eq!(env.history(&token, &chat, "?limit=1").await.status, 200);
    env.stop().await;
}
