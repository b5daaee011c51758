//! End to end, as a user runs it: the real `local-runner` binary on free ports, the visitor
//! side over the public HTTP API, the agent side through the simulator's control API.
//!
//! One test binary: the tests are here, under the names `local-runner/README.md` lists; the
//! harness is in [`runner`] (the process and its HTTP clients) and [`visitor`] (the visitor's
//! calls to the public API).

mod feed;
mod identity;
mod runner;
mod visitor;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use runner::{Runner, runner_command, scratch_dir};
use visitor::{history, send, start_chat, texts_of};

#[tokio::test]
async fn visitor_chats_with_an_agent_until_the_chat_ends_and_starts_a_new_one() {
    let runner = Runner::start(&[]);

    let (status, availability) = runner
        .api(Method::GET, "/v1/availability", None, None)
        .await;
    assert_eq!(status, 200, "{availability}");
    assert_eq!(availability["online"], true);

    let (token, chat) = start_chat(&runner, "Ada").await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    assert_eq!(chat["visitor_name"], "Ada");
    assert_ne!(chat["status"], "ended");

    // The page's first load: the newest page, whose next_cursor is where polling starts.
    let first_page = history(&runner, &token, &chat_id, "?limit=50").await;
    let cursor = first_page["next_cursor"].as_str().unwrap().to_owned();

    let (status, first) = send(&runner, &token, &chat_id, "Hello, I need help", "m-1").await;
    assert_eq!(status, 201, "{first}");
    let (status, replay) = send(&runner, &token, &chat_id, "Hello, I need help", "m-1").await;
    assert_eq!(
        status, 200,
        "a retried client_message_id is a replay: {replay}"
    );
    assert_eq!(replay["message"]["id"], first["message"]["id"]);
    let (status, second) = send(&runner, &token, &chat_id, "Are you there?", "m-2").await;
    assert_eq!(status, 201, "{second}");

    // The agent, in the simulator: join, reply, leave, end.
    let agent = Some(json!({"agent_name": "Smith"}));
    runner
        .sim(
            Method::POST,
            &format!("/_sim/chats/{chat_id}/join"),
            agent.clone(),
        )
        .await;
    runner
        .sim(
            Method::POST,
            &format!("/_sim/chats/{chat_id}/messages"),
            Some(json!({"agent_name": "Smith", "text": "Hi Ada, Smith here. How can I help?"})),
        )
        .await;
    runner
        .sim(
            Method::POST,
            &format!("/_sim/chats/{chat_id}/leave"),
            agent.clone(),
        )
        .await;
    runner
        .sim(Method::POST, &format!("/_sim/chats/{chat_id}/end"), None)
        .await;
    runner.flush_webhooks().await;

    // What the page's next poll sees: everything after the cursor, in order.
    let page = history(
        &runner,
        &token,
        &chat_id,
        &format!("?after={cursor}&limit=100"),
    )
    .await;
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(
        texts_of(messages, "visitor"),
        ["Hello, I need help", "Are you there?"],
        "each visitor message exactly once: {messages:#?}"
    );
    assert_eq!(
        texts_of(messages, "agent"),
        ["Hi Ada, Smith here. How can I help?"]
    );
    let kinds: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap(),
                m["sender"]["name"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("msg", "Ada"),
            ("msg", "Ada"),
            ("join", "Smith"),
            ("msg", "Smith"),
            ("leave", "Smith"),
        ],
        "agents appear under their public name, never the internal one"
    );
    assert_eq!(messages[0]["client_message_id"], "m-1");
    assert_eq!(page["chat"]["status"], "ended");
    assert!(page["chat"]["ended_at"].is_string());

    // Polling on: nothing new, and the cursor stays.
    let next = page["next_cursor"].as_str().unwrap();
    let empty = history(&runner, &token, &chat_id, &format!("?after={next}")).await;
    assert_eq!(empty["messages"], json!([]));
    assert_eq!(empty["next_cursor"], next);

    // An ended chat takes no more messages, and says so.
    let (status, refused) = send(&runner, &token, &chat_id, "Hello again?", "m-3").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "chat_ended");

    // A new chat after the end, for the same visitor.
    let (status, again) = runner
        .api(
            Method::POST,
            "/v1/chats",
            Some(&token),
            Some(json!({"visitor_name": "Ada"})),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    assert!(again.get("visitor_token").is_none(), "the token is kept");
    let new_chat_id = again["chat"]["id"].as_str().unwrap();
    assert_ne!(new_chat_id, chat_id);
    let (status, sent) = send(&runner, &token, new_chat_id, "One more question", "m-4").await;
    assert_eq!(status, 201, "{sent}");
    let (status, chats) = runner
        .api(Method::GET, "/v1/chats", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = chats["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [new_chat_id, chat_id.as_str()], "newest first");

    // Every webhook reached the local endpoint with the run's secret.
    runner.flush_webhooks().await;
    let webhooks = runner.sim(Method::GET, "/_sim/webhooks", None).await;
    let deliveries = webhooks["deliveries"].as_array().unwrap();
    assert!(deliveries.len() >= 10, "{webhooks:#}");
    for delivery in deliveries {
        assert_eq!(delivery["status"], 200, "{delivery:#}");
        assert!(
            delivery["url"]
                .as_str()
                .unwrap()
                .ends_with("?token=REDACTED"),
            "posted with a token, which the simulator's log hides: {delivery:#}"
        );
    }
}

#[tokio::test]
async fn data_file_keeps_the_visitors_chats_across_a_restart() {
    let data_file = scratch_dir().join("store.json");
    let data_arg = data_file.to_str().unwrap().to_owned();

    let runner = Runner::start(&["--data-file", &data_arg]);
    let (token, chat) = start_chat(&runner, "Grace").await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    let (status, _) = send(&runner, &token, &chat_id, "Remember me", "k-1").await;
    assert_eq!(status, 201);
    runner
        .sim(
            Method::POST,
            &format!("/_sim/chats/{chat_id}/messages"),
            Some(json!({"agent_name": "Jones", "text": "I will"})),
        )
        .await;
    runner.flush_webhooks().await;

    // Saved shortly after the writes, without waiting for the shutdown.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let saved = std::fs::read_to_string(&data_file).unwrap_or_default();
        if saved.contains(&chat_id) && saved.contains("I will") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the store was not saved: {saved}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = runner.terminate();
    assert!(status.success(), "a clean shutdown: {status}");

    let runner = Runner::start(&["--data-file", &data_arg]);
    let (status, chats) = runner
        .api(Method::GET, "/v1/chats", Some(&token), None)
        .await;
    assert_eq!(status, 200, "the visitor token still works: {chats}");
    assert_eq!(chats["chats"][0]["id"], chat_id.as_str());
    // The new simulator never knew this chat, so it is ended rather than left hanging.
    assert_eq!(chats["chats"][0]["status"], "ended");
    let page = history(&runner, &token, &chat_id, "").await;
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(texts_of(messages, "visitor"), ["Remember me"]);
    assert_eq!(texts_of(messages, "agent"), ["I will"]);

    // The same visitor carries on in a new chat with the new simulator.
    let (status, again) = runner
        .api(
            Method::POST,
            "/v1/chats",
            Some(&token),
            Some(json!({"visitor_name": "Grace"})),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    let new_chat = again["chat"]["id"].as_str().unwrap();
    let (status, sent) = send(&runner, &token, new_chat, "Back again", "k-2").await;
    assert_eq!(status, 201, "{sent}");
    let status = runner.terminate();
    assert!(status.success());

    // The file now holds both chats, the first one ended.
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&data_file).unwrap()).unwrap();
    let ended: Vec<(&str, bool)> = saved["store"]["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["record"]["id"].as_str().unwrap(),
                c["record"]["is_ended"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(ended.contains(&(chat_id.as_str(), true)), "{ended:?}");
    assert!(ended.contains(&(new_chat, false)), "{ended:?}");
    std::fs::remove_dir_all(data_file.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn serves_the_visitor_page_and_the_agent_console() {
    let runner = Runner::start(&[]);
    let (status, content_type, page) = runner.get_text(&format!("{}/", runner.api)).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        page.contains("<script type=\"module\" src=\"/app.js\""),
        "{page}"
    );
    let (status, content_type, script) = runner.get_text(&format!("{}/app.js", runner.api)).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/javascript"));
    assert!(script.contains("/chat-client.js"));
    let (status, content_type, client) = runner
        .get_text(&format!("{}/chat-client.js", runner.api))
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/javascript"));
    assert!(client.contains("export class ChatClient") && client.contains("/v1/feed"));
    let (status, _, console) = runner
        .get_text(&format!("{}/_sim/console", runner.sim))
        .await;
    assert_eq!(status, 200);
    assert!(console.contains("Giosg simulator — agent console (simulation)"));
    // Everything else on the API port is the API, with its error shape.
    let (status, body) = runner
        .api(Method::GET, "/v1/nothing-here", None, None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn with_giosg_url_it_talks_to_that_giosg_and_starts_no_simulator() {
    // A Giosg stand-in of our own (the simulator as a separate server), as real Giosg would be.
    let giosg =
        giosg_sim::Simulator::start(giosg_sim::SimConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let secret = "webhook-secret-of-this-test-0123";
    let mut runner = Runner::start_with_env(
        &[
            "--giosg-url",
            &giosg.base_url(),
            "--giosg-org-id",
            giosg.org_id(),
            "--giosg-room-id",
            giosg.room_id(),
        ],
        &[
            ("GIOSG_API_TOKEN", giosg.api_token()),
            ("WEBHOOK_SECRET", secret),
        ],
    );
    assert_eq!(runner.sim, "none", "no simulator of its own");
    // The agent side is now that Giosg's; register the webhooks as an operator does in a
    // Giosg App, with the secret in `?token=`.
    runner.sim = giosg.base_url();
    runner
        .sim(
            Method::PUT,
            "/_sim/webhooks/urls",
            Some(json!({
                "chat_webhook_url": format!("{}/webhooks/giosg/chats?token={secret}", runner.api),
                "message_webhook_url": format!("{}/webhooks/giosg/messages?token={secret}", runner.api),
            })),
        )
        .await;

    let (token, chat) = start_chat(&runner, "Linus").await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    let (status, _) = send(&runner, &token, &chat_id, "Hi there", "r-1").await;
    assert_eq!(status, 201);
    runner
        .sim(
            Method::POST,
            &format!("/_sim/chats/{chat_id}/messages"),
            Some(json!({"agent_name": "Taylor", "text": "Hello Linus"})),
        )
        .await;
    runner.flush_webhooks().await;
    let page = history(&runner, &token, &chat_id, "").await;
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(texts_of(messages, "visitor"), ["Hi there"]);
    assert_eq!(texts_of(messages, "agent"), ["Hello Linus"]);
    let webhooks = runner.sim(Method::GET, "/_sim/webhooks", None).await;
    for delivery in webhooks["deliveries"].as_array().unwrap() {
        assert_eq!(delivery["status"], 200, "{delivery:#}");
    }
    drop(runner);
    giosg.shutdown().await;
}

#[test]
fn real_giosg_without_credentials_stops_with_a_sentence_naming_them() {
    let log = scratch_dir().join("runner.log");
    let output = runner_command(
        &[
            "--port",
            "0",
            "--giosg-url",
            "https://service.giosg.com",
            "--giosg-org-id",
            "org",
            "--giosg-room-id",
            "room",
        ],
        &log,
    )
    .output()
    .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let errors = std::fs::read_to_string(&log).unwrap();
    assert!(errors.contains("GIOSG_API_TOKEN"), "{errors}");
}

/// `--reconcile-every`: an agent's reply whose webhook was lost reaches the visitor's history
/// through the runner's reconciler, without any webhook.
#[tokio::test]
async fn the_reconciler_repairs_a_lost_webhook() {
    let runner = Runner::start(&["--reconcile-every", "1"]);
    let (token, chat) = start_chat(&runner, "Ada").await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    runner
        .sim(
            Method::POST,
            "/_sim/webhooks/faults",
            Some(json!({"mode": "drop", "count": 100})),
        )
        .await;
    runner
        .sim(
            Method::POST,
            &format!("/_sim/chats/{chat_id}/messages"),
            Some(json!({"text": "a reply whose webhook was lost"})),
        )
        .await;
    runner.flush_webhooks().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = history(&runner, &token, &chat_id, "?limit=50").await;
        let messages = page["messages"].as_array().cloned().unwrap_or_default();
        if texts_of(&messages, "agent").contains(&"a reply whose webhook was lost") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reply never reached history: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    runner.terminate();
}

/// The operator API is served only with an `ADMIN_TOKEN`, and then only to its bearer.
#[tokio::test]
async fn the_operator_api_needs_the_admin_token() {
    let admin = "an-admin-token-of-the-e2e-test-0123";
    let runner = Runner::start_with_env(&[], &[("ADMIN_TOKEN", admin)]);
    let (token, chat) = start_chat(&runner, "Ada").await;
    let chat_id = chat["id"].as_str().unwrap();
    let export = format!("/admin/v1/chats/{chat_id}/export");
    let (status, body) = runner.api(Method::GET, &export, Some(admin), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["chat"]["id"], chat_id);
    assert_eq!(body["visitor"]["name"], "Ada");
    for wrong in [None, Some(token.as_str())] {
        let (status, body) = runner.api(Method::GET, &export, wrong, None).await;
        assert_eq!(status, 401, "{body}");
    }
    let erase = format!("/admin/v1/chats/{chat_id}");
    let (status, body) = runner.api(Method::DELETE, &erase, Some(admin), None).await;
    assert_eq!(
        (status, &body["erased"]["chats"]),
        (200, &json!(1)),
        "{body}"
    );
    let (status, _) = runner
        .api(
            Method::GET,
            &format!("/v1/chats/{chat_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 404, "the erased chat is gone");
    drop(runner);

    let without = Runner::start(&[]);
    let (status, body) = without
        .api(
            Method::GET,
            "/admin/v1/chats/anything/export",
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, 404, "not served without ADMIN_TOKEN: {body}");
}

/// The limits against floods, from the environment as on Lambda: starts without a token per
/// peer address, and a visitor's sends.
#[tokio::test]
async fn the_runner_limits_starts_and_sends_from_its_environment() {
    let limits = [
        ("ANONYMOUS_START_RATE_PER_MINUTE", "1"),
        ("ANONYMOUS_START_BURST", "1"),
        ("SEND_RATE_PER_MINUTE", "1"),
        ("SEND_BURST", "1"),
    ];
    let runner = Runner::start_with_env(&[], &limits);
    let (token, chat) = start_chat(&runner, "Ada").await;
    let start = json!({"visitor_name": "Bob"});
    let (status, body) = runner
        .api(Method::POST, "/v1/chats", None, Some(start))
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (429, &json!("rate_limited")),
        "{body}"
    );
    let chat_id = chat["id"].as_str().unwrap();
    let (status, body) = send(&runner, &token, chat_id, "one", "k-1").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = send(&runner, &token, chat_id, "two", "k-2").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (429, &json!("rate_limited")),
        "{body}"
    );
    runner.terminate();
}
