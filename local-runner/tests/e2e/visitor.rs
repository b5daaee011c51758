//! The visitor's side, over the public HTTP API: start a chat, send a message, read a history
//! page, and pick the texts of one sender out of a page.

use reqwest::Method;
use serde_json::{Value, json};

use crate::runner::Runner;

/// Starts a chat as a new visitor: (visitor token, chat).
pub async fn start_chat(runner: &Runner, name: &str) -> (String, Value) {
    let (status, body) = runner
        .api(
            Method::POST,
            "/v1/chats",
            None,
            Some(json!({"visitor_name": name})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let token = body["visitor_token"]
        .as_str()
        .expect("a new visitor gets a token")
        .to_owned();
    (token, body["chat"].clone())
}

pub async fn send(runner: &Runner, token: &str, chat: &str, text: &str, key: &str) -> (u16, Value) {
    runner
        .api(
            Method::POST,
            &format!("/v1/chats/{chat}/messages"),
            Some(token),
            Some(json!({"text": text, "client_message_id": key})),
        )
        .await
}

pub async fn history(runner: &Runner, token: &str, chat: &str, query: &str) -> Value {
    let (status, body) = runner
        .api(
            Method::GET,
            &format!("/v1/chats/{chat}/messages{query}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub fn texts_of<'a>(messages: &'a [Value], sender: &str) -> Vec<&'a str> {
    messages
        .iter()
        .filter(|m| m["type"] == "msg" && m["sender"]["type"] == sender)
        .map(|m| m["text"].as_str().unwrap_or_default())
        .collect()
}
