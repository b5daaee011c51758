//! The notifier on the batches of the table's own stream (moto): a stored message reaches each
//! subscriber once as a `messages` frame (a retried batch repeats nothing), a chat that ends
//! reaches it as a `chat` frame, and a gone connection is forgotten.

use reqwest::Method;
use serde_json::json;
use shared::domain::ChatId;
use shared::jobs::feed_notifier::{changes_of, notify};
use shared::service::Changes;

use crate::Feed;
use crate::support::harness::WEBHOOK_SECRET;
use crate::support::stream::TableStream;

/// The texts of the `messages` frames a connection received, frame by frame.
fn texts(frames: &[serde_json::Value]) -> Vec<Vec<String>> {
    frames
        .iter()
        .filter(|frame| frame["type"] == "messages")
        .map(|frame| {
            frame["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|message| message["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_message_is_pushed_once_to_each_subscriber() {
    let feed = Feed::start().await;
    let (token, chat) = feed.env.new_chat("Ada").await;
    assert_eq!(feed.connect("conn-1", &token).await, 200);
    feed.subscribe("conn-1", &chat, None).await;
    let mut stream = TableStream::from_now(&feed.client, &feed.table).await;

    assert_eq!(feed.env.send(&token, &chat, "hello").await.status, 201);
    let batch = stream.batch().await;
    // The stream holds the message, its feed entry and position (and the subscription's own
    // writes are none of the notifier's business): one feed moved.
    assert_eq!(
        changes_of(&batch).unwrap(),
        Changes {
            feeds: [ChatId::new(chat.as_str())].into(),
            chats: Default::default(),
        },
        "{batch}"
    );
    let report = notify(&feed.env.app.service, &feed.pusher, &batch)
        .await
        .unwrap();
    assert_eq!((report.subscriptions, report.frames), (1, 1), "{report:?}");
    assert_eq!(texts(&feed.api.frames("conn-1")), [vec!["hello"]]);

    // The same batch again (Lambda's retry) repeats nothing; the next message comes alone.
    let report = notify(&feed.env.app.service, &feed.pusher, &batch)
        .await
        .unwrap();
    assert_eq!((report.frames, report.up_to_date), (0, 1), "{report:?}");
    assert_eq!(feed.env.send(&token, &chat, "again").await.status, 201);
    notify(&feed.env.app.service, &feed.pusher, &stream.batch().await)
        .await
        .unwrap();
    assert_eq!(
        texts(&feed.api.frames("conn-1")),
        [vec!["hello"], vec!["again"]]
    );
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_that_ends_is_pushed_as_a_chat_frame() {
    let feed = Feed::start().await;
    let (token, chat) = feed.env.new_chat("Ada").await;
    assert_eq!(feed.connect("conn-1", &token).await, 200);
    feed.subscribe("conn-1", &chat, None).await;
    let mut stream = TableStream::from_now(&feed.client, &feed.table).await;

    let ended = json!({"channel": format!("/api/v5/orgs/{}/owned_chats", feed.env.sim.org_id()),
        "action": "changed", "resource_id": chat,
        "resource": {"is_ended": true, "ended_at": "2026-11-30T10:00:00.000Z"}});
    let url = format!("/webhooks/giosg/chats?token={WEBHOOK_SECRET}");
    let stored = feed.env.call(Method::POST, &url, None, Some(ended)).await;
    assert_eq!(stored.status, 200);
    let batch = stream.batch().await;
    let changes = changes_of(&batch).unwrap();
    assert!(
        changes.chats.contains(&ChatId::new(chat.as_str())),
        "{batch}"
    );
    let report = notify(&feed.env.app.service, &feed.pusher, &batch)
        .await
        .unwrap();
    assert_eq!(report.gone + report.failed, 0, "{report:?}");
    let frames = feed.api.frames("conn-1");
    let chat_frames: Vec<_> = frames.iter().filter(|f| f["type"] == "chat").collect();
    assert_eq!(chat_frames.len(), 1, "{frames:?}");
    assert_eq!(chat_frames[0]["chat"]["id"], chat.as_str());
    assert_eq!(chat_frames[0]["chat"]["status"], "ended");
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_connection_is_forgotten() {
    let feed = Feed::start().await;
    let (token, chat) = feed.env.new_chat("Ada").await;
    for connection in ["conn-here", "conn-gone"] {
        assert_eq!(feed.connect(connection, &token).await, 200);
        feed.subscribe(connection, &chat, None).await;
    }
    let mut stream = TableStream::from_now(&feed.client, &feed.table).await;
    feed.api.mark_gone("conn-gone");

    assert_eq!(feed.env.send(&token, &chat, "hello").await.status, 201);
    let report = notify(&feed.env.app.service, &feed.pusher, &stream.batch().await)
        .await
        .unwrap();
    assert_eq!(
        (report.subscriptions, report.frames, report.gone),
        (2, 1, 1),
        "{report:?}"
    );
    assert_eq!(texts(&feed.api.frames("conn-here")), [vec!["hello"]]);
    assert_eq!(feed.subscribers(&chat).await, ["conn-here"]);
    assert!(feed.connection("conn-gone").await.is_none());
    assert!(feed.connection("conn-here").await.is_some());
    feed.stop().await;
}
