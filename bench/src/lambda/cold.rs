//! `bench cold`: cold starts as Lambda sees them, each function against a hello-world floor
//! measured in the same run under the same conditions.
//!
//! Two modes: `plain` starts the bootstraps as `bench lambda` does (plain HTTP to the emulators,
//! the whole machine), `lambda` as a deployed 128 MB function runs: TLS in front of every
//! emulator (a test CA the process trusts through `SSL_CERT_FILE`), one host per AWS service,
//! and the process in a cgroup held to 128/1,769 of one CPU and 128 MiB. The functions take
//! turns, round by round (hello-world, start-chat, ..., then again), so a drift of the
//! machine's speed during the run touches every function alike; the ratios to hello-world in
//! one mode of one run are the figures to compare, not the milliseconds.
//!
//! Per function and mode: init (process start to its first `GET /next`), the first invocation
//! (the caller's request on a cold start), the caller's wait (the two together, per cold start),
//! the same request warm (`--warm` invocations on the first instance), and the TLS handshakes in
//! init and in the first invocation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::LambdaBench;
use super::process::stop;
use super::results::ColdStart;
use crate::cgroup::Limits;
use crate::stats::Summary;

/// Messages in the chat `chat-history` reads a page of 20 from: fewer than `bench lambda`'s 200,
/// as every transaction costs moto a copy of the whole table and this chat stays all run.
const HISTORY_MESSAGES: u64 = 50;

/// The floor every function is compared with.
pub const HELLO_WORLD: &str = "hello-world";

/// One function in one mode.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColdFunction {
    pub function: String,
    pub binary_bytes: u64,
    /// The event of every first invocation, and of the warm ones.
    pub first_event: String,
    pub cold_starts: Vec<ColdStart>,
    pub init: Summary,
    pub first_invocation: Summary,
    /// Init plus the first invocation, per cold start: what the caller waits on a cold start.
    pub caller_wait: Summary,
    /// The first event again on a warm instance.
    pub warm: Summary,
    /// The same less the time spent waiting for the emulators ("own" time): moto and the
    /// simulator are slower and noisier than DynamoDB and Giosg, so the ratios are taken on the
    /// function's own time (TLS handshakes included: they are the function's CPU).
    pub init_own: Summary,
    pub first_invocation_own: Summary,
    pub caller_wait_own: Summary,
    pub warm_own: Summary,
    /// CPU time used in init and in the first invocation (the process's, from `/proc`).
    #[serde(default)]
    pub init_cpu: Summary,
    #[serde(default)]
    pub first_invocation_cpu: Summary,
    /// Statuses of every invocation (first and warm).
    pub statuses: BTreeMap<String, u64>,
}

/// One mode of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColdMode {
    pub mode: String,
    /// The CPU share and memory of `lambda` mode.
    pub limits: Option<Limits>,
    /// What `SSL_CERT_FILE` held: the test CA alone, or the system's roots and the test CA.
    pub ssl_cert_file: Option<String>,
    pub functions: Vec<ColdFunction>,
}

/// A `bench cold` run, as written to its JSON file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub label: String,
    pub started_at: String,
    pub git_revision: String,
    pub load_average_before: String,
    pub modes: Vec<ColdMode>,
    pub load_average_after: String,
}

/// How [`LambdaBench::cold_round`] accumulates a function over the rounds.
#[derive(Default)]
pub struct Accumulated {
    cold_starts: Vec<ColdStart>,
    warm: Vec<std::time::Duration>,
    warm_own: Vec<std::time::Duration>,
    statuses: BTreeMap<String, u64>,
    binary_bytes: u64,
    first_event: String,
    /// The function's own placeholders (chat-history's chat), kept apart from the others'.
    substitutions: Option<crate::events::Substitutions>,
}

impl LambdaBench<'_> {
    /// Readies the events of `functions`: the chat `chat-history` reads, whose visitor and
    /// chat that function then keeps (`into`), whatever chats start-chat makes meanwhile.
    pub async fn prepare_cold(
        &mut self,
        functions: &[String],
        into: &mut [Accumulated],
    ) -> anyhow::Result<()> {
        for (function, into) in functions.iter().zip(into) {
            self.prepare(function, HISTORY_MESSAGES).await?;
            if function == "chat-history" {
                into.substitutions = Some(self.substitutions.clone());
            }
        }
        Ok(())
    }

    /// Empties the table but for what the next round needs (moto copies the whole table on
    /// every transaction, so its latency and memory grow with it): the chat `chat-history`
    /// reads, with its visitor, the latest chat start-chat made and its visitor, and the
    /// visitor start-chat keeps for reading availability.
    pub async fn compact_cold(&self, accumulated: &[Accumulated]) -> anyhow::Result<()> {
        let mut partitions = vec![format!(
            "VISITOR#{}",
            shared::domain::visitor::VisitorToken::for_service_visitor(
                &shared::secret::Secret::new(self.emulators.sim.api_token())
            )
            .key()
            .as_str()
        )];
        for substitutions in accumulated.iter().filter_map(|a| a.substitutions.as_ref()) {
            if let Some(chat) = &substitutions.chat_id {
                partitions.push(format!("CHAT#{chat}"));
            }
            if let Some(token) = substitutions
                .visitor_token
                .as_deref()
                .and_then(shared::domain::visitor::VisitorToken::parse)
            {
                partitions.push(format!("VISITOR#{}", token.key().as_str()));
            }
        }
        self.compact_keeping(&self.substitutions, &partitions).await
    }

    /// One cold start of `function` and its first invocation; on the first round also `warm`
    /// invocations of the same event on that instance.
    pub async fn cold_round(
        &mut self,
        function: &str,
        warm: usize,
        first_round: bool,
        into: &mut Accumulated,
    ) -> anyhow::Result<()> {
        let binary = self.binary(function);
        into.binary_bytes = std::fs::metadata(&binary)
            .map_err(|e| {
                anyhow::anyhow!(
                    "{}: {e}; build the functions first (scripts/bench cold does)",
                    binary.display()
                )
            })?
            .len();
        let (first_file, variant, _) = self.plan(function);
        into.first_event = format!("{first_file}{}", variant.label());
        if let Some(own) = &mut into.substitutions {
            std::mem::swap(own, &mut self.substitutions);
        }
        let result = self
            .cold_instance(
                function,
                &binary,
                (first_file, variant),
                warm,
                first_round,
                into,
            )
            .await;
        if let Some(own) = &mut into.substitutions {
            std::mem::swap(own, &mut self.substitutions);
        }
        result
    }

    async fn cold_instance(
        &mut self,
        function: &str,
        binary: &std::path::Path,
        (first_file, variant): (&'static str, super::scenario::Variant),
        warm: usize,
        first_round: bool,
        into: &mut Accumulated,
    ) -> anyhow::Result<()> {
        let mut instance = self.spawn(function, binary).await?;
        let first = self
            .invoke(&instance, self.make_event(first_file, variant)?)
            .await?;
        instance.cold_start.first_invocation_ms = first.elapsed.as_secs_f64() * 1000.0;
        instance.cold_start.first_invocation_status = first.status;
        instance.cold_start.first_invocation_tls_handshakes = first.tls_handshakes;
        instance.cold_start.first_invocation_cpu_ms = crate::procfs::cpu_time(instance.pid)
            .map_or(0.0, |cpu| cpu.as_secs_f64() * 1000.0)
            - instance.cold_start.init_cpu_ms;
        instance.cold_start.first_invocation_emulator_ms =
            (first.aws.upstream + first.giosg.upstream).as_secs_f64() * 1000.0;
        *into.statuses.entry(status_label(first.status)).or_default() += 1;
        self.learn(function, &first)?;
        if first_round {
            for _ in 0..warm {
                let invocation = self
                    .invoke(&instance, self.make_event(first_file, variant)?)
                    .await?;
                *into
                    .statuses
                    .entry(status_label(invocation.status))
                    .or_default() += 1;
                into.warm.push(invocation.elapsed);
                into.warm_own.push(
                    invocation
                        .elapsed
                        .saturating_sub(invocation.aws.upstream + invocation.giosg.upstream),
                );
            }
        }
        let throttled = instance
            .cgroup
            .as_ref()
            .and_then(crate::cgroup::Cgroup::throttled_periods);
        stop(&mut instance).await;
        eprintln!(
            "   {function:<16} init {:>7.1} ms (CPU {:.2} ms, {} TLS)  first invocation {:>7.1} ms (CPU {:.2} ms, {} TLS, {:?}){}",
            instance.cold_start.init_ms,
            instance.cold_start.init_cpu_ms,
            instance.cold_start.init_tls_handshakes,
            instance.cold_start.first_invocation_ms,
            instance.cold_start.first_invocation_cpu_ms,
            instance.cold_start.first_invocation_tls_handshakes,
            first.status,
            throttled.map_or(String::new(), |n| format!("  throttled in {n} periods")),
        );
        into.cold_starts.push(instance.cold_start);
        Ok(())
    }
}

fn status_label(status: Option<u16>) -> String {
    status.map_or_else(|| "none".to_owned(), |s| s.to_string())
}

impl Accumulated {
    pub fn finish(mut self, function: &str) -> ColdFunction {
        let ms = |f: &dyn Fn(&ColdStart) -> f64| -> Summary {
            Summary::of_ms(&mut self.cold_starts.iter().map(f).collect::<Vec<_>>())
        };
        let init = ms(&|c| c.init_ms);
        let first_invocation = ms(&|c| c.first_invocation_ms);
        let caller_wait = ms(&|c| c.init_ms + c.first_invocation_ms);
        let init_own = ms(&|c| c.init_ms - c.init_emulator_ms);
        let first_invocation_own = ms(&|c| c.first_invocation_ms - c.first_invocation_emulator_ms);
        let caller_wait_own = ms(&|c| {
            c.init_ms + c.first_invocation_ms - c.init_emulator_ms - c.first_invocation_emulator_ms
        });
        ColdFunction {
            function: function.to_owned(),
            binary_bytes: self.binary_bytes,
            first_event: self.first_event,
            init,
            first_invocation,
            caller_wait,
            warm: Summary::of(&self.warm),
            init_own,
            first_invocation_own,
            caller_wait_own,
            warm_own: Summary::of(&self.warm_own),
            init_cpu: ms(&|c| c.init_cpu_ms),
            first_invocation_cpu: ms(&|c| c.first_invocation_cpu_ms),
            statuses: std::mem::take(&mut self.statuses),
            cold_starts: self.cold_starts,
        }
    }
}

/// The ratios the targets are stated in, for one function against the floor of its mode, on
/// the functions' own time (see [`ColdFunction::init_own`]).
#[derive(Clone, Copy, Debug)]
pub struct Ratios {
    /// own init p50 ÷ hello-world's init p50.
    pub init: f64,
    /// own first invocation p50 ÷ hello-world's.
    pub first: f64,
    /// own warm p50 ÷ hello-world's warm p50.
    pub warm: f64,
    /// own caller's wait p50 ÷ (hello-world's init p50 + the function's own warm p50 of that
    /// request).
    pub caller_wait: f64,
}

impl Ratios {
    pub fn of(function: &ColdFunction, hello: &ColdFunction) -> Self {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        Self {
            init: ratio(function.init_own.p50_ms, hello.init_own.p50_ms),
            first: ratio(
                function.first_invocation_own.p50_ms,
                hello.first_invocation_own.p50_ms,
            ),
            warm: ratio(function.warm_own.p50_ms, hello.warm_own.p50_ms),
            caller_wait: ratio(
                function.caller_wait_own.p50_ms,
                hello.init_own.p50_ms + function.warm_own.p50_ms,
            ),
        }
    }
}

/// The Markdown table of one mode.
pub fn table(mode: &ColdMode) -> String {
    let mut out = format!(
        "\n#### Cold starts, mode `{}`{}\n\n",
        mode.mode,
        mode.limits.map_or(String::new(), |l| format!(
            " ({:.1}% of one CPU over {} ms periods, {} MiB; SSL_CERT_FILE: {})",
            l.cpu_share * 100.0,
            l.period_us / 1000,
            l.memory_mb,
            mode.ssl_cert_file.as_deref().unwrap_or("unset"),
        ))
    );
    out.push_str(
        "Own time: less the time waiting for moto and the simulator (measured at their proxies; \
         raw figures in the JSON). Ratios are to hello-world in this mode of this run.\n\n\
         | function | n | init p50 / p90 | own init p50 | own first invocation p50 | own warm p50 | own caller's wait p50 | CPU init + first p50 | TLS handshakes init + first | ÷ hello: init | first | warm | wait ÷ (hello init + warm) |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    let hello = mode.functions.iter().find(|f| f.function == HELLO_WORLD);
    for function in &mode.functions {
        let ratios = hello.map(|hello| Ratios::of(function, hello));
        let handshakes = |f: &dyn Fn(&ColdStart) -> u64| {
            let total: u64 = function.cold_starts.iter().map(f).sum();
            total as f64 / function.cold_starts.len().max(1) as f64
        };
        let fmt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.2}×"));
        out.push_str(&format!(
            "| {} | {} | {:.1} / {:.1} ms | {:.1} ms | {:.1} ms | {:.2} ms | {:.1} ms | {:.2} + {:.2} ms | {:.1} + {:.1} | {} | {} | {} | {} |\n",
            function.function,
            function.init.n,
            function.init.p50_ms,
            function.init.p90_ms,
            function.init_own.p50_ms,
            function.first_invocation_own.p50_ms,
            function.warm_own.p50_ms,
            function.caller_wait_own.p50_ms,
            function.init_cpu.p50_ms,
            function.first_invocation_cpu.p50_ms,
            handshakes(&|c| c.init_tls_handshakes),
            handshakes(&|c| c.first_invocation_tls_handshakes),
            fmt(ratios.map(|r| r.init)),
            fmt(ratios.map(|r| r.first)),
            fmt(ratios.map(|r| r.warm)),
            fmt(ratios.map(|r| r.caller_wait)),
        ));
    }
    out
}

/// What `bench cold` is asked to do.
pub struct Plan {
    pub functions: Vec<String>,
    pub modes: Vec<String>,
    pub cold_starts: usize,
    pub warm: usize,
    pub limits: Limits,
    /// `SSL_CERT_FILE` with the system's roots before the test CA.
    pub system_roots: bool,
    /// Where the CA file is written.
    pub ca_file: std::path::PathBuf,
}

/// Runs every mode of `plan`: hello-world and each function, round by round.
pub async fn run(
    emulators: &mut crate::emulators::Emulators,
    options: &mut super::Options,
    plan: &Plan,
) -> anyhow::Result<Vec<ColdMode>> {
    let mut functions = vec![HELLO_WORLD.to_owned()];
    functions.extend(plan.functions.iter().filter(|f| *f != HELLO_WORLD).cloned());
    let mut modes = Vec::new();
    for mode in &plan.modes {
        let (launch, ssl_cert_file) = match mode.as_str() {
            "plain" => {
                emulators.stop_tls();
                (super::Launch::default(), None)
            }
            "lambda" => {
                let ca = crate::tls::TestCa::generate()?;
                ca.write_bundle(&plan.ca_file, plan.system_roots)?;
                let mut env = emulators.serve_tls(&ca).await?;
                env.push((
                    "SSL_CERT_FILE".to_owned(),
                    std::fs::canonicalize(&plan.ca_file)?.display().to_string(),
                ));
                let described = if plan.system_roots {
                    "the system's roots and the test CA"
                } else {
                    "the test CA"
                };
                (
                    super::Launch {
                        env,
                        limits: Some(plan.limits),
                    },
                    Some(described.to_owned()),
                )
            }
            other => anyhow::bail!("unknown mode {other}: plain or lambda"),
        };
        options.launch = launch;
        eprintln!("== mode {mode}");
        let mut bench = LambdaBench::new(emulators, options)?;
        let mut accumulated: Vec<Accumulated> =
            functions.iter().map(|_| Accumulated::default()).collect();
        bench.prepare_cold(&functions, &mut accumulated).await?;
        for round in 0..plan.cold_starts {
            if round > 0 {
                bench.compact_cold(&accumulated).await?;
            }
            eprintln!("-- round {}/{}", round + 1, plan.cold_starts);
            for (function, into) in functions.iter().zip(&mut accumulated) {
                bench
                    .cold_round(function, plan.warm, round == 0, into)
                    .await?;
            }
        }
        let result = ColdMode {
            mode: mode.clone(),
            limits: (mode == "lambda").then_some(plan.limits),
            ssl_cert_file,
            functions: functions
                .iter()
                .zip(accumulated)
                .map(|(function, accumulated)| accumulated.finish(function))
                .collect(),
        };
        print!("{}", table(&result));
        modes.push(result);
    }
    emulators.stop_tls();
    Ok(modes)
}
