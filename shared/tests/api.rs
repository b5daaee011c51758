//! The frontend API and the webhook endpoints, over HTTP, with the Giosg simulator delivering
//! real webhooks. Every test runs against the in-memory store and against DynamoDB (moto).

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use shared::store::ChatStore;
use support::harness::{TestEnv, WEBHOOK_SECRET};

/// Runs each scenario against both stores.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(shared::store::memory::MemoryStore::new()).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::moto::fresh_store().await).await;
                }
            )*
        }
    };
}

scenarios!(
    availability_follows_the_room,
    new_visitor_gets_a_token_and_a_stored_chat,
    returning_visitor_with_an_open_chat_resumes_it,
    returning_visitor_whose_chat_ended_gets_a_new_chat,
    offline_room_refuses_new_chats,
    giosg_outage_is_giosg_unavailable,
    unknown_or_malformed_tokens_are_unauthorized,
    another_visitors_chat_is_not_found,
    sent_message_is_in_history_at_once_and_the_echo_does_not_duplicate_it,
    client_message_id_replay_returns_the_first_answer_and_sends_nothing,
    idempotency_key_header_works_like_client_message_id,
    ended_chat_refuses_messages_without_calling_giosg,
    message_text_is_validated,
    history_is_in_giosg_order_with_agent_replies_join_and_leave,
    history_cursors_page_and_poll,
    history_parameters_are_validated,
    chats_are_listed_newest_first,
    webhooks_require_the_secret,
    webhooks_ignore_other_rooms_and_refuse_garbage,
    removed_chat_is_not_found_and_removed_message_is_deleted,
    purged_message_has_no_text,
    expired_giosg_token_is_renewed_and_the_message_is_sent,
    webhook_order_and_duplicates_do_not_matter,
    unknown_message_types_pass_through,
    chat_ended_in_giosg_whose_webhook_was_lost_is_not_resumed,
);

async fn availability_follows_the_room<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let reply = env.call(Method::GET, "/v1/availability", None, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["online"], true);
    assert!(reply.body["checked_at"].as_str().is_some());
    env.sim(Method::PUT, "/_sim/room", Some(json!({"online": false})))
        .await;
    let reply = env.call(Method::GET, "/v1/availability", None, None).await;
    assert_eq!(reply.body["online"], false);
    env.stop().await;
}

async fn new_visitor_gets_a_token_and_a_stored_chat<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let reply = env
        .call(
            Method::POST,
            "/v1/chats",
            None,
            Some(json!({"visitor_name": "Ada"})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let token = reply.body["visitor_token"].as_str().unwrap();
    assert!(token.len() >= 22, "at least 128 bits");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let chat = &reply.body["chat"];
    assert_eq!(chat["visitor_name"], "Ada");
    assert_eq!(chat["status"], "open");
    assert!(chat["created_at"].as_str().is_some());
    // Stored before the answer: readable at once, before any webhook.
    let chat_id = chat["id"].as_str().unwrap();
    let read = env
        .call(
            Method::GET,
            &format!("/v1/chats/{chat_id}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["chat"]["id"], chat_id);
    // Giosg knows the visitor by its name.
    let visitors = env.sim(Method::GET, "/_sim/visitors", None).await;
    let names: Vec<&str> = visitors
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["variables"]["username"].as_str())
        .collect();
    assert!(names.contains(&"Ada"), "username set: {visitors}");
    env.stop().await;
}

async fn returning_visitor_with_an_open_chat_resumes_it<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat_id) = env.new_chat("Ada").await;
    let starts = env.giosg_calls("start_chat").await;
    let reply = env
        .call(
            Method::POST,
            "/v1/chats",
            Some(&token),
            Some(json!({"visitor_name": "Ada"})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["chat"]["id"], chat_id.as_str());
    assert!(reply.body.get("visitor_token").is_none());
    assert_eq!(
        env.giosg_calls("start_chat").await,
        starts,
        "no second chat"
    );
    env.stop().await;
}

async fn returning_visitor_whose_chat_ended_gets_a_new_chat<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat_id) = env.new_chat("Ada").await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat_id}/end"),
        Some(json!({})),
    )
    .await;
    env.flush_webhooks().await;
    let ended = env
        .call(
            Method::GET,
            &format!("/v1/chats/{chat_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(ended.body["chat"]["status"], "ended");
    assert!(ended.body["chat"]["ended_at"].as_str().is_some());
    let reply = env
        .call(
            Method::POST,
            "/v1/chats",
            Some(&token),
            Some(json!({"visitor_name": "Ada L."})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let new_id = reply.body["chat"]["id"].as_str().unwrap();
    assert_ne!(new_id, chat_id);
    assert!(
        reply.body.get("visitor_token").is_none(),
        "same visitor, same token"
    );
    // The same Giosg visitor started both chats.
    let chats = env.sim(Method::GET, "/_sim/chats", None).await;
    let visitors: std::collections::BTreeSet<&str> = chats
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["visitor_id"].as_str().unwrap())
        .collect();
    assert_eq!(visitors.len(), 1, "{chats}");
    env.stop().await;
}

async fn offline_room_refuses_new_chats<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    env.sim(Method::PUT, "/_sim/room", Some(json!({"online": false})))
        .await;
    let reply = env
        .call(
            Method::POST,
            "/v1/chats",
            None,
            Some(json!({"visitor_name": "Ada"})),
        )
        .await;
    reply.assert_error(409, "agents_offline");
    assert_eq!(env.giosg_calls("start_chat").await, 0);
    env.stop().await;
}

async fn giosg_outage_is_giosg_unavailable<S: ChatStore>(store: S) {
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

async fn unknown_or_malformed_tokens_are_unauthorized<S: ChatStore>(store: S) {
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

async fn another_visitors_chat_is_not_found<S: ChatStore>(store: S) {
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

fn messages(reply: &support::harness::Reply) -> Vec<Value> {
    reply.body["messages"].as_array().unwrap().clone()
}

async fn sent_message_is_in_history_at_once_and_the_echo_does_not_duplicate_it<S: ChatStore>(
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
    assert_eq!(after_echo.body["chat"]["status"], "waiting");
    env.stop().await;
}

async fn client_message_id_replay_returns_the_first_answer_and_sends_nothing<S: ChatStore>(
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

async fn idempotency_key_header_works_like_client_message_id<S: ChatStore>(store: S) {
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

async fn ended_chat_refuses_messages_without_calling_giosg<S: ChatStore>(store: S) {
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

async fn message_text_is_validated<S: ChatStore>(store: S) {
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

async fn history_is_in_giosg_order_with_agent_replies_join_and_leave<S: ChatStore>(store: S) {
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

async fn history_cursors_page_and_poll<S: ChatStore>(store: S) {
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

async fn history_parameters_are_validated<S: ChatStore>(store: S) {
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

async fn chats_are_listed_newest_first<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, first) = env.new_chat("Ada").await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{first}/end"),
        Some(json!({})),
    )
    .await;
    env.flush_webhooks().await;
    let second = env
        .call(
            Method::POST,
            "/v1/chats",
            Some(&token),
            Some(json!({"visitor_name": "Ada"})),
        )
        .await;
    let second = second.body["chat"]["id"].as_str().unwrap().to_owned();
    let list = env.call(Method::GET, "/v1/chats", Some(&token), None).await;
    assert_eq!(list.status, 200);
    let ids: Vec<&str> = list.body["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![second.as_str(), first.as_str()]);
    env.stop().await;
}

fn chat_added(org: &str, room: &str, chat: &str) -> Value {
    json!({
        "channel": format!("/api/v5/orgs/{org}/owned_chats"),
        "action": "added",
        "resource_id": chat,
        "resource": {"id": chat, "room_id": room, "created_at": "2026-11-24T10:00:00.000Z",
                     "updated_at": "2026-11-24T10:00:00.000Z", "is_ended": false, "is_waiting": false}
    })
}

async fn post_webhook<S: ChatStore>(
    env: &TestEnv<S>,
    path_and_query: &str,
    body: &Value,
) -> support::harness::Reply {
    env.call(Method::POST, path_and_query, None, Some(body.clone()))
        .await
}

async fn webhooks_require_the_secret<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let org = env.sim.org_id().to_owned();
    let room = env.sim.room_id().to_owned();
    let body = chat_added(&org, &room, "11111111-0000-4000-8000-000000000001");
    for path in [
        "/webhooks/giosg/chats",
        "/webhooks/giosg/chats?token=wrong-secret-wrong-secret",
        "/webhooks/giosg/chats?token=",
    ] {
        post_webhook(&env, path, &body)
            .await
            .assert_error(401, "unauthorized");
    }
    let chat_id = shared::domain::ChatId::new("11111111-0000-4000-8000-000000000001");
    assert!(
        env.app
            .service
            .store()
            .get_chat(&chat_id)
            .await
            .unwrap()
            .is_none(),
        "nothing written"
    );
    // The header works as well as the query parameter.
    let response = env
        .http
        .post(format!("{}/webhooks/giosg/chats", env.api))
        .header("X-Webhook-Token", WEBHOOK_SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        env.app
            .service
            .store()
            .get_chat(&chat_id)
            .await
            .unwrap()
            .is_some()
    );
    let again = post_webhook(
        &env,
        &format!("/webhooks/giosg/chats?token={WEBHOOK_SECRET}"),
        &body,
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["result"], "duplicate");
    env.stop().await;
}

async fn webhooks_ignore_other_rooms_and_refuse_garbage<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    // A website-widget chat in another room of the organization, through the simulator.
    env.sim(
        Method::POST,
        "/_sim/other_room/chats",
        Some(json!({"visitor_name": "Widget", "message": "hello from the website"})),
    )
    .await;
    env.flush_webhooks().await;
    let log = env.sim(Method::GET, "/_sim/webhooks", None).await;
    let deliveries = log["deliveries"].as_array().expect("delivery log");
    assert!(!deliveries.is_empty());
    assert!(
        deliveries.iter().all(|d| d["status"] == 200),
        "other-room webhooks are acknowledged: {log}"
    );
    let chats = env.sim(Method::GET, "/_sim/chats", None).await;
    let widget_chat = chats.as_array().unwrap()[0]["chat"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = env
        .app
        .service
        .store()
        .get_chat(&shared::domain::ChatId::new(widget_chat))
        .await
        .unwrap();
    let ours = shared::domain::RoomId::new(env.sim.room_id());
    assert!(
        stored.is_none_or(|chat| chat.room_id.as_ref() != Some(&ours) && chat.owner.is_none()),
        "another room's chat is not stored as ours"
    );
    let url = format!("/webhooks/giosg/messages?token={WEBHOOK_SECRET}");
    for garbage in [
        json!("just a string"),
        json!({"channel": "/api/v5/orgs/x/owned_chats", "action": "added", "resource_id": "m", "resource": {}}),
        json!({"action": "added"}),
    ] {
        post_webhook(&env, &url, &garbage)
            .await
            .assert_error(400, "invalid_request");
    }
    env.stop().await;
}

async fn removed_chat_is_not_found_and_removed_message_is_deleted<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let sent = env.send(&token, &chat, "delete me").await;
    let message_id = sent.body["message"]["id"].as_str().unwrap().to_owned();
    env.sim(
        Method::DELETE,
        &format!("/_sim/chats/{chat}/messages/{message_id}"),
        None,
    )
    .await;
    env.flush_webhooks().await;
    let history = env.history(&token, &chat, "").await;
    let deleted = messages(&history)
        .into_iter()
        .find(|m| m["id"] == message_id.as_str())
        .expect("a removed message is returned as deleted");
    assert_eq!(deleted["deleted"], true);
    assert!(deleted["text"].is_null());
    env.sim(Method::DELETE, &format!("/_sim/chats/{chat}"), None)
        .await;
    env.flush_webhooks().await;
    env.call(
        Method::GET,
        &format!("/v1/chats/{chat}"),
        Some(&token),
        None,
    )
    .await
    .assert_error(404, "not_found");
    env.history(&token, &chat, "")
        .await
        .assert_error(404, "not_found");
    env.stop().await;
}

async fn purged_message_has_no_text<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let sent = env.send(&token, &chat, "my card number").await;
    let message_id = sent.body["message"]["id"].as_str().unwrap().to_owned();
    env.flush_webhooks().await;
    env.sim(
        Method::PATCH,
        &format!("/_sim/chats/{chat}/messages/{message_id}"),
        Some(json!({"purge": true})),
    )
    .await;
    env.flush_webhooks().await;
    let history = env.history(&token, &chat, "").await;
    let purged = messages(&history)
        .into_iter()
        .find(|m| m["id"] == message_id.as_str())
        .unwrap();
    assert!(purged["text"].is_null(), "{purged}");
    env.stop().await;
}

async fn expired_giosg_token_is_renewed_and_the_message_is_sent<S: ChatStore>(store: S) {
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

async fn webhook_order_and_duplicates_do_not_matter<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    env.sim(
        Method::POST,
        "/_sim/webhooks/faults",
        Some(json!({"mode": "reorder", "count": 6})),
    )
    .await;
    env.sim(
        Method::POST,
        "/_sim/webhooks/faults",
        Some(json!({"mode": "duplicate", "count": 6})),
    )
    .await;
    env.send(&token, &chat, "one").await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/messages"),
        Some(json!({"text": "two"})),
    )
    .await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/end"),
        Some(json!({})),
    )
    .await;
    env.flush_webhooks().await;
    let history = env.history(&token, &chat, "").await;
    let texts: Vec<Value> = messages(&history)
        .iter()
        .filter(|m| m["type"] == "msg")
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, vec![json!("one"), json!("two")], "{}", history.body);
    assert_eq!(history.body["chat"]["status"], "ended");
    env.stop().await;
}

async fn unknown_message_types_pass_through<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    let body = json!({
        "channel": format!("/api/v5/orgs/{}/owned_chats/{chat}/messages", env.sim.org_id()),
        "action": "added",
        "resource_id": "99999999-0000-4000-8000-000000000001",
        "resource": {
            "id": "99999999-0000-4000-8000-000000000001", "chat_id": chat,
            "room_id": env.sim.room_id(), "type": "carousel", "sender_type": "user",
            "sender_name": "Bot (internal)", "sender_public_name": "Helper Bot",
            "created_at": "2099-01-01T00:00:00.000Z", "message": null,
            "attachments": [{"id": "a1", "title": "Pick one", "actions": [
                {"id": "b1", "text": "Yes", "type": "button", "value": "yes"}]}]
        }
    });
    let url = format!("/webhooks/giosg/messages?token={WEBHOOK_SECRET}");
    assert_eq!(post_webhook(&env, &url, &body).await.status, 200);
    let history = env.history(&token, &chat, "").await;
    let carousel = messages(&history)
        .into_iter()
        .find(|m| m["type"] == "carousel")
        .expect("an unknown type is kept with its Giosg type");
    assert_eq!(carousel["sender"]["name"], "Helper Bot");
    assert_eq!(carousel["attachments"][0]["actions"][0]["text"], "Yes");
    env.stop().await;
}

async fn chat_ended_in_giosg_whose_webhook_was_lost_is_not_resumed<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    env.flush_webhooks().await;
    env.sim(
        Method::POST,
        "/_sim/webhooks/faults",
        Some(json!({"mode": "drop", "count": 10})),
    )
    .await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{chat}/end"),
        Some(json!({})),
    )
    .await;
    env.flush_webhooks().await;
    // Our copy still thinks the chat is open; Giosg refuses the message.
    env.send(&token, &chat, "hello?")
        .await
        .assert_error(409, "chat_ended");
    let read = env
        .call(
            Method::GET,
            &format!("/v1/chats/{chat}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(read.body["chat"]["status"], "ended");
    let again = env
        .call(
            Method::POST,
            "/v1/chats",
            Some(&token),
            Some(json!({"visitor_name": "Ada"})),
        )
        .await;
    assert_eq!(
        again.status, 201,
        "a new chat, not the dead one: {}",
        again.body
    );
    assert_ne!(again.body["chat"]["id"], chat.as_str());
    env.stop().await;
}
