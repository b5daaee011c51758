//! What the handlers log: one JSON line per request with the request id, route, status and
//! duration; never a visitor token, a secret, an access token or message text.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use shared::store::memory::MemoryStore;
use support::harness::WEBHOOK_SECRET;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_line_per_request_and_no_secret_or_message_text() {
    support::logs::capture(true);
    let env = support::harness::start(MemoryStore::new()).await;
    let (token, chat) = env.new_chat("Ada Lovelace").await;
    let text = "my very private words 7f3a9c";
    assert_eq!(env.send(&token, &chat, text).await.status, 201);
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/messages"),
        Some(json!({"text": "agent words 91bd"})),
    )
    .await;
    env.flush_webhooks().await;
    env.history(&token, &chat, "").await;
    env.call(
        Method::GET,
        "/v1/chats",
        Some("A".repeat(43).as_str()),
        None,
    )
    .await;
    env.call(
        Method::POST,
        "/webhooks/giosg/chats?token=wrong-secret-0000000000",
        None,
        Some(json!({})),
    )
    .await;
    let api_token = env.sim.api_token().to_owned();
    env.stop().await;

    let logs = support::logs::text();
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert!(
        requests.len() >= 8,
        "one line per request: {}",
        requests.len()
    );
    for line in &requests {
        for field in ["request_id", "method", "route", "status", "duration_ms"] {
            assert!(!line[field].is_null(), "{field} missing in {line}");
        }
    }
    assert!(
        requests
            .iter()
            .any(|l| l["route"] == "POST /v1/chats/{chat_id}/messages" && l["status"] == 201)
    );
    assert!(
        requests
            .iter()
            .any(|l| l["route"] == "POST /webhooks/giosg/messages" && l["status"] == 200)
    );
    assert!(
        requests
            .iter()
            .any(|l| l["route"] == "POST /webhooks/giosg/chats" && l["status"] == 401)
    );
    for secret in [
        token.as_str(),
        WEBHOOK_SECRET,
        api_token.as_str(),
        text,
        "agent words 91bd",
        "Bearer ",
    ] {
        assert!(!logs.contains(secret), "the log contains {secret:?}");
    }
}
