//! A counting reverse proxy: sits between a function and an emulator (moto, the Giosg
//! simulator), counts each request by a label (the `X-Amz-Target` operation for AWS) and adds
//! up the time the upstream took, so round trips and the emulator's own latency are measured
//! outside the code under test.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use http::header::{CONNECTION, TRANSFER_ENCODING};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How a request is labelled in the counts.
#[derive(Clone, Copy, Debug)]
pub enum Labeling {
    /// AWS JSON protocols: `X-Amz-Target: DynamoDB_20120810.GetItem` counts as `dynamodb:GetItem`.
    AwsTarget,
    /// Method and path with id-like segments collapsed: `GET /api/v5/public/orgs/{id}/rooms/{id}`.
    MethodAndPath,
}

/// What passed through since the last [`CountingProxy::take`].
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub calls: BTreeMap<String, u64>,
    /// Time from forwarding a request to having the upstream's whole answer, summed.
    pub upstream: Duration,
    /// The same, by label.
    pub upstream_by_label: BTreeMap<String, Duration>,
}

struct Inner {
    upstream: String,
    labeling: Labeling,
    client: Client<HttpConnector, Full<Bytes>>,
    tally: Mutex<Tally>,
}

/// A running proxy on a loopback port.
pub struct CountingProxy {
    address: SocketAddr,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    /// Starts a proxy that forwards everything to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, labeling: Labeling) -> anyhow::Result<Self> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_owned(),
            labeling,
            client: Client::builder(TokioExecutor::new()).build(connector),
            tally: Mutex::new(Tally::default()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the proxy")?;
        let address = listener.local_addr()?;
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            address,
            inner,
            server,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The calls and upstream time since the last call, and a fresh start.
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.inner.tally.lock().expect("tally lock"))
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    match forward_inner(&inner, request).await {
        Ok(response) => response,
        Err(error) => (StatusCode::BAD_GATEWAY, format!("proxy: {error:#}")).into_response(),
    }
}

async fn forward_inner(inner: &Inner, request: Request) -> anyhow::Result<Response> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let label = label(inner.labeling, &parts);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(format!("{}{path}", inner.upstream));
    for (name, value) in &parts.headers {
        // Host stays the proxy's (so absolute links the upstream builds come back here).
        if name != CONNECTION && name != TRANSFER_ENCODING {
            upstream = upstream.header(name, value);
        }
    }
    let upstream = upstream.body(Full::new(body))?;
    let started = Instant::now();
    let response = inner.client.request(upstream).await?;
    let (mut parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    let took = started.elapsed();
    {
        let mut tally = inner.tally.lock().expect("tally lock");
        *tally.calls.entry(label.clone()).or_default() += 1;
        *tally.upstream_by_label.entry(label).or_default() += took;
        tally.upstream += took;
    }
    parts.headers.remove(TRANSFER_ENCODING);
    parts.headers.remove(CONNECTION);
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn label(labeling: Labeling, parts: &http::request::Parts) -> String {
    match labeling {
        Labeling::AwsTarget => parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| "unknown".to_owned(), aws_operation),
        Labeling::MethodAndPath => {
            let path: Vec<&str> = parts
                .uri
                .path()
                .split('/')
                .map(|segment| if is_id_like(segment) { "{id}" } else { segment })
                .collect();
            format!("{} {}", parts.method, path.join("/"))
        }
    }
}

/// `DynamoDB_20120810.GetItem` → `dynamodb:GetItem`, `secretsmanager.GetSecretValue` →
/// `secretsmanager:GetSecretValue`.
fn aws_operation(target: &str) -> String {
    let (service, operation) = target.split_once('.').unwrap_or(("unknown", target));
    let service = service
        .split('_')
        .next()
        .unwrap_or(service)
        .to_ascii_lowercase();
    format!("{service}:{operation}")
}

fn is_id_like(segment: &str) -> bool {
    segment.len() >= 16 && segment.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_targets_become_operations() {
        assert_eq!(
            aws_operation("DynamoDB_20120810.GetItem"),
            "dynamodb:GetItem"
        );
        assert_eq!(
            aws_operation("secretsmanager.GetSecretValue"),
            "secretsmanager:GetSecretValue"
        );
    }

    #[test]
    fn ids_are_collapsed_in_paths() {
        assert!(is_id_like("6f2b6d0e-0000-4000-8000-000000000001"));
        assert!(!is_id_like("owned_chats"));
    }
}
