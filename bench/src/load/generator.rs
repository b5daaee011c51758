//! The HTTP/1.1 load generator: requests made from recorded Lambda events (payload 2.0), sent
//! over keep-alive connections in a closed loop (each connection sends its next request when the
//! previous answer is complete), with every latency and status recorded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// One HTTP request, ready to send.
#[derive(Clone, Debug)]
pub struct LoadRequest {
    pub method: Method,
    pub path_and_query: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl LoadRequest {
    /// The HTTP request a recorded Lambda event (payload 2.0) stands for.
    pub fn from_event(event: &str) -> anyhow::Result<Self> {
        let event: Value = serde_json::from_str(event)?;
        let method = event["requestContext"]["http"]["method"]
            .as_str()
            .context("no method")?
            .parse()?;
        let path = event["rawPath"].as_str().context("no rawPath")?;
        let query = event["rawQueryString"].as_str().unwrap_or("");
        let path_and_query = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        };
        let mut headers = Vec::new();
        if let Some(map) = event["headers"].as_object() {
            for (name, value) in map {
                if matches!(name.as_str(), "host" | "content-length") {
                    continue;
                }
                if let (Ok(name), Some(Ok(value))) = (
                    HeaderName::try_from(name.as_str()),
                    value.as_str().map(HeaderValue::from_str),
                ) {
                    headers.push((name, value));
                }
            }
        }
        let body = Bytes::from(event["body"].as_str().unwrap_or("").to_owned());
        Ok(Self {
            method,
            path_and_query,
            headers,
            body,
        })
    }
}

/// What the generator saw.
pub struct Driven {
    pub latencies: Vec<Duration>,
    pub statuses: BTreeMap<u16, u64>,
    pub elapsed: Duration,
    /// The last answer's body, for sanity checks.
    pub last_body: Bytes,
}

/// Sends every request once over `connections` keep-alive connections and waits for all.
pub async fn drive(
    address: SocketAddr,
    requests: Arc<Vec<LoadRequest>>,
    connections: usize,
) -> anyhow::Result<Driven> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let requests = Arc::clone(&requests);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            connection(address, &requests, &next).await
        }));
    }
    let mut driven = Driven {
        latencies: Vec::with_capacity(requests.len()),
        statuses: BTreeMap::new(),
        elapsed: Duration::ZERO,
        last_body: Bytes::new(),
    };
    for task in tasks {
        let (latencies, statuses, last_body) = task.await??;
        driven.latencies.extend(latencies);
        for (status, count) in statuses {
            *driven.statuses.entry(status).or_default() += count;
        }
        if !last_body.is_empty() {
            driven.last_body = last_body;
        }
    }
    driven.elapsed = started.elapsed();
    Ok(driven)
}

type ConnectionResult = (Vec<Duration>, BTreeMap<u16, u64>, Bytes);

async fn connection(
    address: SocketAddr,
    requests: &[LoadRequest],
    next: &AtomicUsize,
) -> anyhow::Result<ConnectionResult> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(connection);
    let mut latencies = Vec::new();
    let mut statuses = BTreeMap::new();
    let mut last_body = Bytes::new();
    let host = HeaderValue::from_str(&address.to_string())?;
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(request) = requests.get(index) else {
            break;
        };
        let mut builder = hyper::Request::builder()
            .method(request.method.clone())
            .uri(request.path_and_query.as_str())
            .header(http::header::HOST, host.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let outgoing = builder.body(Full::new(request.body.clone()))?;
        sender.ready().await?;
        let sent = Instant::now();
        let response = sender.send_request(outgoing).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        latencies.push(sent.elapsed());
        *statuses.entry(status).or_default() += 1;
        last_body = body;
    }
    drop(sender);
    let _ = driver.await;
    Ok((latencies, statuses, last_body))
}
