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
    // Giosg's own rules may greet the visitor and announce the agent (the contrary profile
    // does): their messages pass through, from `system`.
    let expected = if support::harness::behaviour().extra_message_types {
        vec![
            ("autosuggest", "system"),
            ("msg", "visitor"),
            ("join", "agent"),
            ("system", "system"),
            ("msg", "agent"),
            ("leave", "agent"),
        ]
    } else {
        vec![
            ("msg", "visitor"),
            ("join", "agent"),
            ("msg", "agent"),
            ("leave", "agent"),
        ]
    };
    assert_eq!(kinds, expected, "{}", history.body);
    let all = messages(&history);
    let reply = all
        .iter()
        .find(|m| m["type"] == "msg" && m["sender"]["type"] == "agent")
        .unwrap();
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
    // Whatever Giosg put in the chat before the visitor wrote (a rule's greeting, in the
    // contrary profile) is the start of the history.
    env.flush_webhooks().await;
    let lead = messages(&env.history(&token, &chat, "").await).len();
    for i in 0..7 {
        assert_eq!(env.send(&token, &chat, &format!("m{i}")).await.status, 201);
    }
    let texts = |reply: &support::harness::Reply| -> Vec<String> {
        messages(reply)
            .iter()
            .filter(|m| m["sender"]["type"] == "visitor")
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
    assert_eq!(messages(&oldest).len(), 1 + lead);
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
    assert_eq!(messages(&first_page).len(), 8 + lead);
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

/// The API takes back every cursor it hands out, whatever the ids of the messages it stored
/// (long, non-ASCII, `#`); a time past year 9999, which could not keep the history order, is
/// refused at the webhook.
pub(crate) async fn cursors_of_any_message_id_are_accepted_back<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    // An older message, so that every page below has a `prev_cursor`.
    assert_eq!(env.send(&token, &chat, "first").await.status, 201);
    // Whatever Giosg posts itself (the contrary profile's greeting) is in before the feed reads.
    env.flush_webhooks().await;
    let hook = |id: &str, created_at: &str| {
        json!({
            "channel": format!("/api/v5/orgs/{}/owned_chats/{chat}/messages", env.sim.org_id()),
            "action": "added",
            "resource_id": id,
            "resource": {"id": id, "chat_id": chat, "room_id": env.sim.room_id(), "type": "msg",
                         "created_at": created_at, "sender_type": "user", "message": "hi"}
        })
    };
    let url = format!(
        "/webhooks/giosg/messages?token={}",
        support::harness::WEBHOOK_SECRET
    );
    let ids = ["x".repeat(400), "ü-ñ-中文-🙂".to_owned(), "a#b".to_owned()];
    for (second, id) in ids.iter().enumerate() {
        let created_at = format!("2099-01-01T00:00:0{second}.000Z");
        let stored = env
            .call(Method::POST, &url, None, Some(hook(id, &created_at)))
            .await;
        assert_eq!(stored.status, 200, "{}", stored.body);
        let newest = env.history(&token, &chat, "?limit=1").await;
        assert_eq!(messages(&newest)[0]["id"], id.as_str());
        let next = newest.body["next_cursor"].as_str().unwrap().to_owned();
        let prev = newest.body["prev_cursor"].as_str().unwrap().to_owned();
        let after = env.history(&token, &chat, &format!("?after={next}")).await;
        assert_eq!(after.status, 200, "next_cursor of {id:?}: {}", after.body);
        assert!(messages(&after).is_empty());
        let before = env
            .history(&token, &chat, &format!("?limit=1&before={prev}"))
            .await;
        assert_eq!(before.status, 200, "prev_cursor of {id:?}: {}", before.body);
        assert_ne!(messages(&before)[0]["id"], id.as_str());
    }
    env.call(
        Method::POST,
        &url,
        None,
        Some(hook("m-far-future", "10000-01-01T00:00:00.000Z")),
    )
    .await
    .assert_error(400, "invalid_request");
    let newest = env.history(&token, &chat, "?limit=1").await;
    assert_eq!(messages(&newest)[0]["id"], ids[2].as_str(), "not stored");
    env.stop().await;
}
