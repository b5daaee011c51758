//! Exactly once, whatever fails (spec §8), as a property: a random Giosg fault (refusal of
//! service, a 5xx before or after Giosg acted, a lost answer) on a random call of a send or a
//! start, then the visitor retries the same request until it succeeds. Always exactly one
//! message (or chat) in Giosg and in history. Seeded, so a failure names a case that replays.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use shared::store::ChatStore;

use crate::support::harness::{Reply, TestEnv};
use crate::{messages, support};

const CASES: u64 = 16;

/// A fault the simulator injects: on which endpoint, which status, whether Giosg acts first.
#[derive(Debug)]
struct Fault {
    endpoint: &'static str,
    status: u16,
    after_effect: bool,
    count: u32,
}

/// A 429 or a 503 says the request was turned away (a load balancer answers 503 when no
/// server could take it), so the client may repeat even a send after one; only 500, 502 and
/// 504 can come after Giosg acted.
fn random_fault(rng: &mut StdRng, endpoints: &[&'static str]) -> Fault {
    let status = [429, 500, 502, 503, 504][rng.random_range(0..5)];
    Fault {
        endpoint: endpoints[rng.random_range(0..endpoints.len())],
        status,
        after_effect: matches!(status, 500 | 502 | 504) && rng.random_bool(0.5),
        count: rng.random_range(1..=2),
    }
}

async fn inject<S: ChatStore>(env: &TestEnv<S>, fault: &Fault) {
    env.sim(
        Method::POST,
        "/_sim/faults",
        Some(json!({
            "endpoint": fault.endpoint, "status": fault.status,
            "after_effect": fault.after_effect, "count": fault.count
        })),
    )
    .await;
}

/// Repeats the request until it succeeds (a frontend's retry loop), at most a few times.
async fn until_done<F, Fut>(case: &str, mut call: F) -> Reply
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    for _ in 0..8 {
        let reply = call().await;
        match reply.status {
            200 | 201 => return reply,
            409 | 429 | 502 | 503 => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            other => panic!("{case}: unexpected {other}: {}", reply.body),
        }
    }
    panic!("{case}: never succeeded");
}

pub(crate) async fn a_send_with_a_fault_anywhere_lands_exactly_once<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let mut rng = StdRng::seed_from_u64(0x5e4d);
    let mut lost_answers = 0;
    for case in 0..CASES {
        let fault = random_fault(&mut rng, &["send_message", "visitor_messages"]);
        lost_answers += usize::from(fault.endpoint == "send_message" && fault.after_effect);
        let label = format!("send case {case}: {fault:?}");
        let (token, chat) = env.new_chat("Ada").await;
        let text = format!("message of case {case}");
        inject(&env, &fault).await;
        let path = format!("/v1/chats/{chat}/messages");
        let body = json!({"text": text, "client_message_id": format!("k-{case}")});
        let done = until_done(&label, || {
            env.call(Method::POST, &path, Some(&token), Some(body.clone()))
        })
        .await;
        assert_eq!(done.body["message"]["text"], text.as_str(), "{label}");
        env.sim(Method::DELETE, "/_sim/faults", None).await;
        env.flush_webhooks().await;

        let detail = env
            .sim(Method::GET, &format!("/_sim/chats/{chat}"), None)
            .await;
        let in_giosg = detail["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["message"] == text.as_str())
            .count();
        assert_eq!(in_giosg, 1, "{label}: in Giosg");
        let history = messages(&env.history(&token, &chat, "").await);
        let ours: Vec<&Value> = history
            .iter()
            .filter(|m| m["text"] == text.as_str())
            .collect();
        assert_eq!(ours.len(), 1, "{label}: in history {history:?}");
        assert_eq!(ours[0]["id"], done.body["message"]["id"], "{label}");
    }
    assert!(lost_answers > 0, "the seed never lost a send's answer");
    env.stop().await;
}

pub(crate) async fn a_start_with_a_fault_anywhere_opens_exactly_one_chat<S: ChatStore>(store: S) {
    let env = support::harness::start(store).await;
    let mut rng = StdRng::seed_from_u64(0x57a7);
    let mut lost_answers = 0;
    for case in 0..CASES {
        let fault = random_fault(
            &mut rng,
            &["start_chat", "visitor_chats", "join_room", "set_variable"],
        );
        lost_answers += usize::from(fault.endpoint == "start_chat" && fault.after_effect);
        let label = format!("start case {case}: {fault:?}");
        let name = format!("Visitor {case}");
        let (token, first) = env.new_chat(&name).await;
        env.sim(
            Method::POST,
            &format!("/_sim/chats/{first}/end"),
            Some(json!({})),
        )
        .await;
        env.flush_webhooks().await;
        inject(&env, &fault).await;
        let done = until_done(&label, || {
            env.call(
                Method::POST,
                "/v1/chats",
                Some(&token),
                Some(json!({"visitor_name": name})),
            )
        })
        .await;
        env.sim(Method::DELETE, "/_sim/faults", None).await;
        let chat = done.body["chat"]["id"].as_str().unwrap().to_owned();
        assert_ne!(chat, first, "{label}");

        let chats = env.sim(Method::GET, "/_sim/chats", None).await;
        let open_in_giosg: Vec<&Value> = chats
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["visitor_name"] == name.as_str() && c["chat"]["is_ended"] == false)
            .collect();
        assert_eq!(open_in_giosg.len(), 1, "{label}: open chats in Giosg");
        assert_eq!(open_in_giosg[0]["chat"]["id"], chat.as_str(), "{label}");
        let listed = env.call(Method::GET, "/v1/chats", Some(&token), None).await;
        assert_eq!(
            listed.body["chats"].as_array().unwrap().len(),
            2,
            "{label}: {}",
            listed.body
        );
    }
    assert!(lost_answers > 0, "the seed never lost a start's answer");
    env.stop().await;
}
