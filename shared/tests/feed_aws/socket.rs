//! The WebSocket routes: `$connect` takes the visitor token from the query or the `bearer`
//! subprotocol and refuses anything else, `subscribe` posts the catch-up (or an error frame) to
//! the connection, `$disconnect` forgets the connection and its subscriptions.

use serde_json::json;
use shared::domain::visitor::VisitorToken;

use crate::{DOMAIN, Feed, STAGE, connect_event, message_event, ws_event};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_takes_the_token_from_the_query_or_the_bearer_subprotocol() {
    let feed = Feed::start().await;
    let (token, _) = feed.env.new_chat("Ada").await;

    let by_query = feed
        .route(connect_event("Lz8qNcM3DoECH0w=", Some(&token), None))
        .await;
    assert_eq!(by_query, json!({"statusCode": 200}));
    let pair = format!("bearer, {token}");
    let by_protocol = feed
        .route(connect_event("Lz8qNcM3DoECH1w=", None, Some(&pair)))
        .await;
    assert_eq!(
        by_protocol,
        json!({"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "bearer"}})
    );
    // Each connection is kept with the management endpoint of its stage.
    for id in ["Lz8qNcM3DoECH0w=", "Lz8qNcM3DoECH1w="] {
        let connection = feed.connection(id).await.expect("the connection is kept");
        assert_eq!(connection.endpoint, format!("https://{DOMAIN}/{STAGE}"));
        assert!(connection.chats.is_empty());
    }
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_missing_or_malformed_token_is_refused() {
    let feed = Feed::start().await;
    let unknown = VisitorToken::generate();
    let unknown = unknown.expose().to_owned();
    let bearer_unknown = format!("bearer, {unknown}");
    let refused = [
        connect_event("c-unknown", Some(&unknown), None),
        connect_event("c-unknown-protocol", None, Some(&bearer_unknown)),
        connect_event("c-none", None, None),
        connect_event("c-malformed", Some("not-a-token"), None),
        connect_event("c-other-protocol", None, Some("graphql-ws")),
    ];
    for event in refused {
        let id = event["requestContext"]["connectionId"].clone();
        assert_eq!(feed.route(event).await, json!({"statusCode": 401}), "{id}");
        assert!(feed.connection(id.as_str().unwrap()).await.is_none());
    }
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_posts_the_catch_up_and_anothers_chat_gets_an_error_frame() {
    let feed = Feed::start().await;
    let (token, chat) = feed.env.new_chat("Ada").await;
    let (_, strangers_chat) = feed.env.new_chat("Bob").await;
    assert_eq!(feed.env.send(&token, &chat, "hello").await.status, 201);
    assert_eq!(feed.connect("conn-ada", &token).await, 200);

    feed.subscribe("conn-ada", &chat, None).await;
    let frames = feed.api.frames("conn-ada");
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "messages");
    assert_eq!(frames[0]["chat_id"], chat.as_str());
    let texts: Vec<&str> = frames[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|message| message["text"].as_str())
        .collect();
    assert_eq!(texts, ["hello"]);
    assert!(frames[0]["next_cursor"].is_string());
    assert_eq!(feed.subscribers(&chat).await, ["conn-ada"]);
    // Subscribing again from the cursor it was given brings nothing new.
    let cursor = frames[0]["next_cursor"].as_str().unwrap().to_owned();
    feed.subscribe("conn-ada", &chat, Some(&cursor)).await;
    assert_eq!(feed.api.frames("conn-ada").len(), 1);

    // Someone else's chat is not found, and a request that is no subscribe is refused.
    feed.subscribe("conn-ada", &strangers_chat, None).await;
    let refusal = feed.route(message_event("conn-ada", "hello?")).await;
    assert_eq!(refusal, json!({"statusCode": 200}));
    let frames = feed.api.frames("conn-ada");
    let codes: Vec<&str> = frames[1..]
        .iter()
        .map(|frame| {
            assert_eq!(frame["type"], "error", "{frame}");
            frame["error"]["code"].as_str().unwrap()
        })
        .collect();
    assert_eq!(codes, ["not_found", "invalid_request"]);
    assert!(feed.subscribers(&strangers_chat).await.is_empty());
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_forgets_the_connection_and_its_subscriptions() {
    let feed = Feed::start().await;
    let (token, chat) = feed.env.new_chat("Ada").await;
    assert_eq!(feed.connect("conn-1", &token).await, 200);
    assert_eq!(feed.connect("conn-2", &token).await, 200);
    feed.subscribe("conn-1", &chat, None).await;
    feed.subscribe("conn-2", &chat, None).await;
    assert_eq!(feed.subscribers(&chat).await, ["conn-1", "conn-2"]);

    let answer = feed.route(ws_event("$disconnect", "conn-1")).await;
    assert_eq!(answer, json!({"statusCode": 200}));
    assert_eq!(feed.subscribers(&chat).await, ["conn-2"]);
    assert!(feed.connection("conn-1").await.is_none());
    // A second disconnect of the same connection (API Gateway may repeat it) is harmless.
    let again = feed.route(ws_event("$disconnect", "conn-1")).await;
    assert_eq!(again, json!({"statusCode": 200}));
    feed.stop().await;
}
