//! The Giosg client over real HTTP against the Giosg simulator: every call, every retry rule,
//! pagination, token expiry, error classification, and no secret in logs or errors.
//!
//! One test binary: the shared harness is here, the tests are in the topic modules below.

#[path = "../support/mod.rs"]
mod support;

mod calls;
mod errors;
mod pagination;
mod retries;
mod secrets;
mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use chrono::{DateTime, Utc};
use giosg_sim::{SimConfig, SimHandle, Simulator};
use serde_json::{Value, json};
use shared::domain::{ChatId, MessageResource, OrgId, RoomId, SenderType, VisitorId};
use shared::giosg::{GiosgClient, GiosgConfig, VisitorSession};
use shared::secret::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

// --- captured logs ------------------------------------------------------------------------------

fn captured_logs() -> &'static support::logs::LogBuffer {
    support::logs::capture(false)
}

fn log_text() -> String {
    support::logs::text()
}

// --- harness ------------------------------------------------------------------------------------

/// Small timeouts and budgets, so the whole file runs in seconds.
fn fast_config(base_url: &str, org: &str, room: &str, api_token: &str) -> GiosgConfig {
    let mut config = GiosgConfig::new(
        Url::parse(base_url).expect("base url"),
        OrgId::new(org),
        RoomId::new(room),
        Secret::new(api_token),
    );
    config.request_timeout = Duration::from_millis(400);
    config.connect_timeout = Duration::from_millis(400);
    config.retry_budget = Duration::from_millis(2500);
    config.max_attempts = 4;
    config.backoff_base = Duration::from_millis(10);
    config.backoff_max = Duration::from_millis(50);
    config
}

struct Harness {
    sim: SimHandle,
    control: reqwest::Client,
    client: GiosgClient,
}

impl Harness {
    async fn start() -> Result<Self> {
        Self::start_with(|_| {}, |_| {}).await
    }

    async fn start_with(
        sim_config: impl FnOnce(&mut SimConfig),
        client_config: impl FnOnce(&mut GiosgConfig),
    ) -> Result<Self> {
        captured_logs();
        let mut config = SimConfig::new("127.0.0.1:0".parse()?);
        sim_config(&mut config);
        let sim = Simulator::start(config).await?;
        let mut giosg = fast_config(
            &sim.base_url(),
            sim.org_id(),
            sim.room_id(),
            sim.api_token(),
        );
        client_config(&mut giosg);
        let client = GiosgClient::new(giosg)?;
        Ok(Self {
            sim,
            control: reqwest::Client::new(),
            client,
        })
    }

    /// A client like the harness's, changed by `change`.
    fn other_client(&self, change: impl FnOnce(&mut GiosgConfig)) -> Result<GiosgClient> {
        let mut config = self.client.config().clone();
        change(&mut config);
        Ok(GiosgClient::new(config)?)
    }

    async fn sim_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.sim.base_url());
        let mut request = self.control.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "{method} {path}: {status} {text}");
        Ok(if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }

    async fn fault(&self, endpoint: &str, status: u16, count: u32) -> Result<()> {
        self.fault_with(json!({ "endpoint": endpoint, "status": status, "count": count }))
            .await
    }

    async fn fault_with(&self, spec: Value) -> Result<()> {
        self.sim_call(reqwest::Method::POST, "/_sim/faults", Some(spec))
            .await
            .map(drop)
    }

    async fn clear_faults(&self) -> Result<()> {
        self.sim_call(reqwest::Method::DELETE, "/_sim/faults", None)
            .await
            .map(drop)
    }

    async fn set_room_online(&self, online: bool) -> Result<()> {
        self.sim_call(
            reqwest::Method::PUT,
            "/_sim/room",
            Some(json!({ "online": online })),
        )
        .await
        .map(drop)
    }

    async fn expire_token(&self, visitor: &VisitorId) -> Result<()> {
        let path = format!("/_sim/visitors/{visitor}/expire_token");
        self.sim_call(reqwest::Method::POST, &path, None)
            .await
            .map(drop)
    }

    async fn agent_says(&self, chat: &ChatId, text: &str) -> Result<()> {
        let path = format!("/_sim/chats/{chat}/messages");
        self.sim_call(reqwest::Method::POST, &path, Some(json!({ "text": text })))
            .await
            .map(drop)
    }

    async fn agent_joins(&self, chat: &ChatId, name: &str) -> Result<()> {
        let path = format!("/_sim/chats/{chat}/join");
        self.sim_call(
            reqwest::Method::POST,
            &path,
            Some(json!({ "agent_name": name })),
        )
        .await
        .map(drop)
    }

    async fn agent_ends(&self, chat: &ChatId) -> Result<()> {
        let path = format!("/_sim/chats/{chat}/end");
        self.sim_call(reqwest::Method::POST, &path, None)
            .await
            .map(drop)
    }

    /// The simulator's record of one endpoint's calls: `(status, arrival time)`, oldest first.
    async fn calls_of(&self, endpoint: &str) -> Result<Vec<(u16, DateTime<Utc>)>> {
        let log = self
            .sim_call(reqwest::Method::GET, "/_sim/requests", None)
            .await?;
        let records = log["log"].as_array().context("request log")?;
        records
            .iter()
            .filter(|r| r["endpoint"] == endpoint)
            .map(|r| {
                let status = r["status"].as_u64().context("status")? as u16;
                let at = DateTime::parse_from_rfc3339(r["at"].as_str().context("at")?)?
                    .with_timezone(&Utc);
                Ok((status, at))
            })
            .collect()
    }

    async fn count(&self, endpoint: &str) -> Result<usize> {
        Ok(self.calls_of(endpoint).await?.len())
    }

    async fn visitor_overview(&self, visitor: &VisitorId) -> Result<Value> {
        let visitors = self
            .sim_call(reqwest::Method::GET, "/_sim/visitors", None)
            .await?;
        visitors
            .as_array()
            .context("visitors")?
            .iter()
            .find(|v| v["visitor_id"] == visitor.as_str())
            .cloned()
            .context("visitor not in the simulator")
    }

    /// A new visitor, in the room.
    async fn visitor(&self) -> Result<VisitorSession> {
        let mut session = self.client.authenticate_visitor(None).await?;
        self.client.join_room(&mut session).await?;
        session.take_changed();
        Ok(session)
    }

    /// A new visitor with a new chat.
    async fn visitor_with_chat(&self) -> Result<(VisitorSession, ChatId)> {
        let mut session = self.visitor().await?;
        let chat = self.client.start_chat(&mut session).await?;
        Ok((session, chat.id.context("chat id")?))
    }
}

fn texts_from(messages: &[MessageResource], sender: SenderType) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m.sender_type.value() == Some(&sender))
        .filter_map(|m| m.message.value().cloned())
        .collect()
}

/// An address nothing listens on.
async fn closed_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(addr)
}

/// A bare HTTP server answering every request with `status` and `body` (where `{self}` stands
/// for its own address); counts requests.
async fn canned_server(status: u16, body: String) -> Result<(SocketAddr, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let body = body.replace("{self}", &addr.to_string());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut chunk = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 {status} Canned\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok((addr, hits))
}

fn canned_client(addr: SocketAddr) -> Result<GiosgClient> {
    Ok(GiosgClient::new(fast_config(
        &format!("http://{addr}"),
        "org",
        "room",
        "canned-api-token-0123456789abcdef",
    ))?)
}
