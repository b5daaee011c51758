//! Reconciliation repairs lost webhooks (spec §7): a random share of Giosg's deliveries is
//! dropped while visitors and agents chat (messages, edits, purges, removals, ends), then each
//! chat is reconciled once, and what the API shows equals Giosg's truth (the simulator's copy).
//! Seeded rounds, so a failure names a round that replays.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use shared::domain::ChatId;
use shared::service::ReconcileLimits;
use shared::store::ChatStore;

use crate::support::harness::TestEnv;
use crate::{messages, support};

const ROUNDS: u64 = 4;
const CHATS_PER_ROUND: usize = 3;

/// With probability `share`, the next one or two webhooks are lost.
async fn maybe_drop<S: ChatStore>(env: &TestEnv<S>, rng: &mut StdRng, share: f64) {
    if rng.random_bool(share) {
        let count = rng.random_range(1..=2);
        env.sim(
            Method::POST,
            "/_sim/webhooks/faults",
            Some(json!({"mode": "drop", "count": count})),
        )
        .await;
    }
}

/// Giosg's truth for a chat: whether it ended, and its messages as `(id, type, text)`.
async fn truth<S: ChatStore>(env: &TestEnv<S>, chat: &str) -> (bool, Vec<(String, String, Value)>) {
    let detail = env
        .sim(Method::GET, &format!("/_sim/chats/{chat}"), None)
        .await;
    let messages = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["type"].as_str().unwrap().to_owned(),
                m["message"].clone(),
            )
        })
        .collect();
    (detail["chat"]["is_ended"] == true, messages)
}

/// What the API shows for a chat, in the same terms (removed messages left out).
async fn shown<S: ChatStore>(
    env: &TestEnv<S>,
    token: &str,
    chat: &str,
) -> (bool, Vec<(String, String, Value)>) {
    let one = env
        .call(Method::GET, &format!("/v1/chats/{chat}"), Some(token), None)
        .await;
    let history = env.history(token, chat, "?limit=100").await;
    let messages = messages(&history)
        .into_iter()
        .filter(|m| m["deleted"] == false)
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["type"].as_str().unwrap().to_owned(),
                m["text"].clone(),
            )
        })
        .collect();
    (one.body["chat"]["status"] == "ended", messages)
}

pub(crate) async fn reconciling_after_lost_webhooks_shows_giosgs_truth<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    for round in 0..ROUNDS {
        let mut rng = StdRng::seed_from_u64(0x2ec0 + round);
        let share = [0.2, 0.5, 0.8, 1.0][round as usize % 4];
        let mut chats = Vec::new();
        for c in 0..CHATS_PER_ROUND {
            maybe_drop(&env, &mut rng, share).await;
            let (token, chat) = env.new_chat(&format!("Visitor {round}-{c}")).await;
            let base = format!("/_sim/chats/{chat}");
            maybe_drop(&env, &mut rng, share).await;
            env.sim(Method::POST, &format!("{base}/join"), Some(json!({})))
                .await;
            let mut agent_messages = Vec::new();
            for m in 0..rng.random_range(1..5) {
                maybe_drop(&env, &mut rng, share).await;
                if rng.random_bool(0.5) {
                    env.send(&token, &chat, &format!("visitor says {m}")).await;
                } else {
                    let sent = env
                        .sim(
                            Method::POST,
                            &format!("{base}/messages"),
                            Some(json!({"text": format!("agent says {m}")})),
                        )
                        .await;
                    agent_messages.push(sent["id"].as_str().unwrap().to_owned());
                }
            }
            for id in &agent_messages {
                maybe_drop(&env, &mut rng, share).await;
                let path = format!("{base}/messages/{id}");
                match rng.random_range(0..4) {
                    0 => {
                        env.sim(Method::PATCH, &path, Some(json!({"text": "edited"})))
                            .await;
                    }
                    1 => {
                        env.sim(Method::PATCH, &path, Some(json!({"purge": true})))
                            .await;
                    }
                    2 => {
                        env.sim(Method::DELETE, &path, None).await;
                    }
                    _ => {}
                }
            }
            if rng.random_bool(0.5) {
                maybe_drop(&env, &mut rng, share).await;
                env.sim(Method::POST, &format!("{base}/end"), Some(json!({})))
                    .await;
            }
            chats.push((token, chat));
        }
        env.flush_webhooks().await;
        env.sim(Method::DELETE, "/_sim/webhooks/faults", None).await;

        let mut repaired = 0;
        for (_, chat) in &chats {
            let repair = env
                .app
                .service
                .reconcile_chat(&ChatId::new(chat.as_str()))
                .await
                .expect("reconciles");
            repaired += usize::from(repair.repaired());
        }
        for (token, chat) in &chats {
            assert_eq!(
                shown(&env, token, chat).await,
                truth(&env, chat).await,
                "round {round} (drop share {share}), chat {chat}"
            );
        }
        // A second run finds nothing more to repair.
        for (_, chat) in &chats {
            let again = env
                .app
                .service
                .reconcile_chat(&ChatId::new(chat.as_str()))
                .await
                .unwrap();
            assert!(!again.repaired(), "round {round}: {again:?}");
        }
        if share >= 0.8 {
            assert!(
                repaired > 0,
                "round {round}: most webhooks were lost, yet nothing repaired"
            );
        }
    }
    env.stop().await;
}

/// A run stays within its Giosg call budget and the next one resumes where it stopped; the
/// sweep goes round all active chats and starts over.
pub(crate) async fn a_run_keeps_its_budget_and_the_next_resumes<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let mut chats = Vec::new();
    for c in 0..6 {
        let (token, chat) = env.new_chat(&format!("Visitor {c}")).await;
        env.sim(
            Method::POST,
            "/_sim/webhooks/faults",
            Some(json!({"mode": "drop", "count": 100})),
        )
        .await;
        env.sim(
            Method::POST,
            &format!("/_sim/chats/{chat}/messages"),
            Some(json!({"text": "a reply that was lost"})),
        )
        .await;
        env.flush_webhooks().await;
        env.sim(Method::DELETE, "/_sim/webhooks/faults", None).await;
        chats.push((token, chat));
    }
    chats.sort_by(|a, b| a.1.cmp(&b.1));
    let limits = ReconcileLimits {
        max_giosg_calls: 5,
        concurrency: 2,
        ..ReconcileLimits::default()
    };
    let calls = || async {
        env.giosg_calls("owned_chat").await + env.giosg_calls("owned_chat_messages").await
    };
    for expected_complete in [false, false, true] {
        let before = calls().await;
        let run = env.app.service.reconcile_active(&limits).await.unwrap();
        assert_eq!(run.chats_active, 6);
        assert_eq!(run.chats_looked_at, 2, "{run:?}");
        assert_eq!(run.chats_repaired, 2, "each had a lost reply: {run:?}");
        assert_eq!(
            u64::try_from(run.giosg_calls).unwrap(),
            calls().await - before,
            "the run reports the calls it made"
        );
        assert_eq!(run.sweep_complete, expected_complete, "{run:?}");
        // A chat is started only while its two calls fit; a chat whose messages take a second
        // page (the contrary profile's rule messages) passes the cap by that page.
        let extra_pages = usize::from(support::harness::behaviour().extra_message_types);
        assert!(
            run.giosg_calls <= limits.max_giosg_calls + run.chats_looked_at * extra_pages,
            "{run:?}"
        );
    }
    for (token, chat) in &chats {
        assert_eq!(shown(&env, token, chat).await, truth(&env, chat).await);
    }
    // The sweep starts over, and finds nothing more to repair.
    let again = env.app.service.reconcile_active(&limits).await.unwrap();
    assert_eq!((again.chats_looked_at, again.chats_repaired), (2, 0));
    env.stop().await;
}

/// Giosg's counters put the chat whose message webhook was lost first: with calls for one
/// chat, that chat is the one read, wherever it is in the sweep; the other chats' counters
/// agree with their stored messages at the cost of no Giosg call.
pub(crate) async fn counters_put_the_chat_with_a_lost_message_first<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let mut chats = Vec::new();
    for c in 0..4 {
        let (token, chat) = env.new_chat(&format!("Visitor {c}")).await;
        let base = format!("/_sim/chats/{chat}");
        env.sim(Method::POST, &format!("{base}/join"), Some(json!({})))
            .await;
        env.sim(
            Method::POST,
            &format!("{base}/messages"),
            Some(json!({"text": "hello"})),
        )
        .await;
        chats.push((token, chat));
    }
    chats.sort_by(|a, b| a.1.cmp(&b.1));
    env.flush_webhooks().await;
    // Settle: every chat read once, its counters checked.
    let settle = env
        .app
        .service
        .reconcile_active(&ReconcileLimits::default())
        .await
        .unwrap();
    assert!(settle.sweep_complete, "{settle:?}");

    // The last chat in id order loses its agent's reply; the chat's `changed` (its counters)
    // arrives.
    let (token, lost) = chats.last().unwrap().clone();
    env.sim(
        Method::POST,
        "/_sim/webhooks/faults",
        Some(json!({"mode": "drop", "count": 1})),
    )
    .await;
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{lost}/messages"),
        Some(json!({"text": "a reply that was lost"})),
    )
    .await;
    env.flush_webhooks().await;
    env.sim(Method::DELETE, "/_sim/webhooks/faults", None).await;
    assert_ne!(shown(&env, &token, &lost).await, truth(&env, &lost).await);

    let one_chat = ReconcileLimits {
        max_giosg_calls: 2,
        concurrency: 1,
        ..ReconcileLimits::default()
    };
    let run = env.app.service.reconcile_active(&one_chat).await.unwrap();
    assert_eq!((run.chats_suspect, run.chats_looked_at), (1, 1), "{run:?}");
    assert_eq!(run.chats_repaired, 1, "{run:?}");
    assert!(!run.sweep_complete, "the sweep had no calls left: {run:?}");
    assert_eq!(shown(&env, &token, &lost).await, truth(&env, &lost).await);

    // Nothing moved since: no suspect, and the sweep reads the chats in turn.
    let next = env.app.service.reconcile_active(&one_chat).await.unwrap();
    assert_eq!(
        (next.chats_counted, next.chats_suspect, next.chats_looked_at),
        (0, 0, 1),
        "{next:?}"
    );
    // A chat whose counters moved with every webhook delivered costs no Giosg call.
    let (_, busy) = &chats[0];
    env.sim(
        Method::POST,
        &format!("/_sim/chats/{busy}/messages"),
        Some(json!({"text": "delivered"})),
    )
    .await;
    env.flush_webhooks().await;
    let calls_before = env.giosg_calls("owned_chat").await;
    let none_left = ReconcileLimits {
        max_giosg_calls: 0,
        ..ReconcileLimits::default()
    };
    let counted = env.app.service.reconcile_active(&none_left).await.unwrap();
    assert_eq!(
        (
            counted.chats_counted,
            counted.chats_suspect,
            counted.giosg_calls
        ),
        (1, 0, 0),
        "{counted:?}"
    );
    assert_eq!(env.giosg_calls("owned_chat").await, calls_before);
    env.stop().await;
}
