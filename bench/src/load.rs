//! The local HTTP server under load: a closed-loop HTTP/1.1 load generator (keep-alive
//! connections, each sending its next request when the previous answer is complete) against a
//! server process whose CPU time and peak memory are read from `/proc`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

use crate::emulators::fixed;
use crate::events::{self, RecordedEvent};
use crate::procfs;
use crate::stats::Summary;

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

/// Which server is measured.
#[derive(Clone, Debug)]
pub enum ServerKind {
    /// The `local-runner` binary (in-memory store, simulator): `--port 0 --sim-port 0`.
    LocalRunner(PathBuf),
    /// This binary's `local-server`: the same router and store without the runner's extras.
    Builtin,
}

/// What requests must carry for the server to accept them.
#[derive(Clone, Debug)]
pub struct Identity {
    pub org_id: String,
    pub room_id: String,
    pub webhook_secret: String,
}

/// The server process under test.
pub struct Server {
    child: tokio::process::Child,
    pub pid: u32,
    pub address: SocketAddr,
    pub identity: Identity,
    /// Process start until it answered its first webhook.
    pub cold_start: Duration,
}

impl Server {
    /// Starts the server and waits until it answers a webhook (`probe` makes one).
    pub async fn start(
        kind: &ServerKind,
        log: PathBuf,
        probe: impl Fn(&Identity) -> anyhow::Result<LoadRequest>,
    ) -> anyhow::Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut command = match kind {
            ServerKind::LocalRunner(binary) => {
                let mut command = tokio::process::Command::new(binary);
                command
                    .args(["--port", "0", "--sim-port", "0", "--log-format", "json"])
                    .env("WEBHOOK_SECRET", fixed::WEBHOOK_SECRET);
                command
            }
            ServerKind::Builtin => {
                let mut command = tokio::process::Command::new(std::env::current_exe()?);
                command.args(["local-server", "--port", "0"]);
                command
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn().context("starting the server")?;
        let pid = child.id().context("the server exited at once")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let (api, sim) = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                // local-runner: `listening api=URL sim=URL`; local-server: `URL`.
                if let Some(rest) = line.strip_prefix("listening ") {
                    let field = |name: &str| {
                        rest.split_whitespace()
                            .find_map(|part| part.strip_prefix(name))
                            .map(str::to_owned)
                    };
                    return Ok((field("api="), field("sim=")));
                }
                if line.starts_with("http://") {
                    return Ok((Some(line.trim().to_owned()), None));
                }
            }
            anyhow::Ok((None, None))
        })
        .await
        .context("the server did not start in time")??;
        let api = api.context("the server exited before listening")?;
        let address: SocketAddr = api
            .trim_end_matches('/')
            .strip_prefix("http://")
            .context("unexpected API URL")?
            .parse()?;
        let identity = match sim {
            Some(sim) => {
                let info = giosg_sim::SimControl::new(sim).info().await?;
                Identity {
                    org_id: info.org_id,
                    room_id: info.room_id,
                    webhook_secret: fixed::WEBHOOK_SECRET.to_owned(),
                }
            }
            None => Identity {
                org_id: fixed::ORG_ID.to_owned(),
                room_id: fixed::ROOM_ID.to_owned(),
                webhook_secret: fixed::WEBHOOK_SECRET.to_owned(),
            },
        };
        let probe = Arc::new(vec![probe(&identity)?]);
        let answered = drive(address, probe, 1).await?;
        if !answered.statuses.contains_key(&200) {
            bail!(
                "the server answered the probe with {:?}: {}",
                answered.statuses,
                String::from_utf8_lossy(&answered.last_body)
            );
        }
        Ok(Self {
            cold_start: started.elapsed(),
            child,
            pid,
            address,
            identity,
        })
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Reference figures of the Django app on the same machines (issue 5).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Reference {
    pub rps_low: f64,
    pub rps_high: f64,
    pub cpu_ms_per_request_low: f64,
    pub cpu_ms_per_request_high: f64,
    /// How much more one Django request does than one of ours (its history answer holds all
    /// 200 messages, ours at most one page).
    pub work_ratio: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoadResult {
    pub scenario: String,
    pub connections: usize,
    pub requests: usize,
    pub statuses: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    pub requests_per_second: f64,
    pub latency: Summary,
    /// Server CPU time (user + system, all threads) over the run, per request.
    pub cpu_ms_per_request: f64,
    /// Requests per second one fully busy core would serve (1 / CPU per request).
    pub requests_per_core_second: f64,
    pub peak_rss_kib: u64,
    pub server_cold_start_ms: f64,
    pub django: Reference,
    /// Our work per core-second over Django's best (its lowest CPU per request), for the same
    /// work (a history answer of Django's is `work_ratio` of ours).
    pub per_core_vs_django: f64,
    /// Our work per second over Django's best req/s at the same number of connections.
    pub throughput_vs_django: f64,
}

pub struct Options {
    pub server: ServerKind,
    pub events_dir: PathBuf,
    pub connections: Vec<usize>,
    pub webhooks: usize,
    pub history_reads: usize,
    pub history_messages: usize,
    pub history_limit: usize,
    pub logs_dir: PathBuf,
}

/// Recorded webhooks made new: message `added` envelopes with their own ids (in `namespace`), in
/// the server's organization and room, optionally moved to `chat` with increasing `created_at`.
struct Webhooks {
    template: String,
    namespace: u16,
}

impl Webhooks {
    fn make(
        &mut self,
        identity: &Identity,
        count: usize,
        chat: Option<&str>,
    ) -> anyhow::Result<Vec<LoadRequest>> {
        self.namespace += 1;
        let template = events::with_org_room(
            &self.template,
            &identity.org_id,
            &identity.room_id,
            fixed::WEBHOOK_SECRET,
            &identity.webhook_secret,
        )?;
        (0..count)
            .map(|n| {
                let id = events::numbered_id(self.namespace, n as u64);
                let mut event = events::with_resource_id(&template, &id)?;
                if let Some(chat) = chat {
                    let at = chrono::DateTime::from_timestamp(1_741_774_504 + n as i64, 0)
                        .unwrap_or_default()
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    event = events::with_chat(&event, chat, &at)?;
                }
                LoadRequest::from_event(&event)
            })
            .collect()
    }
}

pub async fn run(options: &Options) -> anyhow::Result<Vec<LoadResult>> {
    std::fs::create_dir_all(&options.logs_dir)?;
    let events = events::load(&options.events_dir)?;
    let find = |file: &str| -> anyhow::Result<&RecordedEvent> {
        events
            .iter()
            .find(|e| e.entry.file == file)
            .with_context(|| format!("{file} is not in the manifest"))
    };
    let webhooks = std::sync::Mutex::new(Webhooks {
        template: find("webhooks/message-added-visitor.json")?.text.clone(),
        namespace: 0x100,
    });
    let make = |identity: &Identity, count: usize, chat: Option<&str>| {
        webhooks
            .lock()
            .expect("webhooks lock")
            .make(identity, count, chat)
    };
    let probe = |identity: &Identity| -> anyhow::Result<LoadRequest> {
        Ok(make(identity, 1, None)?.remove(0))
    };
    let start_chat = find("api/start-chat-new-visitor.json")?.text.clone();
    let history = find("api/history.json")?.text.clone();
    let log = options.logs_dir.join("local-server.log");
    let mut results = Vec::new();

    for &connections in &options.connections {
        let server = Server::start(&options.server, log.clone(), probe).await?;
        let warmup = Arc::new(make(&server.identity, 100, None)?);
        drive(server.address, warmup, connections).await?;
        let requests = Arc::new(make(&server.identity, options.webhooks, None)?);
        let result = measure(
            &server,
            format!("webhook: {} distinct message added", options.webhooks),
            requests,
            connections,
            Reference {
                rps_low: if connections == 1 { 123.0 } else { 203.0 },
                rps_high: if connections == 1 { 155.0 } else { 241.0 },
                cpu_ms_per_request_low: 5.0,
                cpu_ms_per_request_high: 7.0,
                work_ratio: 1.0,
            },
        )
        .await?;
        print_load(&result);
        results.push(result);
        server.stop().await;
    }

    for &connections in &options.connections {
        let server = Server::start(&options.server, log.clone(), probe).await?;
        // A visitor's chat with `history_messages` messages, delivered as webhooks.
        let started = drive(
            server.address,
            Arc::new(vec![LoadRequest::from_event(&start_chat)?]),
            1,
        )
        .await?;
        let answer: Value = serde_json::from_slice(&started.last_body)?;
        let (Some(token), Some(chat)) = (
            answer["visitor_token"].as_str(),
            answer["chat"]["id"].as_str(),
        ) else {
            bail!("the server did not start a chat: {answer}");
        };
        let fill = Arc::new(make(
            &server.identity,
            options.history_messages,
            Some(chat),
        )?);
        let filled = drive(server.address, fill, 1).await?;
        if filled.statuses.keys().any(|status| *status != 200) {
            bail!("filling the chat answered {:?}", filled.statuses);
        }
        let substitutions = events::Substitutions {
            visitor_token: Some(token.to_owned()),
            chat_id: Some(chat.to_owned()),
            cursor: None,
        };
        let mut read = LoadRequest::from_event(&substitutions.apply(&history))?;
        read.path_and_query = format!("/v1/chats/{chat}/messages?limit={}", options.history_limit);
        let check = drive(server.address, Arc::new(vec![read.clone()]), 1).await?;
        let page: Value = serde_json::from_slice(&check.last_body)?;
        let returned = page["messages"].as_array().map_or(0, Vec::len);
        if returned != options.history_limit.min(options.history_messages) {
            bail!("a history page had {returned} messages: {page}");
        }
        drive(
            server.address,
            Arc::new(vec![read.clone(); 50]),
            connections,
        )
        .await?;
        let requests = Arc::new(vec![read; options.history_reads]);
        let result = measure(
            &server,
            format!(
                "history: {} reads, {} of a {}-message chat",
                options.history_reads, options.history_limit, options.history_messages
            ),
            requests,
            connections,
            Reference {
                rps_low: 56.0,
                rps_high: 67.0,
                cpu_ms_per_request_low: 15.0,
                cpu_ms_per_request_high: 15.0,
                work_ratio: 200.0 / options.history_limit as f64,
            },
        )
        .await?;
        print_load(&result);
        results.push(result);
        server.stop().await;
    }
    Ok(results)
}

async fn measure(
    server: &Server,
    scenario: String,
    requests: Arc<Vec<LoadRequest>>,
    connections: usize,
    django: Reference,
) -> anyhow::Result<LoadResult> {
    let count = requests.len();
    let cpu_before = procfs::cpu_time(server.pid).context("server CPU time")?;
    let driven = drive(server.address, requests, connections).await?;
    let cpu_after = procfs::cpu_time(server.pid).context("server CPU time")?;
    let peak_rss_kib = procfs::memory(server.pid).map_or(0, |m| m.peak_rss_kib);
    let cpu_ms_per_request = (cpu_after - cpu_before).as_secs_f64() * 1000.0 / count as f64;
    let requests_per_second = count as f64 / driven.elapsed.as_secs_f64();
    let requests_per_core_second = 1000.0 / cpu_ms_per_request;
    Ok(LoadResult {
        scenario,
        connections,
        requests: count,
        statuses: driven
            .statuses
            .iter()
            .map(|(status, n)| (status.to_string(), *n))
            .collect(),
        elapsed_s: driven.elapsed.as_secs_f64(),
        requests_per_second,
        latency: Summary::of(&driven.latencies),
        cpu_ms_per_request,
        requests_per_core_second,
        peak_rss_kib,
        server_cold_start_ms: server.cold_start.as_secs_f64() * 1000.0,
        django,
        per_core_vs_django: django.cpu_ms_per_request_low
            / (cpu_ms_per_request * django.work_ratio),
        throughput_vs_django: requests_per_second / django.work_ratio / django.rps_high,
    })
}

fn print_load(result: &LoadResult) {
    eprintln!(
        "   {:<48} c={} {:>8.0} req/s  p50 {:.3} ms  p99 {:.3} ms  CPU {:.3} ms/req  peak RSS {:.1} MiB",
        result.scenario,
        result.connections,
        result.requests_per_second,
        result.latency.p50_ms,
        result.latency.p99_ms,
        result.cpu_ms_per_request,
        result.peak_rss_kib as f64 / 1024.0
    );
}
