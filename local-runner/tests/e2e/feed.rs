//! The real-time feed locally: `ws://.../v1/feed` with the same protocol as the API Gateway
//! WebSocket API, fed by the same notifier.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::runner::Runner;
use crate::visitor::{send, start_chat};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn feed_url(runner: &Runner) -> String {
    format!("{}/v1/feed", runner.api.replacen("http://", "ws://", 1))
}

/// The next frame, within a few seconds.
async fn next_frame(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .expect("the socket stays open")
            .expect("a readable frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// Frames until one carries a message with this text.
async fn frame_with_text(socket: &mut Socket, text: &str) -> Value {
    loop {
        let frame = next_frame(socket).await;
        let has = frame["messages"]
            .as_array()
            .is_some_and(|messages| messages.iter().any(|m| m["text"] == text));
        if has {
            return frame;
        }
    }
}

pub(crate) async fn subscribe(socket: &mut Socket, chat: &str, after: Option<&str>) {
    let request = json!({"action": "subscribe", "chat_id": chat, "after": after});
    socket
        .send(Message::Text(request.to_string().into()))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_feed_pushes_an_agents_reply_the_moment_it_is_stored() {
    let runner = Runner::start(&[]);
    let (token, chat) = start_chat(&runner, "Ada").await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    let (status, sent) = send(&runner, &token, &chat_id, "Hello?", "k-1").await;
    assert_eq!(status, 201, "{sent}");

    // The token as the `bearer` subprotocol pair, as a browser sends it.
    let mut request = feed_url(&runner).into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(&format!("bearer, {token}")).unwrap(),
    );
    let (mut socket, answer) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        answer.headers().get("sec-websocket-protocol").unwrap(),
        "bearer"
    );
    // The catch-up: what the sync feed has from the start.
    subscribe(&mut socket, &chat_id, None).await;
    let caught_up = frame_with_text(&mut socket, "Hello?").await;
    assert_eq!(caught_up["type"], "messages");
    assert_eq!(caught_up["chat_id"], chat_id.as_str());
    let cursor = caught_up["next_cursor"].as_str().unwrap().to_owned();

    // The agent answers in the simulator: pushed, no poll.
    runner
        .sim(
            Method::POST,
            &format!("/_sim/chats/{chat_id}/messages"),
            Some(json!({"agent_name": "Smith", "text": "Hi Ada!"})),
        )
        .await;
    let pushed = frame_with_text(&mut socket, "Hi Ada!").await;
    let after_push = pushed["next_cursor"].as_str().unwrap().to_owned();
    assert_ne!(after_push, cursor);
    // The same cursor works for polling: nothing after it.
    let (status, polled) = runner
        .api(
            Method::GET,
            &format!("/v1/chats/{chat_id}/messages?after={after_push}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{polled}");
    // (The agent's join may follow its reply; nothing before it comes back.)
    assert!(
        polled["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["text"] != "Hi Ada!" && m["text"] != "Hello?"),
        "{polled}"
    );

    // The chat ends: a chat frame.
    runner
        .sim(Method::POST, &format!("/_sim/chats/{chat_id}/end"), None)
        .await;
    // (Earlier chat frames tell of the agent's answer: the chat no longer waits.)
    loop {
        let frame = next_frame(&mut socket).await;
        if frame["type"] == "chat" && frame["chat"]["status"] == "ended" {
            break;
        }
    }
    runner.terminate();
}

#[tokio::test]
async fn the_feed_refuses_strangers_and_other_visitors_chats() {
    let runner = Runner::start(&[]);
    let (token, _) = start_chat(&runner, "Ada").await;
    let (_, other) = start_chat(&runner, "Bob").await;
    let other_chat = other["id"].as_str().unwrap().to_owned();

    // No token, or an unknown one: the upgrade is refused.
    for url in [
        feed_url(&runner),
        format!("{}?token=v1.unknown", feed_url(&runner)),
    ] {
        let refused = tokio_tungstenite::connect_async(url).await;
        assert!(refused.is_err(), "connected without a valid token");
    }
    // The token in the query; someone else's chat is not found; garbage is a clear error.
    let url = format!("{}?token={token}", feed_url(&runner));
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    subscribe(&mut socket, &other_chat, None).await;
    let frame = next_frame(&mut socket).await;
    assert_eq!(frame["type"], "error");
    assert_eq!(frame["error"]["code"], "not_found");
    socket
        .send(Message::Text("{\"action\": \"dance\"}".into()))
        .await
        .unwrap();
    let frame = next_frame(&mut socket).await;
    assert_eq!(frame["error"]["code"], "invalid_request");
    runner.terminate();
}
