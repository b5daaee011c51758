//! The limits against floods (README, "Limits"): a visitor's sends and starts, and starts
//! without a token per source address and in all, each a token bucket in the store. Over the
//! limit the answer is `429 rate_limited` with `Retry-After`, and nothing reaches Giosg or the
//! store; the bucket refills with time (a clock moved by hand, not slept on).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use shared::api::{self, ClientAddress};
use shared::service::ManualClock;
use shared::store::ChatStore;
use tower::ServiceExt;

use crate::messages;
use crate::support::harness::{Options, Reply, TestEnv, start_with};
use crate::support::inventory::{Held, Inventory};

/// A test environment with these limit settings (the others off) on a clock of its own.
async fn limited<S: ChatStore>(
    store: S,
    settings: &[(&'static str, &str)],
) -> (TestEnv<S>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let mut options = Options {
        clock: Some(clock.clone()),
        ..Options::default()
    };
    options.env.extend(
        settings
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned())),
    );
    (start_with(store, options).await, clock)
}

/// What the store holds once every webhook is in.
async fn settled<S: ChatStore + Inventory>(env: &TestEnv<S>) -> Vec<Held> {
    env.flush_webhooks().await;
    env.app.service.store().held().await
}

fn assert_limited(reply: &Reply, retry_after: u64) {
    reply.assert_error(429, "rate_limited");
    assert_eq!(
        reply.retry_after.as_deref(),
        Some(retry_after.to_string().as_str()),
        "Retry-After"
    );
}

async fn start_anonymously<S: ChatStore>(env: &TestEnv<S>) -> Reply {
    env.call(
        Method::POST,
        "/v1/chats",
        None,
        Some(json!({"visitor_name": "Ada"})),
    )
    .await
}

pub(crate) async fn sends_over_the_limit_are_refused_until_the_bucket_refills<
    S: ChatStore + Inventory,
>(
    store: S,
) {
    // 30 a minute (a token every 2 s), 2 at once.
    let settings = [("SEND_RATE_PER_MINUTE", "30"), ("SEND_BURST", "2")];
    let (env, clock) = limited(store, &settings).await;
    let (token, chat) = env.new_chat("Ada").await;
    for text in ["one", "two"] {
        assert_eq!(env.send(&token, &chat, text).await.status, 201);
    }
    let sent = env.giosg_calls("send_message").await;
    let held = settled(&env).await;
    let path = format!("/v1/chats/{chat}/messages");
    let with_key = json!({"text": "three", "client_message_id": "k-3"});
    let refused = env
        .call(Method::POST, &path, Some(&token), Some(with_key.clone()))
        .await;
    assert_limited(&refused, 2);
    assert_eq!(env.giosg_calls("send_message").await, sent, "nothing sent");
    assert_eq!(settled(&env).await, held, "nothing stored, the key neither");
    // Half a token later: one more second to wait.
    clock.advance(Duration::from_secs(1));
    assert_limited(&env.send(&token, &chat, "three").await, 1);

    clock.advance(Duration::from_secs(1));
    let retried = env
        .call(Method::POST, &path, Some(&token), Some(with_key))
        .await;
    assert_eq!(
        retried.status, 201,
        "a refused key was never used: {}",
        retried.body
    );
    assert_eq!(env.giosg_calls("send_message").await, sent + 1);
    // A replay sends nothing and costs nothing, even with the bucket empty.
    let replay = env
        .call(
            Method::POST,
            &path,
            Some(&token),
            Some(json!({"text": "three", "client_message_id": "k-3"})),
        )
        .await;
    assert_eq!(replay.status, 200, "{}", replay.body);
    // Another visitor has a bucket of its own.
    let (other, other_chat) = env.new_chat("Bob").await;
    assert_eq!(env.send(&other, &other_chat, "hi").await.status, 201);
    // A minute on, the bucket is full again: two, not more.
    clock.advance(Duration::from_secs(60));
    for text in ["four", "five"] {
        assert_eq!(env.send(&token, &chat, text).await.status, 201);
    }
    assert_limited(&env.send(&token, &chat, "six").await, 2);
    let texts: Vec<String> = messages(&env.history(&token, &chat, "").await)
        .iter()
        .filter(|m| m["type"] == "msg")
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["one", "two", "three", "four", "five"]);
    env.stop().await;
}

pub(crate) async fn starts_over_the_limit_are_refused_and_start_nothing<
    S: ChatStore + Inventory,
>(
    store: S,
) {
    // A returning visitor's starts: one a minute.
    let settings = [("START_RATE_PER_MINUTE", "1"), ("START_BURST", "1")];
    let (env, clock) = limited(store, &settings).await;
    let (token, chat) = env.new_chat("Ada").await;
    let start = || {
        env.call(
            Method::POST,
            "/v1/chats",
            Some(&token),
            Some(json!({"visitor_name": "Ada"})),
        )
    };
    let resumed = start().await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    assert_eq!(resumed.body["chat"]["id"], chat.as_str());
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/end"),
        Some(json!({})),
    )
    .await;
    let held = settled(&env).await;
    let calls = env.sim(Method::GET, "/_sim/requests", None).await["counts"].clone();
    let refused = start().await;
    assert_limited(&refused, 60);
    assert_eq!(
        env.sim(Method::GET, "/_sim/requests", None).await["counts"],
        calls,
        "no Giosg call at all"
    );
    assert_eq!(settled(&env).await, held, "nothing stored");
    // An unknown token is still unauthorized, whatever the limit, and gets no bucket.
    let stranger = "x".repeat(43);
    env.call(
        Method::POST,
        "/v1/chats",
        Some(&stranger),
        Some(json!({"visitor_name": "Eve"})),
    )
    .await
    .assert_error(401, "unauthorized");
    assert_eq!(settled(&env).await, held);

    clock.advance(Duration::from_secs(45));
    assert_limited(&start().await, 15);
    clock.advance(Duration::from_secs(15));
    let started = start().await;
    assert_eq!(started.status, 201, "a new chat: {}", started.body);
    assert_ne!(started.body["chat"]["id"], chat.as_str());
    env.stop().await;
}

pub(crate) async fn anonymous_starts_are_capped_per_source_address<S: ChatStore + Inventory>(
    store: S,
) {
    // Six a minute (one every 10 s) from one address, 2 at once.
    let settings = [
        ("ANONYMOUS_START_RATE_PER_MINUTE", "6"),
        ("ANONYMOUS_START_BURST", "2"),
    ];
    let (env, clock) = limited(store, &settings).await;
    for _ in 0..2 {
        assert_eq!(start_anonymously(&env).await.status, 201);
    }
    let visitors = env.giosg_calls("visitor_auth").await;
    let held = settled(&env).await;
    assert_limited(&start_anonymously(&env).await, 10);
    assert_eq!(
        env.giosg_calls("visitor_auth").await,
        visitors,
        "no Giosg visitor made"
    );
    assert_eq!(settled(&env).await, held, "nothing stored");
    // The stored bucket names no address.
    assert!(
        held.iter().all(|item| !item.text.contains("127.0.0.1")),
        "{held:#?}"
    );
    // Another address has its own bucket.
    let elsewhere = start_from(&env, "198.51.100.7".parse().unwrap()).await;
    assert_eq!(elsewhere, 201);
    clock.advance(Duration::from_secs(10));
    assert_eq!(start_anonymously(&env).await.status, 201);
    assert_limited(&start_anonymously(&env).await, 10);
    env.stop().await;
}

pub(crate) async fn anonymous_starts_can_be_capped_in_all<S: ChatStore>(store: S) {
    let settings = [
        ("ANONYMOUS_START_TOTAL_RATE_PER_MINUTE", "2"),
        ("ANONYMOUS_START_TOTAL_BURST", "1"),
    ];
    let (env, clock) = limited(store, &settings).await;
    assert_eq!(start_anonymously(&env).await.status, 201);
    let visitors = env.giosg_calls("visitor_auth").await;
    assert_eq!(start_from(&env, "198.51.100.7".parse().unwrap()).await, 429);
    assert_limited(&start_anonymously(&env).await, 30);
    assert_eq!(env.giosg_calls("visitor_auth").await, visitors);
    clock.advance(Duration::from_secs(30));
    assert_eq!(start_from(&env, "2001:db8::1".parse().unwrap()).await, 201);
    env.stop().await;
}

/// An anonymous start as if from `address` (as API Gateway's `sourceIp` says it): its status.
async fn start_from<S: ChatStore>(env: &TestEnv<S>, address: IpAddr) -> u16 {
    let mut request = http::Request::post("/v1/chats")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"visitor_name": "Ada"}"#))
        .unwrap();
    request.extensions_mut().insert(ClientAddress(address));
    let response = api::all_routes(env.app.clone())
        .oneshot(request)
        .await
        .unwrap();
    response.status().as_u16()
}

pub(crate) async fn concurrent_sends_cannot_overdraw_the_bucket<S: ChatStore>(store: S) {
    // Three at once, then one a minute: of ten sends at once, at most three go to Giosg.
    let settings = [("SEND_RATE_PER_MINUTE", "1"), ("SEND_BURST", "3")];
    let (env, _clock) = limited(store, &settings).await;
    let (token, chat) = env.new_chat("Ada").await;
    let texts: Vec<String> = (0..10).map(|n| format!("message {n}")).collect();
    let sends = texts.iter().map(|text| env.send(&token, &chat, text));
    let replies = futures::future::join_all(sends).await;
    let statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
    let sent = statuses.iter().filter(|status| **status == 201).count();
    assert!((1..=3).contains(&sent), "{statuses:?}");
    for reply in replies.iter().filter(|reply| reply.status != 201) {
        reply.assert_error(429, "rate_limited");
        assert!(reply.retry_after.is_some());
    }
    assert_eq!(env.giosg_calls("send_message").await, sent as u64);
    env.stop().await;
}
