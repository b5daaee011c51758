//! Shared test fixtures: a simulator wired to a tiny webhook receiver, and visitor helpers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use giosg_sim::{SimConfig, SimControl, SimHandle, Simulator};
use serde_json::{Value, json};

/// Secret carried in the chat webhook URL's query string.
pub const CHAT_HOOK_SECRET: &str = "chat-hook-secret";
/// Secret carried in the message webhook URL's query string.
pub const MESSAGE_HOOK_SECRET: &str = "message-hook-secret";

/// One webhook POST the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `chats` or `messages`.
    pub hook: String,
    pub query: String,
    pub body: Value,
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<Received>>,
    status: AtomicU16,
}

/// A webhook receiver on a free loopback port that records every POST.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<ReceiverState>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(ReceiverState {
            status: AtomicU16::new(200),
            ..Default::default()
        });
        let router = Router::new()
            .route("/hooks/{hook}", post(receive))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            addr,
            state,
            server,
        }
    }

    pub fn url(&self, hook: &str, secret: &str) -> String {
        format!("http://{}/hooks/{hook}?token={secret}", self.addr)
    }

    /// Status answered from now on.
    pub fn answer_with(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.state.received.lock().unwrap().clear();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    axum::extract::Path(hook): axum::extract::Path<String>,
    request: Request,
) -> StatusCode {
    let query = request.uri().query().unwrap_or_default().to_owned();
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    state
        .received
        .lock()
        .unwrap()
        .push(Received { hook, query, body });
    StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap()
}

/// A visitor as the integration would hold it.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub id: String,
    pub secret: String,
    pub token: String,
}

/// A simulator whose webhooks go to a receiver.
pub struct Harness {
    pub sim: SimHandle,
    pub receiver: Receiver,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(customize: impl FnOnce(&mut SimConfig)) -> Self {
        let receiver = Receiver::start().await;
        let mut config = SimConfig::new("127.0.0.1:0".parse().unwrap());
        config.chat_webhook_url = Some(receiver.url("chats", CHAT_HOOK_SECRET));
        config.message_webhook_url = Some(receiver.url("messages", MESSAGE_HOOK_SECRET));
        customize(&mut config);
        let sim = Simulator::start(config).await.unwrap();
        Self {
            sim,
            receiver,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    pub fn control(&self) -> SimControl {
        self.sim.control()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    pub fn org(&self) -> &str {
        self.sim.org_id()
    }

    pub fn chats_channel(&self) -> String {
        format!("/api/v5/orgs/{}/owned_chats", self.org())
    }

    pub fn messages_channel(&self, chat_id: &str) -> String {
        format!("/api/v5/orgs/{}/owned_chats/{chat_id}/messages", self.org())
    }

    /// Waits until every queued webhook was attempted.
    pub async fn flush(&self) {
        self.control().flush_webhooks().await.unwrap();
    }

    /// Flushes, then forgets what the receiver got and the simulator logged so far.
    pub async fn settle(&self) {
        self.flush().await;
        self.receiver.clear();
        self.control().clear_webhook_log().await.unwrap();
    }

    /// Flushes and answers the bodies received on one hook, in arrival order.
    pub async fn hooks(&self, hook: &str) -> Vec<Value> {
        self.flush().await;
        self.receiver
            .received()
            .into_iter()
            .filter(|r| r.hook == hook)
            .map(|r| r.body)
            .collect()
    }

    /// Flushes and answers every body received, in arrival order.
    pub async fn all_hooks(&self) -> Vec<Received> {
        self.flush().await;
        self.receiver.received()
    }

    /// `POST /api/v5/public/orgs/{org}/auth` with a body; answers status and JSON.
    pub async fn auth(&self, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(&format!("/api/v5/public/orgs/{}/auth", self.org())))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// A new visitor who joined the configured room.
    pub async fn visitor(&self) -> Visitor {
        let (status, auth) = self.auth(json!({"visitor_secret_id": null})).await;
        assert_eq!(status, 201, "{auth}");
        let visitor = Visitor {
            id: auth["visitor_id"].as_str().unwrap().to_owned(),
            secret: auth["visitor_secret_id"].as_str().unwrap().to_owned(),
            token: auth["access_token"].as_str().unwrap().to_owned(),
        };
        let path = format!(
            "/api/v5/public/orgs/{}/rooms/{}/visitors",
            self.org(),
            self.sim.room_id()
        );
        let (status, body) = self
            .bearer(&visitor, "POST", &path, Some(json!({"id": visitor.id})))
            .await;
        assert_eq!(status, 201, "{body}");
        visitor
    }

    /// A call with the visitor's bearer token.
    pub async fn bearer(
        &self,
        visitor: &Visitor,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call(
            method,
            path,
            Some(format!("Bearer {}", visitor.token)),
            body,
        )
        .await
    }

    /// A call with the organization API token.
    pub async fn org_call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(
            method,
            path,
            Some(format!("Token {}", self.sim.api_token())),
            body,
        )
        .await
    }

    /// Any call; answers status and JSON (null when the body is empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        authorization: Option<String>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.url(path)
        };
        let mut request = self.http.request(method.parse().unwrap(), url);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, json)
    }

    pub fn start_chat_path(&self, visitor: &Visitor) -> String {
        format!(
            "/api/v5/public/orgs/{}/rooms/{}/visitors/{}/chats",
            self.org(),
            self.sim.room_id(),
            visitor.id
        )
    }

    pub fn messages_path(visitor: &Visitor, chat_id: &str) -> String {
        format!(
            "/api/v5/public/visitors/{}/chats/{chat_id}/messages",
            visitor.id
        )
    }

    /// The visitor starts a chat in the configured room; answers the chat resource.
    pub async fn start_chat(&self, visitor: &Visitor) -> Value {
        let (status, chat) = self
            .bearer(visitor, "POST", &self.start_chat_path(visitor), None)
            .await;
        assert_eq!(status, 201, "{chat}");
        chat
    }

    /// The visitor sends a message; answers the message resource.
    pub async fn send(&self, visitor: &Visitor, chat_id: &str, text: &str) -> Value {
        let path = Self::messages_path(visitor, chat_id);
        let body = json!({"type": "msg", "message": text});
        let (status, message) = self.bearer(visitor, "POST", &path, Some(body)).await;
        assert_eq!(status, 201, "{message}");
        message
    }

    /// A visitor with a started chat, webhooks flushed, logs kept.
    pub async fn visitor_with_chat_logged(&self) -> (Visitor, String) {
        let visitor = self.visitor().await;
        let chat = self.start_chat(&visitor).await;
        self.flush().await;
        (visitor, id_of(&chat))
    }

    /// A visitor with a started chat, webhooks so far flushed and forgotten.
    pub async fn visitor_with_chat(&self) -> (Visitor, String) {
        let visitor = self.visitor().await;
        let chat = self.start_chat(&visitor).await;
        self.settle().await;
        (visitor, id_of(&chat))
    }
}

pub fn id_of(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

/// The sorted keys of a JSON object.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// Sorted owned strings.
pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    names.sort();
    names
}

/// Every key of the chat resource (giosg-api.md §3.1).
pub const CHAT_KEYS: [&str; 29] = [
    "id",
    "chat_type",
    "created_at",
    "updated_at",
    "is_ended",
    "ended_at",
    "is_waiting",
    "waiting_started_at",
    "room_id",
    "room_name",
    "room_organization_id",
    "is_private",
    "is_real_conversation",
    "is_autosuggested",
    "is_encrypted",
    "is_pending",
    "message_count",
    "user_message_count",
    "visitor_message_count",
    "member_count",
    "user_member_count",
    "visitor_member_count",
    "present_participant_count",
    "present_user_participant_count",
    "present_visitor_participant_count",
    "tag_count",
    "has_messages",
    "has_user_messages",
    "has_visitor_messages",
];

/// Every key of the message resource (giosg-api.md §3.2).
pub const MESSAGE_KEYS: [&str; 18] = [
    "id",
    "type",
    "chat_id",
    "room_id",
    "created_at",
    "sender_type",
    "sender_id",
    "sender_name",
    "sender_public_name",
    "sender_avatar",
    "message",
    "is_encrypted",
    "sensitive_data_purged_at",
    "attachments",
    "response_to_message_id",
    "response_to_attachment_id",
    "response_to_action_id",
    "response_value",
];
