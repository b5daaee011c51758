//! The Lambda Runtime API (2018-06-01) on a loopback port, as the Lambda service plays it for a
//! function process: `GET /runtime/invocation/next` hands out queued events with the Lambda
//! headers, `POST /runtime/invocation/{id}/response` and `/error` answer them,
//! `POST /runtime/init/error` reports a failed start.
//!
//! Timing is taken here, at the edges the function cannot see: when the first `/next` arrives
//! (the end of init), and for each event from handing it out to receiving its answer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

const PREFIX: &str = "/2018-06-01/runtime";

/// How an invocation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomeKind {
    Response,
    Error,
}

/// The answer to one event.
#[derive(Debug)]
pub struct Outcome {
    pub kind: OutcomeKind,
    pub body: Bytes,
    /// From handing the event out on `/next` to receiving the whole answer.
    pub elapsed: Duration,
}

struct Queued {
    request_id: String,
    event: Bytes,
}

struct InFlight {
    dispatched: Option<Instant>,
    reply: oneshot::Sender<Outcome>,
}

struct Inner {
    function_arn: String,
    timeout: Duration,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    first_next: watch::Sender<Option<Instant>>,
    init_error: watch::Sender<Option<String>>,
}

/// One function's Runtime API endpoint.
pub struct RuntimeApi {
    address: SocketAddr,
    inner: Arc<Inner>,
    queue: mpsc::UnboundedSender<Queued>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves the Runtime API for a function named `function_name` with a timeout (for
    /// `Lambda-Runtime-Deadline-Ms`).
    pub async fn start(function_name: &str, timeout: Duration) -> anyhow::Result<Self> {
        let (queue, receiver) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            function_arn: format!("arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"),
            timeout,
            queue: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            first_next: watch::channel(None).0,
            init_error: watch::channel(None).0,
        });
        let router = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{PREFIX}/invocation/{{id}}/error"), post(error))
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the Runtime API")?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            address,
            inner,
            queue,
            server,
        })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.address.to_string()
    }

    /// Waits until the function asks for its first event (or reports an init error).
    pub async fn first_next(&self, limit: Duration) -> anyhow::Result<Instant> {
        let mut first = self.inner.first_next.subscribe();
        let mut failed = self.inner.init_error.subscribe();
        let wait = async {
            loop {
                if let Some(at) = *first.borrow_and_update() {
                    return Ok(at);
                }
                if let Some(error) = failed.borrow_and_update().clone() {
                    bail!("the function reported an init error: {error}");
                }
                tokio::select! {
                    changed = first.changed() => changed?,
                    changed = failed.changed() => changed?,
                }
            }
        };
        tokio::time::timeout(limit, wait)
            .await
            .context("the function did not ask for an event in time")?
    }

    /// Queues an event and waits for the function's answer.
    pub async fn invoke(&self, event: Bytes) -> anyhow::Result<Outcome> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (reply, answer) = oneshot::channel();
        self.inner.in_flight.lock().expect("in-flight lock").insert(
            request_id.clone(),
            InFlight {
                dispatched: None,
                reply,
            },
        );
        self.queue
            .send(Queued { request_id, event })
            .map_err(|_| anyhow::anyhow!("the Runtime API stopped"))?;
        tokio::time::timeout(self.inner.timeout + Duration::from_secs(5), answer)
            .await
            .context("the function did not answer in time")?
            .context("the function went away without answering")
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(inner): State<Arc<Inner>>) -> Response {
    inner.first_next.send_if_modified(|first| {
        let unset = first.is_none();
        if unset {
            *first = Some(Instant::now());
        }
        unset
    });
    let Some(queued) = inner.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = SystemTime::now() + inner.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("content-type", "application/json".into());
    set("lambda-runtime-aws-request-id", queued.request_id.clone());
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        inner.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        format!(
            "Root=1-{:08x}-{};Parent={};Sampled=0",
            deadline_ms / 1000,
            &uuid::Uuid::new_v4().simple().to_string()[..24],
            &uuid::Uuid::new_v4().simple().to_string()[..16],
        ),
    );
    if let Some(in_flight) = inner
        .in_flight
        .lock()
        .expect("in-flight lock")
        .get_mut(&queued.request_id)
    {
        in_flight.dispatched = Some(Instant::now());
    }
    (StatusCode::OK, headers, queued.event).into_response()
}

fn finish(inner: &Inner, request_id: &str, kind: OutcomeKind, body: Bytes) -> StatusCode {
    let received = Instant::now();
    let Some(in_flight) = inner
        .in_flight
        .lock()
        .expect("in-flight lock")
        .remove(request_id)
    else {
        return StatusCode::BAD_REQUEST;
    };
    let elapsed = in_flight
        .dispatched
        .map_or(Duration::ZERO, |at| received - at);
    let _ = in_flight.reply.send(Outcome {
        kind,
        body,
        elapsed,
    });
    StatusCode::ACCEPTED
}

async fn response(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&inner, &id, OutcomeKind::Response, body)
}

async fn error(State(inner): State<Arc<Inner>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&inner, &id, OutcomeKind::Error, body)
}

async fn init_error(State(inner): State<Arc<Inner>>, body: Bytes) -> StatusCode {
    let text = String::from_utf8_lossy(&body).chars().take(500).collect();
    inner.init_error.send_replace(Some(text));
    StatusCode::ACCEPTED
}
