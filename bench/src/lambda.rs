//! The Lambda benchmark: each function's real release binary started as Lambda starts it (a
//! clean environment, `AWS_LAMBDA_RUNTIME_API` pointing at [`RuntimeApi`]), fed the recorded
//! events, with DynamoDB and Secrets Manager on moto and Giosg on the simulator, each behind a
//! counting proxy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::emulators::{self, Emulators, TABLE_NAME, fixed};
use crate::events::{self, RecordedEvent, Substitutions};
use crate::procfs;
use crate::proxy::Tally;
use crate::runtime_api::{OutcomeKind, RuntimeApi};
use crate::stats::Summary;

/// The functions, in the order they are measured (start-chat makes the visitor and chat the
/// others need).
pub const FUNCTIONS: [&str; 4] = [
    "start-chat",
    "send-message",
    "chat-history",
    "giosg-webhooks",
];

/// The memory size and timeout the SAM template gives the functions.
const MEMORY_SIZE_MB: u32 = 128;
const TIMEOUT: Duration = Duration::from_secs(10);
/// Messages in the chat whose history `chat-history` reads.
const HISTORY_MESSAGES: u64 = 200;
/// See [`LambdaBench::function`]: how often moto's table is compacted within a scenario.
const COMPACT_EVERY: usize = 100;

pub struct Options {
    /// Where the binaries are: `<dir>/<function>/bootstrap` (cargo lambda) or `<dir>/<function>`.
    pub functions_dir: PathBuf,
    /// One binary for every function instead (an experiment serving every route).
    pub binary: Option<PathBuf>,
    /// Added to each function's environment.
    pub extra_env: Vec<(String, String)>,
    pub functions: Vec<String>,
    pub events_dir: PathBuf,
    /// Warm invocations per scenario.
    pub iterations: usize,
    /// Cold starts per function (the first one also runs the warm scenarios).
    pub cold_starts: usize,
    pub logs_dir: PathBuf,
}

/// How a recorded event is turned into the event of the i-th invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// As recorded (placeholders substituted): a loop replays the same event.
    AsRecorded,
    /// A new `client_message_id` each time: every invocation sends a new message.
    NewClientMessageId,
    /// No `client_message_id`: a send without idempotency.
    NoClientMessageId,
    /// A new `resource_id` each time: every delivery is about a new resource.
    NewResourceId,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Self::AsRecorded => "",
            Self::NewClientMessageId => " (new client_message_id)",
            Self::NoClientMessageId => " (no client_message_id)",
            Self::NewResourceId => " (new resource id)",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColdStart {
    /// Process start until the first `GET /next`.
    pub init_ms: f64,
    /// `VmRSS` at that moment, KiB.
    pub rss_after_init_kib: u64,
    /// The AWS calls made during init (the secret read).
    pub init_aws_calls: BTreeMap<String, u64>,
    pub first_invocation_ms: f64,
    pub first_invocation_status: Option<u16>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub scenario: String,
    pub file: String,
    pub invocations: usize,
    pub expected_status: u16,
    pub statuses: BTreeMap<String, u64>,
    /// Handing out the event until its answer arrived.
    pub latency: Summary,
    /// Of that, time spent waiting for moto and the simulator (measured at the proxies).
    pub emulator: Summary,
    /// `latency - emulator`, per invocation: the function's own time (runtime, handler,
    /// SDK/HTTP client, JSON, logging) plus the proxy hop, and any wait for a CPU.
    pub overhead: Summary,
    /// CPU time (user + system) the function process used per invocation, on average.
    pub cpu_ms_per_invocation: f64,
    /// The kernel's share of that CPU time (system / (user + system), from 10 ms ticks).
    #[serde(default)]
    pub system_cpu_share: Option<f64>,
    /// DynamoDB (and Secrets Manager) requests per invocation, by operation, counted by the proxy.
    pub aws_calls: BTreeMap<String, f64>,
    /// The emulators' mean time per request, by operation or Giosg path, measured at the proxies.
    #[serde(default)]
    pub emulator_ms_per_call: BTreeMap<String, f64>,
    pub dynamodb_per_invocation: f64,
    /// Giosg requests per invocation, by endpoint, counted by the simulator.
    pub giosg_calls: BTreeMap<String, f64>,
    pub giosg_per_invocation: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FunctionResult {
    pub function: String,
    pub binary: String,
    pub binary_bytes: u64,
    pub cold_starts: Vec<ColdStart>,
    pub init: Summary,
    pub first_invocation: Summary,
    /// `VmHWM` of the instance that ran every scenario, at its end, KiB.
    pub peak_rss_kib: u64,
    pub scenarios: Vec<ScenarioResult>,
}

/// One function process and its Runtime API.
struct Instance {
    child: tokio::process::Child,
    pid: u32,
    runtime: RuntimeApi,
    cold_start: ColdStart,
}

struct Invocation {
    elapsed: Duration,
    kind: OutcomeKind,
    status: Option<u16>,
    body: Value,
    aws: Tally,
    giosg: Tally,
}

pub struct LambdaBench<'a> {
    emulators: &'a Emulators,
    options: &'a Options,
    events: Vec<RecordedEvent>,
    substitutions: Substitutions,
    next_id: AtomicU64,
}

impl<'a> LambdaBench<'a> {
    pub fn new(emulators: &'a Emulators, options: &'a Options) -> anyhow::Result<Self> {
        Ok(Self {
            emulators,
            options,
            events: events::load(&options.events_dir)?,
            substitutions: Substitutions::default(),
            next_id: AtomicU64::new(1),
        })
    }

    pub async fn run(&mut self) -> anyhow::Result<Vec<FunctionResult>> {
        std::fs::create_dir_all(&self.options.logs_dir)?;
        let mut results = Vec::new();
        for function in FUNCTIONS {
            if !self.options.functions.iter().any(|f| f == function) {
                continue;
            }
            eprintln!("== {function}");
            results.push(self.function(function).await?);
        }
        Ok(results)
    }

    fn binary(&self, function: &str) -> PathBuf {
        if let Some(binary) = &self.options.binary {
            return std::fs::canonicalize(binary).unwrap_or_else(|_| binary.clone());
        }
        let bootstrap = self.options.functions_dir.join(function).join("bootstrap");
        let binary = if bootstrap.is_file() {
            bootstrap
        } else {
            self.options.functions_dir.join(function)
        };
        // The process runs in the binary's directory, as in /var/task.
        std::fs::canonicalize(&binary).unwrap_or(binary)
    }

    fn event(&self, file: &str) -> anyhow::Result<&RecordedEvent> {
        self.events
            .iter()
            .find(|e| e.entry.file == file)
            .with_context(|| format!("{file} is not in events/manifest.json"))
    }

    /// The first event of a cold start, and the warm scenarios, of each function.
    fn plan(&self, function: &str) -> (&'static str, Variant, Vec<(String, Variant)>) {
        let recorded = |file: &str| (file.to_owned(), Variant::AsRecorded);
        let own: Vec<(String, Variant)> = self
            .events
            .iter()
            .filter(|e| e.entry.function == function)
            .map(|e| recorded(&e.entry.file))
            .collect();
        match function {
            "start-chat" => ("api/start-chat-new-visitor.json", Variant::AsRecorded, own),
            "send-message" => {
                let mut scenarios = vec![
                    (
                        "api/send-message.json".to_owned(),
                        Variant::NewClientMessageId,
                    ),
                    (
                        "api/send-message.json".to_owned(),
                        Variant::NoClientMessageId,
                    ),
                ];
                scenarios.extend(own);
                (
                    "api/send-message.json",
                    Variant::NewClientMessageId,
                    scenarios,
                )
            }
            "chat-history" => ("api/history.json", Variant::AsRecorded, own),
            _ => {
                let mut scenarios = vec![
                    (
                        "webhooks/message-added-visitor.json".to_owned(),
                        Variant::NewResourceId,
                    ),
                    (
                        "webhooks/chat-added.json".to_owned(),
                        Variant::NewResourceId,
                    ),
                ];
                scenarios.extend(own);
                (
                    "webhooks/message-added-visitor.json",
                    Variant::NewResourceId,
                    scenarios,
                )
            }
        }
    }

    fn make_event(&self, file: &str, variant: Variant) -> anyhow::Result<String> {
        let recorded = self.event(file)?;
        let text = self.substitutions.apply(&recorded.text);
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        match variant {
            Variant::AsRecorded => Ok(text),
            Variant::NewClientMessageId => events::with_body(&text, |body| {
                body["client_message_id"] = Value::String(format!("bench-{n:012}"));
            }),
            Variant::NoClientMessageId => events::with_body(&text, |body| {
                if let Some(body) = body.as_object_mut() {
                    body.remove("client_message_id");
                }
            }),
            Variant::NewResourceId => events::with_resource_id(&text, &events::numbered_id(1, n)),
        }
    }

    async fn function(&mut self, function: &str) -> anyhow::Result<FunctionResult> {
        let binary = self.binary(function);
        let binary_bytes = std::fs::metadata(&binary)
            .with_context(|| {
                format!(
                    "{} is missing: build the functions first (scripts/bench does)",
                    binary.display()
                )
            })?
            .len();
        if function == "chat-history" {
            let (token, chat) =
                emulators::prepare_history_chat(self.emulators, &self.events, HISTORY_MESSAGES)
                    .await?;
            self.substitutions.visitor_token = Some(token);
            self.substitutions.chat_id = Some(chat);
        }
        let (first_file, first_variant, scenarios) = self.plan(function);
        let mut cold_starts = Vec::new();

        // The instance that runs everything: cold start, first invocation, warm scenarios.
        let mut main = self.spawn(function, &binary).await?;
        let first = self
            .invoke(&main, self.make_event(first_file, first_variant)?)
            .await?;
        main.cold_start.first_invocation_ms = first.elapsed.as_secs_f64() * 1000.0;
        main.cold_start.first_invocation_status = first.status;
        self.learn(function, &first)?;
        cold_starts.push(main.cold_start.clone());
        eprintln!(
            "   init {:.1} ms, first invocation {:.1} ms ({first_file}: {:?})",
            main.cold_start.init_ms, main.cold_start.first_invocation_ms, first.status
        );
        if function == "giosg-webhooks" {
            self.replay_manifest(&main, function).await?;
        }
        // The functions that write with `TransactWriteItems` slow moto down as the table
        // grows (it copies every table per transaction): their table is compacted every
        // `COMPACT_EVERY` invocations and between scenarios, outside the timed invocations.
        let compact_every =
            matches!(function, "start-chat" | "send-message").then_some(COMPACT_EVERY);
        let mut results = Vec::new();
        for (file, variant) in scenarios {
            let result = self.scenario(&main, &file, variant, compact_every).await?;
            if compact_every.is_some() {
                self.compact().await?;
            }
            eprintln!(
                "   {:<44} p50 {:>7.3} ms  p99 {:>7.3} ms  overhead p50 {:>6.3} ms  CPU {:>6.3} ms  ddb {:.2}  giosg {:.2}",
                result.scenario,
                result.latency.p50_ms,
                result.latency.p99_ms,
                result.overhead.p50_ms,
                result.cpu_ms_per_invocation,
                result.dynamodb_per_invocation,
                result.giosg_per_invocation,
            );
            results.push(result);
        }
        let peak_rss_kib = procfs::memory(main.pid).map_or(0, |m| m.peak_rss_kib);
        stop(&mut main).await;

        // More cold starts, each with its first invocation.
        for _ in 1..self.options.cold_starts {
            let mut instance = self.spawn(function, &binary).await?;
            let first = self
                .invoke(&instance, self.make_event(first_file, first_variant)?)
                .await?;
            instance.cold_start.first_invocation_ms = first.elapsed.as_secs_f64() * 1000.0;
            instance.cold_start.first_invocation_status = first.status;
            cold_starts.push(instance.cold_start.clone());
            stop(&mut instance).await;
        }
        let init = Summary::of_ms(&mut cold_starts.iter().map(|c| c.init_ms).collect::<Vec<_>>());
        let first_invocation = Summary::of_ms(
            &mut cold_starts
                .iter()
                .map(|c| c.first_invocation_ms)
                .collect::<Vec<_>>(),
        );
        eprintln!(
            "   init over {} cold starts: p50 {:.1} ms (min {:.1}, max {:.1}); first invocation p50 {:.1} ms; peak RSS {:.1} MiB",
            init.n,
            init.p50_ms,
            init.min_ms,
            init.max_ms,
            first_invocation.p50_ms,
            peak_rss_kib as f64 / 1024.0
        );
        Ok(FunctionResult {
            function: function.to_owned(),
            binary: binary.display().to_string(),
            binary_bytes,
            cold_starts,
            init,
            first_invocation,
            peak_rss_kib,
            scenarios: results,
        })
    }

    /// Remembers what later events need from an answer: the visitor token and chat id from a
    /// new chat, a cursor from a history page.
    fn learn(&mut self, function: &str, invocation: &Invocation) -> anyhow::Result<()> {
        match function {
            "start-chat" => {
                let body = &invocation.body;
                let (Some(token), Some(chat)) =
                    (body["visitor_token"].as_str(), body["chat"]["id"].as_str())
                else {
                    bail!(
                        "start-chat did not start a chat (status {:?}): {body}",
                        invocation.status
                    );
                };
                self.substitutions.visitor_token = Some(token.to_owned());
                self.substitutions.chat_id = Some(chat.to_owned());
            }
            "chat-history" => {
                if let Some(cursor) = invocation.body["next_cursor"].as_str() {
                    self.substitutions.cursor = Some(cursor.to_owned());
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Keeps only the visitor and chat the later events use (see [`Emulators::compact_table`]).
    async fn compact(&self) -> anyhow::Result<()> {
        let visitor = self
            .substitutions
            .visitor_token
            .as_deref()
            .and_then(shared::domain::visitor::VisitorToken::parse)
            .map(|token| format!("VISITOR#{}", token.key().as_str()));
        let chat = self
            .substitutions
            .chat_id
            .as_deref()
            .map(|chat| format!("CHAT#{chat}"));
        self.emulators
            .compact_table(|item| {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
                let pk = text("pk");
                pk.is_some() && pk == visitor.as_ref()
                    || pk.is_some()
                        && pk == chat.as_ref()
                        && text("sk").map(String::as_str) == Some("CHAT")
            })
            .await
    }

    /// Delivers every webhook of the manifest once, in order, so the recorded resources exist.
    async fn replay_manifest(&self, instance: &Instance, function: &str) -> anyhow::Result<()> {
        for event in self.events.iter().filter(|e| e.entry.function == function) {
            let invocation = self
                .invoke(instance, self.substitutions.apply(&event.text))
                .await?;
            if invocation.status != Some(event.entry.expected_status) {
                eprintln!(
                    "   warning: {} answered {:?}, the manifest expects {}",
                    event.entry.file, invocation.status, event.entry.expected_status
                );
            }
        }
        Ok(())
    }

    async fn scenario(
        &self,
        instance: &Instance,
        file: &str,
        variant: Variant,
        compact_every: Option<usize>,
    ) -> anyhow::Result<ScenarioResult> {
        let recorded = self.event(file)?;
        let control = self.emulators.sim.control();
        control.reset_requests().await?;
        let n = self.options.iterations;
        let mut latency = Vec::with_capacity(n);
        let mut emulator = Vec::with_capacity(n);
        let mut overhead = Vec::with_capacity(n);
        let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
        let mut aws_calls: BTreeMap<String, u64> = BTreeMap::new();
        let mut all_calls: BTreeMap<String, (u64, Duration)> = BTreeMap::new();
        let split_before = procfs::user_and_system(instance.pid);
        let mut cpu = Duration::ZERO;
        let mut cpu_before = procfs::cpu_time(instance.pid).unwrap_or_default();
        for i in 0..n {
            if let Some(every) = compact_every
                && i > 0
                && i % every == 0
            {
                cpu += procfs::cpu_time(instance.pid)
                    .unwrap_or_default()
                    .saturating_sub(cpu_before);
                self.compact().await?;
                cpu_before = procfs::cpu_time(instance.pid).unwrap_or_default();
            }
            let invocation = self
                .invoke(instance, self.make_event(file, variant)?)
                .await?;
            let waited = invocation.aws.upstream + invocation.giosg.upstream;
            latency.push(invocation.elapsed);
            emulator.push(waited);
            overhead.push(invocation.elapsed.saturating_sub(waited));
            let status = match (invocation.kind, invocation.status) {
                (OutcomeKind::Error, _) => "error".to_owned(),
                (_, Some(status)) => status.to_string(),
                (_, None) => "unparsed".to_owned(),
            };
            *statuses.entry(status).or_default() += 1;
            for tally in [&invocation.aws, &invocation.giosg] {
                for (label, took) in &tally.upstream_by_label {
                    let entry = all_calls.entry(label.clone()).or_default();
                    entry.0 += tally.calls.get(label).copied().unwrap_or(0);
                    entry.1 += *took;
                }
            }
            for (operation, count) in invocation.aws.calls {
                *aws_calls.entry(operation).or_default() += count;
            }
        }
        cpu += procfs::cpu_time(instance.pid)
            .unwrap_or_default()
            .saturating_sub(cpu_before);
        let system_cpu_share = split_before
            .zip(procfs::user_and_system(instance.pid))
            .and_then(|((user0, system0), (user1, system1))| {
                let user = user1.saturating_sub(user0).as_secs_f64();
                let system = system1.saturating_sub(system0).as_secs_f64();
                (user + system > 0.0).then(|| system / (user + system))
            });
        let giosg = control.requests().await?;
        let per = |count: u64| count as f64 / n as f64;
        let dynamodb_per_invocation = per(aws_calls
            .iter()
            .filter(|(operation, _)| operation.starts_with("dynamodb:"))
            .map(|(_, count)| count)
            .sum());
        Ok(ScenarioResult {
            scenario: format!("{}{}", recorded.name(), variant.label()),
            file: file.to_owned(),
            invocations: n,
            expected_status: match variant {
                Variant::NewClientMessageId | Variant::NoClientMessageId => 201,
                _ => recorded.entry.expected_status,
            },
            statuses,
            latency: Summary::of(&latency),
            emulator: Summary::of(&emulator),
            overhead: Summary::of(&overhead),
            cpu_ms_per_invocation: cpu.as_secs_f64() * 1000.0 / n as f64,
            system_cpu_share,
            aws_calls: aws_calls.into_iter().map(|(k, v)| (k, per(v))).collect(),
            emulator_ms_per_call: all_calls
                .into_iter()
                .map(|(label, (count, took))| {
                    (label, took.as_secs_f64() * 1000.0 / count.max(1) as f64)
                })
                .collect(),
            dynamodb_per_invocation,
            giosg_calls: giosg
                .counts
                .iter()
                .map(|(endpoint, count)| (endpoint.to_string(), per(*count)))
                .collect(),
            giosg_per_invocation: per(giosg.total),
        })
    }

    /// The environment of a deployed function (template.yaml) pointed at the emulators. Like on
    /// Lambda there is no `HOME`, so no profile file is read.
    fn environment(&self, function: &str, runtime_api: &str) -> Vec<(String, String)> {
        let pairs: Vec<(&str, String)> = vec![
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
            ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                MEMORY_SIZE_MB.to_string(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2025/03/12/[$LATEST]0123456789abcdef0123456789abcdef".into(),
            ),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_rapid".into()),
            ("AWS_REGION", fixed::REGION.into()),
            ("AWS_DEFAULT_REGION", fixed::REGION.into()),
            ("AWS_ACCESS_KEY_ID", "ASIABENCHBENCHBENCH1".into()),
            ("AWS_SECRET_ACCESS_KEY", "bench-secret-access-key".into()),
            ("AWS_SESSION_TOKEN", "bench-session-token".into()),
            ("AWS_ENDPOINT_URL", self.emulators.aws.url()),
            ("_HANDLER", "bootstrap".into()),
            ("LAMBDA_TASK_ROOT", "/var/task".into()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
            ("LANG", "en_US.UTF-8".into()),
            ("TZ", ":UTC".into()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
            ("TABLE_NAME", TABLE_NAME.into()),
            ("GIOSG_BASE_URL", self.emulators.giosg.url()),
            ("GIOSG_ORG_ID", fixed::ORG_ID.into()),
            ("GIOSG_ROOM_ID", fixed::ROOM_ID.into()),
            ("SECRET_ID", self.emulators.secret_id.clone()),
            ("ALLOWED_ORIGINS", "https://www.example.com".into()),
            ("ALLOW_OFFLINE_CHATS", "false".into()),
            ("RETENTION_DAYS", "0".into()),
        ];
        pairs
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .chain(self.options.extra_env.iter().cloned())
            .collect()
    }

    async fn spawn(&self, function: &str, binary: &Path) -> anyhow::Result<Instance> {
        let runtime = RuntimeApi::start(function, TIMEOUT).await?;
        let log_path = self.options.logs_dir.join(format!("{function}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut command = tokio::process::Command::new(binary);
        command
            .env_clear()
            .envs(self.environment(function, &runtime.host_port()))
            .current_dir(binary.parent().unwrap_or(Path::new(".")))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        self.emulators.aws.take();
        self.emulators.giosg.take();
        let spawned = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("the function exited at once")?;
        let first_next = tokio::select! {
            first = runtime.first_next(Duration::from_secs(30)) => first?,
            status = child.wait() => bail!(
                "{function} exited during init ({}); see {}",
                status?,
                log_path.display()
            ),
        };
        let rss_after_init_kib = procfs::memory(pid).map_or(0, |m| m.rss_kib);
        let init_aws_calls = self.emulators.aws.take().calls;
        Ok(Instance {
            child,
            pid,
            runtime,
            cold_start: ColdStart {
                init_ms: (first_next - spawned).as_secs_f64() * 1000.0,
                rss_after_init_kib,
                init_aws_calls,
                first_invocation_ms: 0.0,
                first_invocation_status: None,
            },
        })
    }

    async fn invoke(&self, instance: &Instance, event: String) -> anyhow::Result<Invocation> {
        self.emulators.aws.take();
        self.emulators.giosg.take();
        let outcome = instance.runtime.invoke(Bytes::from(event)).await?;
        let aws = self.emulators.aws.take();
        let giosg = self.emulators.giosg.take();
        let answer: Value = serde_json::from_slice(&outcome.body).unwrap_or(Value::Null);
        let status = answer["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok());
        let body = answer["body"]
            .as_str()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        Ok(Invocation {
            elapsed: outcome.elapsed,
            kind: outcome.kind,
            status,
            body,
            aws,
            giosg,
        })
    }
}

async fn stop(instance: &mut Instance) {
    let _ = instance.child.start_kill();
    let _ = instance.child.wait().await;
}
