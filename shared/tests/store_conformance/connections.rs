//! The real-time feed's connections and subscriptions: kept, found by chat, moved forward only,
//! forgotten, and expired ones read as absent.

use chrono::{Duration, Utc};
use shared::domain::connection::{ConnectionId, ConnectionRecord, SubscriptionRecord};
use shared::store::{ChatStore, SubscriptionStore};

use crate::{chat_id, context, visitor_key};

fn subscription(chat: &str, connection: &str, position: u64, ttl: Duration) -> SubscriptionRecord {
    SubscriptionRecord {
        chat_id: chat_id(chat),
        connection_id: ConnectionId::new(connection),
        endpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/prod".into(),
        position,
        expires_at: Utc::now() + ttl,
    }
}

pub(crate) async fn connections_and_subscriptions_are_kept_and_forgotten<
    S: ChatStore + SubscriptionStore,
>(
    store: S,
) {
    let connection = ConnectionRecord {
        id: ConnectionId::new("Yp3ZkeJ5DoECGkA="),
        visitor: visitor_key("ada"),
        endpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/prod".into(),
        chats: vec![chat_id("c1")],
        expires_at: Utc::now() + Duration::hours(2),
    };
    store.put_connection(&connection).await.unwrap();
    assert_eq!(
        store.get_connection(&connection.id).await.unwrap(),
        Some(connection.clone())
    );
    let expired = ConnectionRecord {
        id: ConnectionId::new("old"),
        expires_at: Utc::now() - Duration::seconds(5),
        ..connection.clone()
    };
    store.put_connection(&expired).await.unwrap();
    assert_eq!(store.get_connection(&expired.id).await.unwrap(), None);

    store
        .put_subscription(&subscription(
            "c1",
            "Yp3ZkeJ5DoECGkA=",
            3,
            Duration::hours(2),
        ))
        .await
        .unwrap();
    store
        .put_subscription(&subscription("c1", "other", 0, Duration::hours(2)))
        .await
        .unwrap();
    store
        .put_subscription(&subscription("c1", "stale", 0, -Duration::seconds(5)))
        .await
        .unwrap();
    store
        .put_subscription(&subscription("c2", "other", 0, Duration::hours(2)))
        .await
        .unwrap();
    let mut found = store.subscriptions(&chat_id("c1")).await.unwrap();
    found.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    let positions: Vec<(&str, u64)> = found
        .iter()
        .map(|s| (s.connection_id.as_str(), s.position))
        .collect();
    assert_eq!(positions, [("Yp3ZkeJ5DoECGkA=", 3), ("other", 0)]);
    assert_eq!(found[0].endpoint, connection.endpoint);

    // Forward only.
    let id = ConnectionId::new("Yp3ZkeJ5DoECGkA=");
    store
        .advance_subscription(&chat_id("c1"), &id, 7)
        .await
        .unwrap();
    store
        .advance_subscription(&chat_id("c1"), &id, 5)
        .await
        .unwrap();
    // A subscription that is gone stays gone.
    store
        .advance_subscription(&chat_id("c1"), &ConnectionId::new("never"), 9)
        .await
        .unwrap();
    let after: Vec<(String, u64)> = store
        .subscriptions(&chat_id("c1"))
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.connection_id.to_string(), s.position))
        .collect();
    assert!(
        after.contains(&("Yp3ZkeJ5DoECGkA=".to_owned(), 7)),
        "{after:?}"
    );
    assert_eq!(after.len(), 2);

    store
        .delete_subscription(&chat_id("c1"), &id)
        .await
        .unwrap();
    store.delete_connection(&id).await.unwrap();
    assert_eq!(store.subscriptions(&chat_id("c1")).await.unwrap().len(), 1);
    assert_eq!(store.get_connection(&id).await.unwrap(), None);
}

/// Away notifications: the position considered moves forward only; a message's one
/// notification is claimed once.
pub(crate) async fn notifications_are_claimed_once<S: ChatStore + SubscriptionStore>(store: S) {
    let chat = chat_id("c9");
    assert_eq!(store.notify_position(&chat).await.unwrap(), 0);
    store
        .advance_notify_position(&chat, 4, &context())
        .await
        .unwrap();
    store
        .advance_notify_position(&chat, 2, &context())
        .await
        .unwrap();
    assert_eq!(store.notify_position(&chat).await.unwrap(), 4);
    let message = shared::domain::MessageId::new("m1");
    assert!(
        store
            .claim_notification(&chat, &message, &context())
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_notification(&chat, &message, &context())
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_notification(&chat_id("c10"), &message, &context())
            .await
            .unwrap()
    );
}
