//! The real-time feed's flows with a recording pusher: subscribe catches up, pushes are feed
//! pages from the subscription's position, a gone connection is forgotten, a failed post keeps
//! the position so nothing is skipped.

use std::collections::HashSet;
use std::sync::Mutex;

use super::*;
use crate::domain::connection::ConnectionId;
use crate::domain::feed::FeedCursor;
use crate::domain::webhook::parse_message_webhook;
use crate::push::{Frame, PushError, PushPort};
use crate::store::SubscriptionStore;

#[derive(Default)]
struct Recorder {
    frames: Mutex<Vec<(String, Frame)>>,
    gone: Mutex<HashSet<String>>,
    failing: Mutex<HashSet<String>>,
}

impl PushPort for Recorder {
    async fn post(
        &self,
        _endpoint: &str,
        connection: &ConnectionId,
        frame: &Frame,
    ) -> Result<(), PushError> {
        if self.gone.lock().unwrap().contains(connection.as_str()) {
            return Err(PushError::Gone);
        }
        if self.failing.lock().unwrap().contains(connection.as_str()) {
            return Err(PushError::Failed("throttled".into()));
        }
        self.frames
            .lock()
            .unwrap()
            .push((connection.to_string(), frame.clone()));
        Ok(())
    }
}

impl Recorder {
    /// The message texts pushed to a connection, frame by frame.
    fn texts(&self, connection: &str) -> Vec<Vec<String>> {
        self.frames
            .lock()
            .unwrap()
            .iter()
            .filter(|(to, _)| to == connection)
            .filter_map(|(_, frame)| match frame {
                Frame::Messages { messages, .. } => Some(
                    messages
                        .iter()
                        .map(|m| m.text.clone().unwrap_or_default())
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }
}

async fn agent_says<G>(service: &Service<MemoryStore, G>, chat: &ChatId, id: &str, at: &str) {
    let body = format!(
        r#"{{"channel": "/api/v5/orgs/org/owned_chats/{chat}/messages", "action": "added",
            "resource_id": "{id}", "resource": {{"id": "{id}", "room_id": "room", "type": "msg",
            "created_at": "{at}", "sender_type": "user", "message": "{id}"}}}}"#
    );
    let hook = parse_message_webhook(body.as_bytes()).unwrap();
    service.apply_message_webhook(&hook).await.unwrap();
}

#[tokio::test]
async fn a_subscription_catches_up_then_gets_each_change_once() {
    let service = service();
    let (token, chat) = new_chat(&service).await;
    agent_says(&service, &chat, "a1", "2030-01-01T00:00:01Z").await;
    let connection = ConnectionId::new("conn-1");
    service
        .open_connection(&token, connection.clone(), String::new())
        .await
        .unwrap();
    let pusher = Recorder::default();
    let report = service
        .subscribe(&connection, &chat, FeedCursor::start(), &pusher)
        .await
        .unwrap();
    assert_eq!((report.frames, report.up_to_date), (1, 1));
    assert_eq!(pusher.texts("conn-1"), [vec!["a1".to_owned()]]);
    // A later change, stamped earlier, is pushed alone; pushing again sends nothing.
    agent_says(&service, &chat, "a0", "2029-01-01T00:00:00Z").await;
    service.push_chat(&chat, &pusher).await.unwrap();
    service.push_chat(&chat, &pusher).await.unwrap();
    assert_eq!(
        pusher.texts("conn-1"),
        [vec!["a1".to_owned()], vec!["a0".to_owned()]]
    );
}

#[tokio::test]
async fn a_failed_post_keeps_the_position_and_a_gone_connection_is_forgotten() {
    let service = service();
    let (token, chat) = new_chat(&service).await;
    let pusher = Recorder::default();
    for id in ["conn-ok", "conn-flaky", "conn-gone"] {
        let connection = ConnectionId::new(id);
        service
            .open_connection(&token, connection.clone(), String::new())
            .await
            .unwrap();
        service
            .subscribe(&connection, &chat, FeedCursor::start(), &pusher)
            .await
            .unwrap();
    }
    pusher.failing.lock().unwrap().insert("conn-flaky".into());
    pusher.gone.lock().unwrap().insert("conn-gone".into());
    agent_says(&service, &chat, "b1", "2030-01-01T00:00:01Z").await;
    let (metrics, captured) = crate::metrics::Metrics::in_memory("Test", "feed-notifier");
    let report = metrics
        .invocation(service.push_chat(&chat, &pusher))
        .await
        .unwrap();
    // The push's metrics are its report's, in the invocation's one line.
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let written: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(
        (
            &written["PushesSent"],
            &written["PushesFailed"],
            &written["ConnectionsGone"]
        ),
        (
            &serde_json::json!(1.0),
            &serde_json::json!(1.0),
            &serde_json::json!(1.0)
        ),
        "{written}"
    );
    assert_eq!(
        (
            report.subscriptions,
            report.up_to_date,
            report.failed,
            report.gone
        ),
        (3, 1, 1, 1)
    );
    assert_eq!(service.store.subscriptions(&chat).await.unwrap().len(), 2);
    assert!(
        service
            .store
            .get_connection(&ConnectionId::new("conn-gone"))
            .await
            .unwrap()
            .is_none()
    );
    // The flaky connection recovers: it gets what it missed and what came since, once.
    pusher.failing.lock().unwrap().clear();
    agent_says(&service, &chat, "b2", "2030-01-01T00:00:02Z").await;
    service.push_chat(&chat, &pusher).await.unwrap();
    assert_eq!(
        pusher.texts("conn-flaky"),
        [vec!["b1".to_owned(), "b2".to_owned()]]
    );
    assert_eq!(
        pusher.texts("conn-ok"),
        [vec!["b1".to_owned()], vec!["b2".to_owned()]]
    );
}

#[tokio::test]
async fn only_the_visitors_own_chats_can_be_subscribed_and_closing_forgets_them() {
    let service = service();
    let (token, chat) = new_chat(&service).await;
    let (other, _) = new_chat(&service).await;
    let pusher = Recorder::default();
    let stranger = ConnectionId::new("conn-stranger");
    service
        .open_connection(&other, stranger.clone(), String::new())
        .await
        .unwrap();
    let refused = service
        .subscribe(&stranger, &chat, FeedCursor::start(), &pusher)
        .await;
    assert!(
        matches!(refused, Err(ServiceError::ChatNotFound)),
        "{refused:?}"
    );
    let unknown = VisitorToken::generate();
    assert!(matches!(
        service
            .open_connection(&unknown, ConnectionId::new("conn-x"), String::new())
            .await,
        Err(ServiceError::UnknownVisitor)
    ));
    let mine = ConnectionId::new("conn-mine");
    service
        .open_connection(&token, mine.clone(), String::new())
        .await
        .unwrap();
    service
        .subscribe(&mine, &chat, FeedCursor::start(), &pusher)
        .await
        .unwrap();
    assert_eq!(service.store.subscriptions(&chat).await.unwrap().len(), 1);
    service.close_connection(&mine).await.unwrap();
    assert!(service.store.subscriptions(&chat).await.unwrap().is_empty());
    assert!(service.store.get_connection(&mine).await.unwrap().is_none());
}

#[derive(Default)]
struct Outbox(Mutex<Vec<crate::notify::AwayNotification>>);

impl crate::notify::NotifyPort for Outbox {
    async fn publish(
        &self,
        notification: &crate::notify::AwayNotification,
    ) -> Result<(), crate::notify::NotifyError> {
        self.0.lock().unwrap().push(notification.clone());
        Ok(())
    }
}

fn changed(chat: &ChatId) -> crate::service::Changes {
    crate::service::Changes {
        feeds: [chat.clone()].into(),
        chats: Default::default(),
    }
}

#[tokio::test]
async fn an_agent_message_no_subscription_received_is_notified_once() {
    let service = service();
    let started = service
        .start_chat(StartChat {
            token: None,
            name: name("Ada"),
            request_id: "request-notify".into(),
            visitor_ref: crate::domain::input::VisitorRef::parse(Some("user-42".into())).unwrap(),
            source: None,
        })
        .await
        .unwrap();
    let chat = started.chat.id;
    let token = started.issued_token.unwrap();
    let outbox = Outbox::default();
    // The visitor's own message is never notified.
    service
        .send_message(send(&token, &chat, "hello", None))
        .await
        .unwrap();
    agent_says(&service, &chat, "n1", "2030-01-01T00:00:01Z").await;
    let report = service
        .notify_away(&changed(&chat), &outbox, false)
        .await
        .unwrap();
    assert_eq!(report.published, 1);
    {
        let sent = outbox.0.lock().unwrap();
        assert_eq!(sent[0].message_id.as_str(), "n1");
        assert_eq!(sent[0].visitor_ref.as_deref(), Some("user-42"));
        assert_eq!(sent[0].preview, None, "no preview unless configured");
        let json = serde_json::to_value(&sent[0]).unwrap();
        assert_eq!(json["event"], "agent_message");
        assert!(json.get("preview").is_none());
    }
    // Again, and after an edit: nothing more.
    service
        .notify_away(&changed(&chat), &outbox, false)
        .await
        .unwrap();
    let edit = format!(
        r#"{{"channel": "/api/v5/orgs/org/owned_chats/{chat}/messages", "action": "changed",
            "resource_id": "n1", "resource": {{"message": "edited"}}}}"#
    );
    service
        .apply_message_webhook(&parse_message_webhook(edit.as_bytes()).unwrap())
        .await
        .unwrap();
    service
        .notify_away(&changed(&chat), &outbox, true)
        .await
        .unwrap();
    assert_eq!(outbox.0.lock().unwrap().len(), 1);

    // A live subscription that received the next reply: no notification for it.
    let connection = ConnectionId::new("conn-live");
    service
        .open_connection(&token, connection.clone(), String::new())
        .await
        .unwrap();
    let pusher = Recorder::default();
    service
        .subscribe(&connection, &chat, FeedCursor::start(), &pusher)
        .await
        .unwrap();
    agent_says(&service, &chat, "n2", "2030-01-01T00:00:02Z").await;
    service
        .push_changes(&changed(&chat), &pusher)
        .await
        .unwrap();
    service
        .notify_away(&changed(&chat), &outbox, true)
        .await
        .unwrap();
    assert_eq!(outbox.0.lock().unwrap().len(), 1);
    // Gone: the next reply is notified, with its preview when configured.
    pusher.gone.lock().unwrap().insert("conn-live".into());
    agent_says(&service, &chat, "n3", "2030-01-01T00:00:03Z").await;
    service
        .push_changes(&changed(&chat), &pusher)
        .await
        .unwrap();
    service
        .notify_away(&changed(&chat), &outbox, true)
        .await
        .unwrap();
    let sent = outbox.0.lock().unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].message_id.as_str(), "n3");
    assert_eq!(sent[1].preview.as_deref(), Some("n3"));
}

#[tokio::test]
async fn a_long_catch_up_is_cut_into_frames_api_gateway_accepts() {
    let service = service();
    let (token, chat) = new_chat(&service).await;
    // 60 messages of 1,500 two-byte characters: ~180 KB of text, more than one post may carry.
    let long = "é".repeat(1_500);
    for n in 0..60 {
        let id = format!("m{n:02}");
        let body = serde_json::json!({
            "channel": format!("/api/v5/orgs/org/owned_chats/{chat}/messages"),
            "action": "added", "resource_id": id,
            "resource": {"id": id, "room_id": "room", "type": "msg", "sender_type": "user",
                         "created_at": format!("2030-01-01T00:00:{n:02}Z"), "message": long}});
        let hook = parse_message_webhook(body.to_string().as_bytes()).unwrap();
        service.apply_message_webhook(&hook).await.unwrap();
    }
    let connection = ConnectionId::new("conn-long");
    service
        .open_connection(&token, connection.clone(), String::new())
        .await
        .unwrap();
    let pusher = Recorder::default();
    let report = service
        .subscribe(&connection, &chat, FeedCursor::start(), &pusher)
        .await
        .unwrap();
    assert_eq!(report.up_to_date, 1);
    let frames = pusher.frames.lock().unwrap().clone();
    assert!(frames.len() >= 2, "{} frames", frames.len());
    let mut received = Vec::new();
    for (_, frame) in &frames {
        assert!(frame.to_json().len() <= 128 * 1024);
        let Frame::Messages { messages, .. } = frame else {
            panic!("{frame:?}");
        };
        received.extend(messages.iter().map(|message| message.id.to_string()));
    }
    let expected: Vec<String> = (0..60).map(|n| format!("m{n:02}")).collect();
    assert_eq!(received, expected);
    // Nothing is left to push.
    let again = service.push_chat(&chat, &pusher).await.unwrap();
    assert_eq!(again.frames, 0);
}
