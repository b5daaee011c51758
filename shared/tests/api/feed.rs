//! The sync feed (spec §1): `after=<next_cursor>` returns every change stored since, once,
//! in the order the changes were stored, whatever order Giosg's webhooks arrive in.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use shared::store::ChatStore;

use crate::support::harness::{Reply, TestEnv, WEBHOOK_SECRET};
use crate::{messages, support};

/// A message webhook for `chat` as Giosg would send it.
fn message_hook<S: ChatStore>(
    env: &TestEnv<S>,
    chat: &str,
    action: &str,
    id: &str,
    resource: Value,
) -> Value {
    json!({
        "channel": format!("/api/v5/orgs/{}/owned_chats/{chat}/messages", env.sim.org_id()),
        "action": action,
        "resource_id": id,
        "resource": resource,
    })
}

fn agent_reply<S: ChatStore>(env: &TestEnv<S>, chat: &str, id: &str, created_at: &str) -> Value {
    message_hook(
        env,
        chat,
        "added",
        id,
        json!({"id": id, "chat_id": chat, "room_id": env.sim.room_id(), "type": "msg",
               "created_at": created_at, "sender_type": "user",
               "sender_public_name": "Agent", "message": format!("reply {id}")}),
    )
}

async fn deliver<S: ChatStore>(env: &TestEnv<S>, hook: Value) {
    let url = format!("/webhooks/giosg/messages?token={WEBHOOK_SECRET}");
    let reply = env.call(Method::POST, &url, None, Some(hook)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

fn next_cursor(reply: &Reply) -> String {
    reply.body["next_cursor"].as_str().unwrap().to_owned()
}

fn ids(reply: &Reply) -> Vec<String> {
    messages(reply)
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The case: the visitor's own message is stored at once and advances the poller's
/// cursor, while the agent's reply, stamped earlier, is still on its way as a webhook.
pub(crate) async fn a_late_reply_stamped_earlier_still_reaches_the_poller<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    env.flush_webhooks().await;
    let first = env.history(&token, &chat, "").await;
    let mut cursor = next_cursor(&first);

    let sent = env.send(&token, &chat, "are you there?").await;
    let sent_id = sent.body["message"]["id"].as_str().unwrap().to_owned();
    let polled = env
        .history(&token, &chat, &format!("?after={cursor}"))
        .await;
    assert!(ids(&polled).contains(&sent_id), "{}", polled.body);
    cursor = next_cursor(&polled);

    // Stamped an hour before the visitor's message, delivered after the poll.
    deliver(
        &env,
        agent_reply(&env, &chat, "late-reply", "2000-01-01T00:00:00.000Z"),
    )
    .await;
    let polled = env
        .history(&token, &chat, &format!("?after={cursor}"))
        .await;
    assert_eq!(ids(&polled), ["late-reply"], "{}", polled.body);
    let cursor = next_cursor(&polled);
    // Nothing more: an empty page keeps the cursor.
    let empty = env
        .history(&token, &chat, &format!("?after={cursor}"))
        .await;
    assert!(messages(&empty).is_empty(), "{}", empty.body);
    assert_eq!(next_cursor(&empty), cursor);
    // History still shows it in Giosg's order, first.
    let history = env.history(&token, &chat, "?limit=100").await;
    assert_eq!(
        ids(&history).first().map(String::as_str),
        Some("late-reply")
    );
    env.stop().await;
}

/// Edits, removals and purges of messages the poller has seen come back, each once, with the
/// latest state, in the order they were stored.
pub(crate) async fn edits_removals_and_purges_come_back_once<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let (token, chat) = env.new_chat("Ada").await;
    // What Giosg itself posts at the start (the contrary profile's greeting) is in first.
    env.flush_webhooks().await;
    for (id, second) in [("r1", 1), ("r2", 2), ("r3", 3)] {
        let at = format!("2030-01-01T00:00:0{second}.000Z");
        deliver(&env, agent_reply(&env, &chat, id, &at)).await;
    }
    let seen = env.history(&token, &chat, "?limit=100").await;
    let cursor = next_cursor(&seen);
    let changed = |id: &str, resource: Value| message_hook(&env, &chat, "changed", id, resource);
    deliver(
        &env,
        changed(
            "r2",
            json!({"message": "edited once", "updated_at": "2030-01-01T00:01:00.000Z"}),
        ),
    )
    .await;
    deliver(
        &env,
        message_hook(&env, &chat, "removed", "r1", Value::Null),
    )
    .await;
    deliver(
        &env,
        changed(
            "r2",
            json!({"message": "edited twice", "updated_at": "2030-01-01T00:02:00.000Z"}),
        ),
    )
    .await;
    deliver(
        &env,
        changed(
            "r3",
            json!({"message": null, "sensitive_data_purged_at": "2030-01-01T00:03:00.000Z"}),
        ),
    )
    .await;
    let polled = env
        .history(&token, &chat, &format!("?after={cursor}"))
        .await;
    let page = messages(&polled);
    let by_id: BTreeMap<&str, &Value> = page
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m))
        .collect();
    // In the order the changes were stored; r2 once, at its latest change.
    assert_eq!(ids(&polled), ["r1", "r2", "r3"], "{}", polled.body);
    assert_eq!(by_id["r1"]["deleted"], true);
    assert_eq!(by_id["r2"]["text"], "edited twice");
    assert!(by_id["r3"]["text"].is_null());
    // A redelivery changes nothing, so the feed has nothing new.
    deliver(
        &env,
        changed(
            "r2",
            json!({"message": "edited twice", "updated_at": "2030-01-01T00:02:00.000Z"}),
        ),
    )
    .await;
    let cursor = next_cursor(&polled);
    let empty = env
        .history(&token, &chat, &format!("?after={cursor}"))
        .await;
    assert!(messages(&empty).is_empty(), "{}", empty.body);
    env.stop().await;
}

/// The property: writers store new messages, edits and removals concurrently, in random order
/// and timing (webhooks from several deliverers, the visitor's own sends), while a poller
/// follows `next_cursor` with random page sizes. When the writers are done, the last state
/// the poller saw of each message is what history shows: no change was skipped. Seeded rounds.
pub(crate) async fn a_poller_following_cursors_sees_every_final_state<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    for round in 0..4u64 {
        let mut rng = StdRng::seed_from_u64(0xfeed + round);
        let (token, chat) = env.new_chat(&format!("Visitor {round}")).await;
        env.flush_webhooks().await;
        // As a client does: the history view first, then the feed from its `next_cursor`.
        let first = env.history(&token, &chat, "?limit=100").await;
        let start = next_cursor(&first);

        // Each deliverer's script: its webhooks, in order, with pauses between.
        let deliverers = 3;
        let mut scripts: Vec<Vec<(Value, u64)>> = vec![Vec::new(); deliverers];
        for m in 0..12 {
            let id = format!("m{round}-{m}");
            let at = format!("2030-01-01T00:{:02}:{:02}.000Z", rng.random_range(0..60), m);
            let mut hooks = vec![agent_reply(&env, &chat, &id, &at)];
            match rng.random_range(0..4) {
                0 => hooks.push(message_hook(
                    &env,
                    &chat,
                    "changed",
                    &id,
                    json!({"message": format!("edited {id}"),
                           "updated_at": "2031-01-01T00:00:00.000Z"}),
                )),
                1 => hooks.push(message_hook(&env, &chat, "removed", &id, Value::Null)),
                _ => {}
            }
            // Any order: a change may even arrive before its `added`.
            if rng.random_bool(0.3) {
                hooks.reverse();
            }
            for hook in hooks {
                let who = rng.random_range(0..deliverers);
                scripts[who].push((hook, rng.random_range(0..15)));
            }
        }
        let visitor_sends: Vec<u64> = (0..4).map(|_| rng.random_range(0..40)).collect();
        let limits: Vec<usize> = (0..64).map(|_| rng.random_range(1..=4)).collect();

        let writers = async {
            let deliveries = scripts.into_iter().map(|script| async {
                for (hook, pause) in script {
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    deliver(&env, hook).await;
                }
            });
            let sends = visitor_sends.iter().enumerate().map(|(i, pause)| {
                let token = &token;
                let chat = &chat;
                let env = &env;
                async move {
                    tokio::time::sleep(std::time::Duration::from_millis(*pause)).await;
                    let sent = env.send(token, chat, &format!("visitor {i}")).await;
                    assert_eq!(sent.status, 201, "send {i}: {}", sent.body);
                }
            });
            futures::future::join(
                futures::future::join_all(deliveries),
                futures::future::join_all(sends),
            )
            .await;
        };
        let done = std::sync::atomic::AtomicBool::new(false);
        let poller = async {
            let mut seen: BTreeMap<String, Value> = messages(&first)
                .into_iter()
                .map(|m| (m["id"].as_str().unwrap().to_owned(), m))
                .collect();
            let mut cursor = start.clone();
            let mut polls = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let limit = limits[polls % limits.len()];
                polls += 1;
                let page = env
                    .history(&token, &chat, &format!("?after={cursor}&limit={limit}"))
                    .await;
                assert_eq!(page.status, 200, "{}", page.body);
                for message in messages(&page) {
                    seen.insert(message["id"].as_str().unwrap().to_owned(), message.clone());
                }
                cursor = next_cursor(&page);
                // After the writers finished, poll until a page comes back empty.
                if finished && messages(&page).is_empty() {
                    return seen;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        };
        let (_, seen) = futures::future::join(
            async {
                writers.await;
                env.flush_webhooks().await;
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            },
            poller,
        )
        .await;
        let history = env.history(&token, &chat, "?limit=100").await;
        let truth: BTreeMap<String, Value> = messages(&history)
            .iter()
            .map(|m| (m["id"].as_str().unwrap().to_owned(), m.clone()))
            .collect();
        assert_eq!(
            seen, truth,
            "round {round}: the poller's view is not history's"
        );
        assert!(truth.len() >= 12, "round {round}: {} messages", truth.len());
    }
    env.stop().await;
}
