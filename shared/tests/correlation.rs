//! One correlation id along a message's way: every log line of a send carries one (the request
//! id until Giosg names the message, its id from then on), and every log line of the message's
//! webhook carries the message's id. The only test of this binary: it reads everything logged.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use shared::store::memory::MemoryStore;

const SEND: &str = "POST /v1/chats/{chat_id}/messages";
const MESSAGE_WEBHOOK: &str = "POST /webhooks/giosg/messages";

/// The request span a line was logged in, if any.
fn request_span(line: &Value) -> Option<&Value> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|span| span["name"] == "request")
}

/// The correlation id a line carries: that of the innermost span that has one.
fn correlation_id(line: &Value) -> Option<&str> {
    line["spans"]
        .as_array()?
        .iter()
        .rev()
        .find_map(|span| span["correlation_id"].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_followed_by_one_id_from_its_send_to_its_webhook() {
    support::logs::capture(true);
    let env = support::harness::start(MemoryStore::new()).await;
    let (token, chat) = env.new_chat("Ada").await;
    let sent = env.send(&token, &chat, "hello there").await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let message_id = sent.body["message"]["id"].as_str().unwrap().to_owned();
    // The echo of the visitor's message comes back as a webhook.
    env.flush_webhooks().await;
    env.stop().await;

    let lines: Vec<Value> = support::logs::text()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    // Lines by request, in the order they were logged.
    let mut requests: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for line in &lines {
        if let Some(span) = request_span(line) {
            let route = span["route"].as_str().unwrap_or_default().to_owned();
            let id = span["request_id"].as_str().unwrap_or_default().to_owned();
            requests.entry((route, id)).or_default().push(line);
        }
    }

    let sends: Vec<(&(String, String), &Vec<&Value>)> = requests
        .iter()
        .filter(|((route, _), _)| route == SEND)
        .collect();
    assert_eq!(sends.len(), 1, "one send: {sends:?}");
    let ((_, request_id), send_lines) = sends[0];
    assert!(
        send_lines.len() >= 2,
        "the send logs its Giosg call and itself: {send_lines:?}"
    );
    let mut named = false;
    for line in send_lines {
        let id = correlation_id(line).unwrap_or_else(|| panic!("no correlation id: {line}"));
        // The request id until Giosg answered with the message's id; that id from then on.
        if id == message_id {
            named = true;
        } else {
            assert!(!named, "back to {id} after the message was named: {line}");
            assert_eq!(id, request_id, "{line}");
        }
    }
    let last = send_lines.last().unwrap();
    assert_eq!(
        last["message"], "request",
        "the request line comes last: {last}"
    );
    assert_eq!(correlation_id(last), Some(message_id.as_str()), "{last}");

    let echoes: Vec<&Vec<&Value>> = requests
        .iter()
        .filter(|((route, _), lines)| {
            route == MESSAGE_WEBHOOK
                && lines
                    .iter()
                    .any(|line| correlation_id(line) == Some(message_id.as_str()))
        })
        .map(|(_, lines)| lines)
        .collect();
    assert!(!echoes.is_empty(), "the message's webhook was logged");
    for echo in echoes {
        for line in echo {
            assert_eq!(
                correlation_id(line),
                Some(message_id.as_str()),
                "every line of the message's webhook: {line}"
            );
        }
        assert!(
            echo.iter()
                .any(|line| line["message"] == "request" && line["status"] == 200),
            "{echo:?}"
        );
    }
}
