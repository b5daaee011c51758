//! Starting and resuming chats: availability, new and returning visitors, an offline room, a chat
//! ended in Giosg behind our back, and the visitor's chat list.

use reqwest::Method;
use serde_json::json;
use shared::store::ChatStore;

use crate::support;

pub(crate) async fn availability_follows_the_room<S: ChatStore>(store: S) {
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

pub(crate) async fn new_visitor_gets_a_token_and_a_stored_chat<S: ChatStore>(store: S) {
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

pub(crate) async fn returning_visitor_with_an_open_chat_resumes_it<S: ChatStore>(store: S) {
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

pub(crate) async fn returning_visitor_whose_chat_ended_gets_a_new_chat<S: ChatStore>(store: S) {
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

pub(crate) async fn offline_room_refuses_new_chats<S: ChatStore>(store: S) {
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

pub(crate) async fn chats_are_listed_newest_first<S: ChatStore>(store: S) {
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

pub(crate) async fn chat_ended_in_giosg_whose_webhook_was_lost_is_not_resumed<S: ChatStore>(
    store: S,
) {
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
