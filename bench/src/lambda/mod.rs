//! The Lambda benchmark: each function's real release binary started as Lambda starts it (a
//! clean environment, `AWS_LAMBDA_RUNTIME_API` pointing at
//! [`RuntimeApi`](crate::runtime_api::RuntimeApi)), fed the recorded events, with DynamoDB and
//! Secrets Manager on moto and Giosg on the simulator, each behind a counting proxy.
//!
//! This module owns the options, the order of the functions and, per function, the run of one
//! instance through its cold start and warm scenarios plus the extra cold starts:
//! - [`scenario`]: which events each function is fed, and how an event is varied per invocation;
//! - [`process`]: starting a function process behind its Runtime API, and invoking it;
//! - [`measure`]: one warm scenario, timed and counted;
//! - [`results`]: what is measured, as written to the results JSON.

pub mod cold;
mod measure;
mod process;
mod results;
mod scenario;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use anyhow::{Context as _, bail};

use crate::emulators::{self, Emulators};
use crate::events::{self, RecordedEvent, Substitutions};
use crate::procfs;
use crate::stats::Summary;

use process::{Instance, Invocation, stop};
pub use results::FunctionResult;

/// The functions, in the order they are measured (start-chat makes the visitor and chat the
/// others need).
pub const FUNCTIONS: [&str; 4] = [
    "start-chat",
    "send-message",
    "chat-history",
    "giosg-webhooks",
];

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
    /// How the processes are started: as today (the defaults) or as on Lambda (`bench cold`).
    pub launch: Launch,
}

/// What `bench cold --mode lambda` changes in how a function process is started: environment
/// that points it at the TLS fronts and names the test CA, and the cgroup limits.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// Added to (and overriding) the deployed function's environment.
    pub env: Vec<(String, String)>,
    /// The CPU share and memory the process is held to; none: the whole machine.
    pub limits: Option<crate::cgroup::Limits>,
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

    fn event(&self, file: &str) -> anyhow::Result<&RecordedEvent> {
        self.events
            .iter()
            .find(|e| e.entry.file == file)
            .with_context(|| format!("{file} is not in events/manifest.json"))
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
        self.prepare(function, HISTORY_MESSAGES).await?;
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

    /// What a function's events need before its first cold start: `chat-history` reads a chat of
    /// [`HISTORY_MESSAGES`] messages (`bench cold`: `messages`).
    async fn prepare(&mut self, function: &str, messages: u64) -> anyhow::Result<()> {
        if function == "chat-history" {
            let (token, chat) =
                emulators::prepare_history_chat(self.emulators, &self.events, messages).await?;
            self.substitutions.visitor_token = Some(token);
            self.substitutions.chat_id = Some(chat);
        }
        Ok(())
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
        self.compact_keeping(&self.substitutions, &[]).await
    }

    /// Keeps `current`'s visitor and chat item, and every item of the `partitions` named.
    async fn compact_keeping(
        &self,
        current: &Substitutions,
        partitions: &[String],
    ) -> anyhow::Result<()> {
        let visitor = current
            .visitor_token
            .as_deref()
            .and_then(shared::domain::visitor::VisitorToken::parse)
            .map(|token| format!("VISITOR#{}", token.key().as_str()));
        let chat = current
            .chat_id
            .as_deref()
            .map(|chat| format!("CHAT#{chat}"));
        self.emulators
            .compact_table(|item| {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
                let pk = text("pk");
                pk.is_some_and(|pk| partitions.contains(pk))
                    || pk.is_some() && pk == visitor.as_ref()
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
}
