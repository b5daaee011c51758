//! The real-time feed locally (spec §1a): `ws://HOST:PORT/v1/feed` on the API port, the same
//! protocol as the API Gateway WebSocket API (`shared::api::feed_socket`), and the same
//! notifier (`Service::push_changes`, then `Service::notify_away` with the notifications
//! logged), fed by the store's own announcements instead of the table's stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::header::SEC_WEBSOCKET_PROTOCOL;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{SinkExt as _, StreamExt as _};
use shared::api::feed_socket::{BEARER_PROTOCOL, connect_token, on_client_message};
use shared::api::{Api, ApiError};
use shared::domain::connection::ConnectionId;
use shared::giosg::RotatingGiosg;
use shared::notify::LogNotifier;
use shared::push::{Frame, PushError, PushPort};
use shared::service::Changes;
use shared::store::announcing::Signal;
use shared::store::{ChatStore, SubscriptionStore};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

/// The open sockets, by connection id: where the notifier's frames go.
#[derive(Default)]
pub(super) struct LocalPusher {
    sockets: Mutex<HashMap<ConnectionId, UnboundedSender<String>>>,
}

impl LocalPusher {
    fn sockets(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, UnboundedSender<String>>> {
        self.sockets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl PushPort for LocalPusher {
    async fn post(
        &self,
        _endpoint: &str,
        connection: &ConnectionId,
        frame: &Frame,
    ) -> Result<(), PushError> {
        match self.sockets().get(connection) {
            Some(socket) => socket.send(frame.to_json()).map_err(|_| PushError::Gone),
            None => Err(PushError::Gone),
        }
    }
}

struct Feed<S> {
    app: Arc<Api<S, RotatingGiosg>>,
    pusher: Arc<LocalPusher>,
}

impl<S> Clone for Feed<S> {
    fn clone(&self) -> Self {
        Self {
            app: Arc::clone(&self.app),
            pusher: Arc::clone(&self.pusher),
        }
    }
}

/// `GET /v1/feed`: the WebSocket upgrade.
pub(super) fn router<S: ChatStore + SubscriptionStore + 'static>(
    app: Arc<Api<S, RotatingGiosg>>,
    pusher: Arc<LocalPusher>,
) -> Router {
    Router::new()
        .route("/v1/feed", get(upgrade::<S>))
        .with_state(Feed { app, pusher })
}

async fn upgrade<S: ChatStore + SubscriptionStore + 'static>(
    State(feed): State<Feed<S>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let protocols = headers
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok());
    let presented = match connect_token(query.as_deref(), protocols) {
        Ok(presented) => presented,
        Err(error) => return error.into_response(),
    };
    let id = ConnectionId::new(hex::encode(rand::random::<[u8; 12]>()));
    if let Err(error) = feed
        .app
        .service
        .open_connection(&presented.token, id.clone(), String::new())
        .await
    {
        return ApiError::from(error).into_response();
    }
    let upgrade = if presented.answer_bearer_protocol {
        upgrade.protocols([BEARER_PROTOCOL])
    } else {
        upgrade
    };
    upgrade.on_upgrade(move |socket| serve_socket(feed, id, socket))
}

/// One connection: frames from the notifier go out; the client's requests come in.
async fn serve_socket<S: ChatStore + SubscriptionStore + 'static>(
    feed: Feed<S>,
    id: ConnectionId,
    socket: WebSocket,
) {
    let (mut outgoing, mut incoming) = socket.split();
    let (frames, mut queued) = mpsc::unbounded_channel::<String>();
    feed.pusher.sockets().insert(id.clone(), frames);
    let writer = tokio::spawn(async move {
        while let Some(text) = queued.recv().await {
            if outgoing.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(message)) = incoming.next().await {
        match message {
            Message::Text(text) => {
                let refused =
                    on_client_message(&feed.app.service, &id, text.as_str(), &*feed.pusher).await;
                if let Some(frame) = refused {
                    let _ = feed.pusher.post("", &id, &frame).await;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    feed.pusher.sockets().remove(&id);
    writer.abort();
    if let Err(error) = feed.app.service.close_connection(&id).await {
        tracing::warn!(%error, "forgetting a closed feed connection failed");
    }
}

/// The notifier: takes the store's announcements as they come, a burst at a time, and pushes
/// them to the subscribers.
pub(super) fn spawn_notifier<S: ChatStore + SubscriptionStore + 'static>(
    app: Arc<Api<S, RotatingGiosg>>,
    pusher: Arc<LocalPusher>,
    mut signals: UnboundedReceiver<Signal>,
    preview: bool,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(first) = signals.recv().await {
            let mut changes = Changes::default();
            let mut add = |signal: Signal| match signal {
                Signal::Feed(chat) => changes.feeds.insert(chat),
                Signal::Chat(chat) => changes.chats.insert(chat),
            };
            add(first);
            while let Ok(more) = signals.try_recv() {
                add(more);
            }
            // One burst is one invocation of the notifier, for the metrics.
            let burst = async {
                match app.service.push_changes(&changes, &*pusher).await {
                    Ok(report) if report.frames > 0 || report.gone > 0 => tracing::debug!(
                        frames = report.frames,
                        gone = report.gone,
                        "pushed to the feed's subscribers"
                    ),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "pushing to the feed failed"),
                }
                // Then what no live subscription received: logged here, an SNS topic on AWS.
                if let Err(error) = app
                    .service
                    .notify_away(&changes, &LogNotifier, preview)
                    .await
                {
                    tracing::warn!(%error, "away notifications failed");
                }
            };
            app.metrics().invocation(burst).await;
        }
    })
}
