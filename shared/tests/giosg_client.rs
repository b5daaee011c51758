//! The Giosg client over real HTTP against the Giosg simulator: every call, every retry rule,
//! pagination, token expiry, error classification, and no secret in logs or errors.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chrono::{DateTime, Utc};
use giosg_sim::{SimConfig, SimHandle, Simulator};
use serde_json::{Value, json};
use shared::domain::{
    ChatId, Field, MessageResource, MessageType, OrgId, RoomId, SenderType, VisitorId,
};
use shared::giosg::{GiosgClient, GiosgConfig, GiosgError, VisitorSession};
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

// --- every call ---------------------------------------------------------------------------------

#[tokio::test]
async fn new_visitor_authenticates_and_joins_the_room() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.client.authenticate_visitor(None).await?;
    assert_eq!(session.visitor_id().as_str().len(), 32);
    assert!(!session.needs_refresh(Utc::now()));
    assert!(session.take_changed(), "a new session must be persisted");

    h.client.join_room(&mut session).await?;
    h.client.join_room(&mut session).await?;
    let statuses: Vec<u16> = h.calls_of("join_room").await?.iter().map(|c| c.0).collect();
    assert_eq!(
        statuses,
        [201, 200],
        "created, then already there: both fine"
    );

    let overview = h.visitor_overview(session.visitor_id()).await?;
    assert!(
        overview["rooms"]
            .as_array()
            .context("rooms")?
            .iter()
            .any(|r| r == h.sim.room_id())
    );
    assert!(!session.take_changed(), "nothing changed since");
    Ok(())
}

#[tokio::test]
async fn returning_visitor_keeps_its_id() -> Result<()> {
    let h = Harness::start().await?;
    let first = h.client.authenticate_visitor(None).await?;
    let again = h
        .client
        .authenticate_visitor(Some(first.visitor_secret_id()))
        .await?;
    assert_eq!(again.visitor_id(), first.visitor_id());
    assert_eq!(
        again.visitor_secret_id().expose(),
        first.visitor_secret_id().expose()
    );
    Ok(())
}

#[tokio::test]
async fn unknown_secret_gives_a_new_visitor_that_visitor_calls_report() -> Result<()> {
    let h = Harness::start().await?;
    let (real, chat) = h.visitor_with_chat().await?;
    let forgotten = || {
        VisitorSession::from_parts(
            real.visitor_id().clone(),
            Secret::new("ab".repeat(32)),
            Secret::new("expired-access-token"),
            Utc::now() - chrono::Duration::minutes(5),
        )
    };

    let mut stale = forgotten();
    let error = h
        .client
        .send_message(&mut stale, &chat, "hello")
        .await
        .expect_err("the old visitor's chat cannot be used by a new visitor");
    match &error {
        GiosgError::VisitorReplaced {
            endpoint,
            previous,
            current,
        } => {
            assert_eq!(*endpoint, "send_message");
            assert_eq!(previous, real.visitor_id());
            assert_eq!(current, stale.visitor_id());
        }
        other => bail!("expected VisitorReplaced, got {other:?}"),
    }
    assert_ne!(stale.visitor_id(), real.visitor_id());
    assert!(stale.take_changed(), "the new visitor must be persisted");
    assert_eq!(h.count("send_message").await?, 0);

    let mut room_level = forgotten();
    let room = h.client.room(&mut room_level).await?;
    assert!(
        room.is_online,
        "room-level calls carry on as the new visitor"
    );

    let mut explicit = forgotten();
    let previous = h.client.reauthenticate(&mut explicit).await?;
    assert_eq!(previous.as_ref(), Some(real.visitor_id()));
    Ok(())
}

#[tokio::test]
async fn room_reports_whether_agents_are_online() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    let room = h.client.room(&mut session).await?;
    assert_eq!(room.id.as_ref().map(RoomId::as_str), Some(h.sim.room_id()));
    assert!(room.is_online);

    h.set_room_online(false).await?;
    assert!(!h.client.room(&mut session).await?.is_online);
    Ok(())
}

#[tokio::test]
async fn online_users_are_read_across_pages() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    let users = h.client.online_users(&mut session).await?;
    assert!(users.len() > 3, "more than one page of 3: {}", users.len());
    assert!(
        users
            .iter()
            .all(|u| u.id.is_some() && u.public_name.is_some())
    );
    assert_eq!(h.count("online_users").await?, users.len().div_ceil(3));
    Ok(())
}

#[tokio::test]
async fn username_and_variables_reach_the_visitor() -> Result<()> {
    let h = Harness::start().await?;
    let session = h.visitor().await?;
    h.client.set_username(session.visitor_id(), "Ada").await?;
    h.client
        .set_variable(session.visitor_id(), "plan", "premium")
        .await?;
    let overview = h.visitor_overview(session.visitor_id()).await?;
    assert_eq!(overview["name"], "Ada");
    assert_eq!(overview["variables"]["plan"], "premium");
    Ok(())
}

#[tokio::test]
async fn presence_refresh_is_accepted() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.client
        .refresh_presence(&mut session, Duration::from_secs(120))
        .await?;
    assert_eq!(h.count("refresh_presence").await?, 1);
    Ok(())
}

#[tokio::test]
async fn chat_started_and_message_sent_are_read_back() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    let chat = h.client.start_chat(&mut session).await?;
    let chat_id = chat.id.clone().context("chat id")?;
    assert_eq!(
        chat.room_id.value().map(RoomId::as_str),
        Some(h.sim.room_id())
    );
    assert_eq!(chat.is_ended, Field::Value(false));
    assert!(chat.created_at.value().is_some());

    let sent = h
        .client
        .send_message(&mut session, &chat_id, "Hello from the visitor")
        .await?;
    assert!(sent.id.is_some());
    assert_eq!(sent.message_type, Field::Value(MessageType::Msg));
    assert_eq!(sent.sender_type, Field::Value(SenderType::Visitor));
    assert_eq!(sent.chat_id, Field::Value(chat_id.clone()));
    assert_eq!(
        sent.message.value().map(String::as_str),
        Some("Hello from the visitor")
    );

    let owned = h.client.owned_chat(&chat_id).await?;
    assert_eq!(owned.id.as_ref(), Some(&chat_id));
    assert_eq!(owned.visitor_message_count, Field::Value(1));

    let members = h.client.chat_memberships(&chat_id).await?;
    assert!(
        members
            .iter()
            .any(|m| m.visitor_id().as_ref() == Some(session.visitor_id()))
    );

    let chats = h.client.visitor_chats(&mut session).await?;
    assert!(chats.iter().any(|c| c.id.as_ref() == Some(&chat_id)));

    let messages = h.client.visitor_messages(&mut session, &chat_id).await?;
    assert!(messages.iter().any(|m| m.id == sent.id));
    Ok(())
}

#[tokio::test]
async fn agent_reply_is_read_by_the_visitor() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.agent_says(&chat, "Hi, how can I help?").await?;
    let messages = h.client.visitor_messages(&mut session, &chat).await?;
    assert_eq!(
        texts_from(&messages, SenderType::User),
        ["Hi, how can I help?"]
    );
    let reply = messages
        .iter()
        .find(|m| m.message.value().map(String::as_str) == Some("Hi, how can I help?"))
        .context("reply")?;
    assert!(reply.sender_public_name.value().is_some());
    Ok(())
}

#[tokio::test]
async fn visitor_can_end_a_chat() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.client.end_chat_as_visitor(&mut session, &chat).await?;
    let owned = h.client.owned_chat(&chat).await?;
    assert_eq!(owned.is_ended, Field::Value(true));
    assert!(owned.ended_at.value().is_some());
    Ok(())
}

// --- Refused vs Unavailable -----------------------------------------------------------------

#[tokio::test]
async fn sending_into_an_ended_chat_is_refused_with_its_status() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.agent_ends(&chat).await?;
    let error = h
        .client
        .send_message(&mut session, &chat, "anyone there?")
        .await
        .expect_err("ended chat");
    assert!(error.is_refused() && !error.is_unavailable(), "{error:?}");
    assert_eq!(error.status(), Some(403));
    match &error {
        GiosgError::Refused { message, .. } => assert!(!message.is_empty()),
        other => bail!("expected Refused, got {other:?}"),
    }
    assert_eq!(h.count("send_message").await?, 1, "a 4xx is never retried");
    Ok(())
}

#[tokio::test]
async fn starting_a_chat_while_offline_is_refused() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.set_room_online(false).await?;
    let error = h
        .client
        .start_chat(&mut session)
        .await
        .expect_err("offline");
    assert!(error.is_refused(), "{error:?}");
    assert_eq!(error.status(), Some(403));
    assert_eq!(h.count("start_chat").await?, 1);
    Ok(())
}

#[tokio::test]
async fn other_4xx_is_refused_without_retry() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault("room", 404, 1).await?;
    let error = h.client.room(&mut session).await.expect_err("404");
    assert!(error.is_refused());
    assert_eq!(error.status(), Some(404));
    assert_eq!(h.count("room").await?, 1);
    Ok(())
}

#[tokio::test]
async fn wrong_api_token_is_refused_without_retry() -> Result<()> {
    let h = Harness::start().await?;
    let (_, chat) = h.visitor_with_chat().await?;
    let wrong = h.other_client(|c| c.api_token = Secret::new("wrong-api-token-0000000000"))?;
    let error = wrong.owned_chat(&chat).await.expect_err("wrong token");
    assert!(error.is_refused());
    assert_eq!(error.status(), Some(401));
    assert_eq!(h.count("owned_chat").await?, 1);
    Ok(())
}

#[tokio::test]
async fn unreachable_giosg_is_unavailable() -> Result<()> {
    let addr = closed_port().await?;
    let client = GiosgClient::new(fast_config(
        &format!("http://{addr}"),
        "org",
        "room",
        "api-token-for-nowhere-0123456789",
    ))?;
    let mut session = VisitorSession::from_parts(
        VisitorId::new("0123456789abcdef0123456789abcdef"),
        Secret::new("secret-for-nowhere-0123456789abcdef"),
        Secret::new("token-for-nowhere-0123456789abcdef"),
        Utc::now() + chrono::Duration::minutes(30),
    );
    let started = Instant::now();
    let error = client
        .send_message(&mut session, &ChatId::new("c"), "hello")
        .await
        .expect_err("nothing listens");
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(error.status(), None);
    assert!(error.to_string().contains("could not connect"), "{error}");
    assert!(
        error.to_string().contains("after 4 attempts"),
        "a refused connection never reached Giosg, so even a send is retried: {error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    Ok(())
}

#[tokio::test]
async fn unparseable_answer_is_an_invalid_response() -> Result<()> {
    let (addr, hits) = canned_server(200, "<html>not json</html>".into()).await?;
    let client = canned_client(addr)?;
    let error = client
        .owned_chat(&ChatId::new("c"))
        .await
        .expect_err("not json");
    assert!(
        matches!(
            error,
            GiosgError::InvalidResponse {
                endpoint: "owned_chat",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a bad 2xx body is not retried"
    );
    Ok(())
}

// --- retries ------------------------------------------------------------------------------------

#[tokio::test]
async fn retries_503_then_succeeds() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault("room", 503, 2).await?;
    h.client.room(&mut session).await?;
    let statuses: Vec<u16> = h.calls_of("room").await?.iter().map(|c| c.0).collect();
    assert_eq!(statuses, [503, 503, 200]);
    Ok(())
}

#[tokio::test]
async fn idempotent_read_is_retried_after_500_502_and_504() -> Result<()> {
    let h = Harness::start().await?;
    let (_, chat) = h.visitor_with_chat().await?;
    for status in [500, 502, 504] {
        h.fault("owned_chat", status, 1).await?;
    }
    h.client.owned_chat(&chat).await?;
    let statuses: Vec<u16> = h
        .calls_of("owned_chat")
        .await?
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(statuses, [500, 502, 504, 200]);
    Ok(())
}

#[tokio::test]
async fn retries_429_honouring_retry_after() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault_with(json!({"endpoint": "room", "status": 429, "count": 1, "retry_after": 1}))
        .await?;
    h.client.room(&mut session).await?;
    let calls = h.calls_of("room").await?;
    assert_eq!(calls.iter().map(|c| c.0).collect::<Vec<_>>(), [429, 200]);
    let waited = calls[1].1 - calls[0].1;
    assert!(
        waited >= chrono::Duration::milliseconds(900),
        "Retry-After: 1 was honoured, not the 10-50 ms backoff (waited {waited})"
    );
    Ok(())
}

#[tokio::test]
async fn retry_after_beyond_the_budget_gives_up_at_once() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault_with(json!({"endpoint": "room", "status": 429, "count": 1, "retry_after": 30}))
        .await?;
    let started = Instant::now();
    let error = h.client.room(&mut session).await.expect_err("budget");
    assert!(error.is_unavailable());
    assert_eq!(error.status(), Some(429));
    assert!(started.elapsed() < Duration::from_secs(2), "did not sleep");
    assert_eq!(h.count("room").await?, 1);
    Ok(())
}

#[tokio::test]
async fn gives_up_as_unavailable_after_max_attempts() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault("room", 503, 100).await?;
    let error = h.client.room(&mut session).await.expect_err("always 503");
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(error.status(), Some(503));
    assert_eq!(h.count("room").await?, 4, "max_attempts");
    Ok(())
}

#[tokio::test]
async fn gives_up_as_unavailable_when_5xx_outlasts_the_budget() -> Result<()> {
    let h = Harness::start_with(
        |_| {},
        |c| {
            c.max_attempts = 1000;
            c.retry_budget = Duration::from_millis(600);
            c.backoff_base = Duration::from_millis(40);
            c.backoff_max = Duration::from_millis(80);
        },
    )
    .await?;
    let mut session = h.visitor().await?;
    h.fault("room", 500, 1000).await?;
    let started = Instant::now();
    let error = h.client.room(&mut session).await.expect_err("always 500");
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(error.status(), Some(500));
    assert!(error.to_string().contains("budget"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let calls = h.count("room").await?;
    assert!(
        (2..1000).contains(&calls),
        "retried within the budget: {calls}"
    );
    Ok(())
}

#[tokio::test]
async fn non_idempotent_send_is_not_retried_after_500() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.fault("send_message", 500, 1).await?;
    let error = h
        .client
        .send_message(&mut session, &chat, "once only")
        .await
        .expect_err("500");
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(error.status(), Some(500));
    assert_eq!(h.count("send_message").await?, 1);
    Ok(())
}

#[tokio::test]
async fn non_idempotent_start_chat_is_not_retried_after_502_or_504() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    for status in [502, 504] {
        h.fault("start_chat", status, 1).await?;
        let error = h.client.start_chat(&mut session).await.expect_err("5xx");
        assert!(error.is_unavailable(), "{error:?}");
        assert_eq!(error.status(), Some(status));
    }
    assert_eq!(h.count("start_chat").await?, 2, "one attempt each");
    Ok(())
}

#[tokio::test]
async fn non_idempotent_send_is_retried_after_503_and_429() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.fault("send_message", 503, 1).await?;
    h.fault("send_message", 429, 1).await?;
    h.client
        .send_message(&mut session, &chat, "turned away twice")
        .await?;
    let statuses: Vec<u16> = h
        .calls_of("send_message")
        .await?
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(statuses, [503, 429, 201]);
    let messages = h.client.visitor_messages(&mut session, &chat).await?;
    assert_eq!(
        texts_from(&messages, SenderType::Visitor),
        ["turned away twice"]
    );
    Ok(())
}

#[tokio::test]
async fn non_idempotent_send_is_not_retried_after_a_timeout() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    // The first attempt hangs past the client's timeout; a (wrong) retry would be answered
    // at once and create the message.
    h.fault_with(json!({"endpoint": "send_message", "status": 503, "count": 1, "delay_ms": 1000}))
        .await?;
    let error = h
        .client
        .send_message(&mut session, &chat, "maybe sent")
        .await
        .expect_err("timeout");
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(error.status(), None);
    assert!(error.to_string().contains("timed out"), "{error}");
    let messages = h.client.visitor_messages(&mut session, &chat).await?;
    assert!(texts_from(&messages, SenderType::Visitor).is_empty());
    Ok(())
}

#[tokio::test]
async fn idempotent_read_is_retried_after_a_timeout() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault_with(json!({"endpoint": "room", "status": 503, "count": 1, "delay_ms": 1000}))
        .await?;
    let room = h.client.room(&mut session).await?;
    assert!(room.is_online);
    Ok(())
}

// --- visitor tokens -----------------------------------------------------------------------------

#[tokio::test]
async fn session_close_to_expiry_is_refreshed_before_the_call() -> Result<()> {
    let h = Harness::start().await?;
    let fresh = h.visitor().await?;
    let mut session = VisitorSession::from_parts(
        fresh.visitor_id().clone(),
        fresh.visitor_secret_id().clone(),
        fresh.access_token().clone(),
        Utc::now() + chrono::Duration::seconds(20),
    );
    let auths_before = h.count("visitor_auth").await?;
    h.client.room(&mut session).await?;
    assert_eq!(h.count("visitor_auth").await?, auths_before + 1);
    assert_eq!(h.count("room").await?, 1, "no 401 was needed");
    assert!(
        session.take_changed(),
        "the renewed session must be persisted"
    );
    assert_eq!(session.visitor_id(), fresh.visitor_id());
    assert!(!session.needs_refresh(Utc::now()));
    Ok(())
}

#[tokio::test]
async fn expired_token_gets_401_then_reauthenticates_and_succeeds() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    let old_token = session.access_token().clone();
    h.expire_token(session.visitor_id()).await?;
    let auths_before = h.count("visitor_auth").await?;

    h.client.room(&mut session).await?;
    let statuses: Vec<u16> = h.calls_of("room").await?.iter().map(|c| c.0).collect();
    assert_eq!(statuses, [401, 200]);
    assert_eq!(h.count("visitor_auth").await?, auths_before + 1);
    assert!(session.take_changed());
    assert_ne!(session.access_token(), &old_token);
    Ok(())
}

#[tokio::test]
async fn send_after_401_is_sent_once_more_and_only_once() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    h.expire_token(session.visitor_id()).await?;
    h.client
        .send_message(&mut session, &chat, "after re-auth")
        .await?;
    let statuses: Vec<u16> = h
        .calls_of("send_message")
        .await?
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(statuses, [401, 201]);
    let messages = h.client.visitor_messages(&mut session, &chat).await?;
    assert_eq!(
        texts_from(&messages, SenderType::Visitor),
        ["after re-auth"]
    );
    Ok(())
}

#[tokio::test]
async fn second_401_after_reauthentication_is_refused() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    h.fault("room", 401, 2).await?;
    let auths_before = h.count("visitor_auth").await?;
    let error = h.client.room(&mut session).await.expect_err("401 twice");
    assert!(error.is_refused(), "{error:?}");
    assert_eq!(error.status(), Some(401));
    assert_eq!(h.count("room").await?, 2);
    assert_eq!(
        h.count("visitor_auth").await?,
        auths_before + 1,
        "re-authenticated once"
    );
    h.clear_faults().await?;
    h.client.room(&mut session).await?;
    Ok(())
}

// --- pagination ---------------------------------------------------------------------------------

#[tokio::test]
async fn visitor_messages_follow_next_across_pages() -> Result<()> {
    let h = Harness::start().await?;
    let (mut session, chat) = h.visitor_with_chat().await?;
    let sent: Vec<String> = (0..8).map(|i| format!("message {i}")).collect();
    for text in &sent {
        h.client.send_message(&mut session, &chat, text).await?;
    }
    let messages = h.client.visitor_messages(&mut session, &chat).await?;
    assert_eq!(
        texts_from(&messages, SenderType::Visitor),
        sent,
        "all, in order"
    );
    assert!(h.count("visitor_messages").await? >= 3);
    Ok(())
}

#[tokio::test]
async fn visitor_chats_follow_next_across_pages() -> Result<()> {
    let h = Harness::start().await?;
    let mut session = h.visitor().await?;
    let mut started = Vec::new();
    for _ in 0..8 {
        started.push(h.client.start_chat(&mut session).await?.id.context("id")?);
    }
    let chats = h.client.visitor_chats(&mut session).await?;
    let mut listed: Vec<ChatId> = chats.into_iter().filter_map(|c| c.id).collect();
    listed.sort();
    started.sort();
    assert_eq!(listed, started);
    assert_eq!(h.count("visitor_chats").await?, 3, "8 chats in pages of 3");
    Ok(())
}

#[tokio::test]
async fn chat_memberships_follow_next_across_pages() -> Result<()> {
    let h = Harness::start().await?;
    let (session, chat) = h.visitor_with_chat().await?;
    for i in 0..7 {
        h.agent_joins(&chat, &format!("Agent {i}")).await?;
    }
    let members = h.client.chat_memberships(&chat).await?;
    assert_eq!(members.len(), 8, "the visitor and 7 agents");
    assert_eq!(
        members
            .iter()
            .filter_map(|m| m.visitor_id())
            .collect::<Vec<_>>(),
        [session.visitor_id().clone()]
    );
    assert_eq!(h.count("memberships").await?, 3);
    Ok(())
}

#[tokio::test]
async fn next_link_to_another_origin_is_not_followed() -> Result<()> {
    let (elsewhere, elsewhere_hits) =
        canned_server(200, r#"{"next":null,"results":[]}"#.into()).await?;
    let first_page = json!({
        "next": format!("http://{elsewhere}/api/v5/orgs/org/owned_chats/c/memberships?cursor=2"),
        "previous": null,
        "results": [{"member_id": "u1", "member_type": "user"}]
    });
    let (giosg, giosg_hits) = canned_server(200, first_page.to_string()).await?;
    let client = canned_client(giosg)?;
    let error = client
        .chat_memberships(&ChatId::new("c"))
        .await
        .expect_err("foreign next link");
    assert!(
        matches!(&error, GiosgError::InvalidResponse { reason, .. } if reason.contains("another origin")),
        "{error:?}"
    );
    assert_eq!(giosg_hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        elsewhere_hits.load(Ordering::SeqCst),
        0,
        "the API token never went to another origin"
    );
    Ok(())
}

#[tokio::test]
async fn a_next_link_that_loops_is_not_followed_forever() -> Result<()> {
    let page =
        r#"{"next": "http://{self}/api/v5/orgs/org/owned_chats/c/memberships", "results": []}"#;
    let (server, hits) = canned_server(200, page.into()).await?;
    let client = canned_client(server)?;
    let error = client
        .chat_memberships(&ChatId::new("c"))
        .await
        .expect_err("loop");
    assert!(
        matches!(error, GiosgError::InvalidResponse { .. }),
        "{error:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a next link back to a page already read is never requested"
    );
    Ok(())
}

// --- secrets --------------------------------------------------------------------------------------

#[tokio::test]
async fn no_secret_appears_in_logs_or_errors() -> Result<()> {
    let h = Harness::start().await?;
    let mut secrets: Vec<String> = vec![h.sim.api_token().to_owned()];
    let mut errors: Vec<GiosgError> = Vec::new();
    let remember = |secrets: &mut Vec<String>, session: &VisitorSession| {
        secrets.push(session.visitor_secret_id().expose().to_owned());
        secrets.push(session.access_token().expose().to_owned());
    };
    let private_text = "my card number is 4111 1111 1111 1111";

    // Every call, successfully.
    let mut session = h.client.authenticate_visitor(None).await?;
    remember(&mut secrets, &session);
    h.client.join_room(&mut session).await?;
    h.client.set_username(session.visitor_id(), "Ada").await?;
    h.client
        .refresh_presence(&mut session, Duration::from_secs(60))
        .await?;
    h.client.room(&mut session).await?;
    h.client.online_users(&mut session).await?;
    let chat = h.client.start_chat(&mut session).await?.id.context("id")?;
    h.client
        .send_message(&mut session, &chat, private_text)
        .await?;
    h.client.visitor_chats(&mut session).await?;
    h.client.visitor_messages(&mut session, &chat).await?;
    h.client.chat_memberships(&chat).await?;
    h.client.owned_chat(&chat).await?;
    let returning = h
        .client
        .authenticate_visitor(Some(session.visitor_secret_id()))
        .await?;
    remember(&mut secrets, &returning);

    // Token renewal: before expiry, and after a 401.
    let mut near_expiry = VisitorSession::from_parts(
        session.visitor_id().clone(),
        session.visitor_secret_id().clone(),
        session.access_token().clone(),
        Utc::now(),
    );
    h.client.room(&mut near_expiry).await?;
    remember(&mut secrets, &near_expiry);
    h.expire_token(session.visitor_id()).await?;
    h.client.room(&mut session).await?;
    remember(&mut secrets, &session);

    // Every kind of failure.
    h.fault("room", 401, 2).await?;
    errors.push(h.client.room(&mut session).await.expect_err("401 twice"));
    remember(&mut secrets, &session);
    h.fault("room", 503, 100).await?;
    errors.push(h.client.room(&mut session).await.expect_err("503"));
    h.clear_faults().await?;
    h.fault_with(json!({"endpoint": "room", "status": 429, "count": 1, "retry_after": 30}))
        .await?;
    errors.push(h.client.room(&mut session).await.expect_err("429"));
    h.fault("send_message", 500, 1).await?;
    errors.push(
        h.client
            .send_message(&mut session, &chat, private_text)
            .await
            .expect_err("500"),
    );
    h.fault_with(json!({"endpoint": "send_message", "status": 503, "count": 1, "delay_ms": 1000}))
        .await?;
    errors.push(
        h.client
            .send_message(&mut session, &chat, private_text)
            .await
            .expect_err("timeout"),
    );
    h.agent_ends(&chat).await?;
    errors.push(
        h.client
            .send_message(&mut session, &chat, private_text)
            .await
            .expect_err("ended"),
    );
    let forgotten_secret = "cd".repeat(32);
    secrets.push(forgotten_secret.clone());
    let mut forgotten = VisitorSession::from_parts(
        session.visitor_id().clone(),
        Secret::new(forgotten_secret),
        Secret::new("stale-access-token-0123456789abcdef"),
        Utc::now(),
    );
    secrets.push(forgotten.access_token().expose().to_owned());
    errors.push(
        h.client
            .send_message(&mut forgotten, &chat, private_text)
            .await
            .expect_err("replaced"),
    );
    remember(&mut secrets, &forgotten);
    let wrong_token = "wrong-api-token-fedcba9876543210";
    secrets.push(wrong_token.to_owned());
    let wrong = h.other_client(|c| c.api_token = Secret::new(wrong_token))?;
    errors.push(wrong.owned_chat(&chat).await.expect_err("wrong token"));
    let closed = closed_port().await?;
    let nowhere = h.other_client(|c| {
        c.base_url = Url::parse(&format!("http://{closed}/")).expect("url");
    })?;
    errors.push(nowhere.room(&mut session).await.expect_err("unreachable"));

    let logs = log_text();
    assert!(logs.contains("Giosg call succeeded"), "the capture works");
    assert!(
        logs.contains("retrying Giosg call"),
        "the capture sees warnings"
    );
    assert!(!logs.contains(private_text), "message text is never logged");
    let reported: Vec<String> = errors
        .iter()
        .flat_map(|e| [e.to_string(), format!("{e:?}")])
        .collect();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
        for text in &reported {
            assert!(
                !text.contains(secret.as_str()),
                "a secret reached an error: {text}"
            );
        }
    }
    assert!(
        !logs.contains("Bearer "),
        "no Authorization header value is logged"
    );
    Ok(())
}
