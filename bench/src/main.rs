//! `bench`: measures the chat bridge (see docs/performance.md).
//!
//! - `bench lambda`: the four functions' release binaries behind an emulated Lambda Runtime API,
//!   with moto and the Giosg simulator behind counting proxies: init, first and warm invocations,
//!   peak RSS, DynamoDB and Giosg round trips.
//! - `bench load`: the local HTTP server (the shared handlers, in-memory store) under load.
//! - `bench all`: both, one JSON document and one set of tables.
//! - `bench reconcile`: one reconciler run over 10, 100, 1,000 active chats.
//! - `bench realtime`: a chat's delivery to its visitor, polling against push: DynamoDB units,
//!   invocations, frames, and the price per 1M visitor messages.
//!
//! Timing belongs here, never in tests: nothing in this crate asserts a duration.

mod cgroup;
mod emulators;
mod events;
mod lambda;
mod load;
mod local_server;
mod procfs;
mod proxy;
mod realtime;
mod reconcile;
mod report;
mod runtime_api;
mod stats;
mod tls;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Benchmarks of the Giosg chat bridge (docs/performance.md)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The Lambda functions behind an emulated Runtime API.
    Lambda {
        #[command(flatten)]
        lambda: LambdaArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// The local HTTP server under load.
    Load {
        #[command(flatten)]
        load: LoadArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Both.
    All {
        #[command(flatten)]
        lambda: LambdaArgs,
        #[command(flatten)]
        load: LoadArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// One reconciler run over N active chats (moto and the simulator in process).
    Reconcile {
        /// Active chat counts to measure.
        #[arg(long, value_delimiter = ',', default_value = "10,100,1000")]
        chats: Vec<usize>,
        /// Chats reconciled at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// The moto_server executable (default: .venv/bin/moto_server, then PATH).
        #[arg(long)]
        moto_server: Option<PathBuf>,
        /// Where the rows are written as JSON.
        #[arg(long, default_value = "target/bench/reconcile.json")]
        out: PathBuf,
    },
    /// A chat's delivery to its visitor, polling against push, counted and priced.
    Realtime {
        /// The moto_server executable (default: .venv/bin/moto_server, then PATH).
        #[arg(long)]
        moto_server: Option<PathBuf>,
        /// Where the report is written as JSON.
        #[arg(long, default_value = "target/bench/realtime.json")]
        out: PathBuf,
    },
    /// Cold starts against a hello-world floor, plain and as on Lambda (TLS, a 128 MB CPU share).
    Cold {
        /// Where the function binaries are: `<dir>/<function>/bootstrap` or `<dir>/<function>`.
        #[arg(long, default_value = "target/lambda/x86_64")]
        functions_dir: PathBuf,
        /// Only these functions (repeatable); hello-world always runs.
        #[arg(long = "function")]
        functions: Vec<String>,
        /// `plain` (as `bench lambda`), `lambda` (TLS, cgroup limits), or both.
        #[arg(long, value_delimiter = ',', default_value = "plain,lambda")]
        modes: Vec<String>,
        /// Cold starts per function and mode.
        #[arg(long, default_value_t = 20)]
        cold_starts: usize,
        /// Warm invocations of the first request, on the first instance.
        #[arg(long, default_value_t = 50)]
        warm: usize,
        /// The function's memory setting, MB: the memory limit and, unless --cpu-share, the CPU
        /// share (memory ÷ 1,769 MB of one CPU).
        #[arg(long, default_value_t = 128)]
        memory_mb: u64,
        /// The share of one CPU (0..1], instead of the one the memory setting gives.
        #[arg(long)]
        cpu_share: Option<f64>,
        /// The period the CPU share is enforced over, microseconds.
        #[arg(long, default_value_t = 20_000)]
        cpu_period_us: u64,
        /// Put the system's roots in `SSL_CERT_FILE` before the test CA: for bootstraps that
        /// trust that file in place of their own roots (those built before `shared::tls`), so
        /// they parse as many roots as they would on Lambda. Without it the file holds the test
        /// CA alone, which `shared::tls` adds to its built-in roots.
        #[arg(long)]
        system_roots: bool,
        /// Extra environment for the function processes (repeatable).
        #[arg(long = "env", value_parser = parse_pair)]
        env: Vec<(String, String)>,
        /// The moto_server executable (default: .venv/bin/moto_server, then PATH).
        #[arg(long)]
        moto_server: Option<PathBuf>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Prints the tables of a results file (of `lambda`, `load`, `all` or `cold`).
    Report { file: PathBuf },
    /// Serves the shared handlers with the in-memory store (the process `load` measures).
    #[command(hide = true)]
    LocalServer {
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

#[derive(Args)]
struct LambdaArgs {
    /// Where the function binaries are: `<dir>/<function>/bootstrap` or `<dir>/<function>`.
    #[arg(long, default_value = "target/lambda/x86_64")]
    functions_dir: PathBuf,
    /// Only these functions (repeatable); all four by default.
    #[arg(long = "function")]
    functions: Vec<String>,
    /// Run this binary for every function instead (e.g. target/release/function-experiment).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Extra environment for the function processes (repeatable), e.g.
    /// `EXPERIMENT_RUNTIME=multi_thread`.
    #[arg(long = "env", value_parser = parse_pair)]
    env: Vec<(String, String)>,
    /// Warm invocations per event.
    #[arg(long, default_value_t = 1000)]
    iterations: usize,
    /// Cold starts per function.
    #[arg(long, default_value_t = 10)]
    cold_starts: usize,
    /// Samples of the emulators' own latency.
    #[arg(long, default_value_t = 500)]
    emulator_samples: usize,
    /// The moto_server executable (default: .venv/bin/moto_server, then PATH).
    #[arg(long)]
    moto_server: Option<PathBuf>,
}

#[derive(Args)]
struct LoadArgs {
    /// The server to load: `local-runner` (target/release/local-runner, next to this binary)
    /// or `builtin` (this binary's own server: the same router and in-memory store).
    #[arg(long, default_value = "local-runner")]
    server: String,
    /// Connection counts to run each load scenario at.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    connections: Vec<usize>,
    /// Distinct message `added` webhooks per run.
    #[arg(long, default_value_t = 2000)]
    webhooks: usize,
    /// History reads per run.
    #[arg(long, default_value_t = 1000)]
    history_reads: usize,
    /// Messages in the chat whose history is read.
    #[arg(long, default_value_t = 200)]
    history_messages: usize,
    /// `limit` of each history read (the API's maximum page is 100).
    #[arg(long, default_value_t = 100)]
    history_limit: usize,
}

#[derive(Args)]
struct OutputArgs {
    /// The recorded events.
    #[arg(long, default_value = "events")]
    events: PathBuf,
    /// Where the results JSON is written.
    #[arg(long, default_value = "target/bench/results.json")]
    out: PathBuf,
    /// A name for this run in the results (e.g. the release profile tried).
    #[arg(long, default_value = "default")]
    label: String,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, got {text}"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::LocalServer { port } => local_server::serve(port).await,
            Command::Reconcile {
                chats,
                concurrency,
                moto_server,
                out,
            } => {
                let rows = reconcile::measure(&chats, concurrency, moto_server).await?;
                print!("{}", reconcile::table(&rows));
                if let Some(dir) = out.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&out, serde_json::to_string_pretty(&rows)?)?;
                Ok(())
            }
            Command::Realtime { moto_server, out } => {
                let report = realtime::measure(moto_server).await?;
                let text = serde_json::to_string_pretty(&report)?;
                println!("{text}");
                if let Some(dir) = out.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&out, text)?;
                Ok(())
            }
            Command::Report { file } => {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let results: serde_json::Value = serde_json::from_str(&text)?;
                if results.get("modes").is_some() {
                    let cold: lambda::cold::Report = serde_json::from_value(results)?;
                    for mode in &cold.modes {
                        print!("{}", lambda::cold::table(mode));
                    }
                    return Ok(());
                }
                print!("{}", report::tables(&serde_json::from_value(results)?));
                Ok(())
            }
            Command::Cold {
                functions_dir,
                functions,
                modes,
                cold_starts,
                warm,
                memory_mb,
                cpu_share,
                cpu_period_us,
                system_roots,
                env,
                moto_server,
                output,
            } => {
                let share = cpu_share.unwrap_or(memory_mb as f64 / cgroup::MB_PER_VCPU);
                anyhow::ensure!(
                    share > 0.0 && share <= 1.0,
                    "the CPU share must be in (0, 1], not {share}"
                );
                let out_dir = output.out.parent().unwrap_or(std::path::Path::new("."));
                let plan = lambda::cold::Plan {
                    functions: if functions.is_empty() {
                        lambda::FUNCTIONS.iter().map(|f| (*f).to_owned()).collect()
                    } else {
                        functions
                    },
                    modes,
                    cold_starts: cold_starts.max(1),
                    warm,
                    limits: cgroup::Limits {
                        cpu_share: share,
                        period_us: cpu_period_us,
                        memory_mb,
                    },
                    system_roots,
                    // Beside the logs, never next to a results file kept in docs/.
                    ca_file: PathBuf::from("target/bench/tls/ssl-cert-file.pem"),
                };
                let mut options = lambda::Options {
                    functions_dir,
                    binary: None,
                    extra_env: env,
                    functions: plan.functions.clone(),
                    events_dir: output.events.clone(),
                    iterations: warm,
                    cold_starts: plan.cold_starts,
                    logs_dir: PathBuf::from("target/bench/logs"),
                    launch: lambda::Launch::default(),
                };
                std::fs::create_dir_all(&options.logs_dir)?;
                eprintln!("starting moto and the Giosg simulator");
                let mut emulators = emulators::Emulators::start(moto_server).await?;
                let report = lambda::cold::Report {
                    label: output.label.clone(),
                    started_at: chrono::Utc::now()
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    git_revision: report::git_revision(),
                    load_average_before: report::load_average(),
                    modes: lambda::cold::run(&mut emulators, &mut options, &plan).await?,
                    load_average_after: report::load_average(),
                };
                std::fs::create_dir_all(out_dir)?;
                std::fs::write(&output.out, serde_json::to_string_pretty(&report)?)
                    .with_context(|| format!("writing {}", output.out.display()))?;
                eprintln!("results written to {}", output.out.display());
                Ok(())
            }
            Command::Lambda { lambda, output } => run(Some(lambda), None, output).await,
            Command::Load { load, output } => run(None, Some(load), output).await,
            Command::All {
                lambda,
                load,
                output,
            } => run(Some(lambda), Some(load), output).await,
        }
    })
}

async fn run(
    lambda: Option<LambdaArgs>,
    load: Option<LoadArgs>,
    output: OutputArgs,
) -> anyhow::Result<()> {
    let logs_dir = output
        .out
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("logs");
    let mut results = report::Results {
        meta: report::Meta {
            label: output.label.clone(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            git_revision: report::git_revision(),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            load_average_before: report::load_average(),
            load_average_after: String::new(),
            iterations: lambda.as_ref().map_or(0, |l| l.iterations),
            cold_starts: lambda.as_ref().map_or(0, |l| l.cold_starts),
        },
        emulators: None,
        functions: Vec::new(),
        load: Vec::new(),
    };
    if let Some(args) = lambda {
        eprintln!("starting moto and the Giosg simulator");
        let emulators = emulators::Emulators::start(args.moto_server.clone()).await?;
        eprintln!("measuring the emulators' own latency");
        results.emulators = Some(emulators.own_latency(args.emulator_samples).await?);
        let options = lambda::Options {
            functions_dir: args.functions_dir,
            binary: args.binary,
            extra_env: args.env,
            functions: if args.functions.is_empty() {
                lambda::FUNCTIONS.iter().map(|f| (*f).to_owned()).collect()
            } else {
                args.functions
            },
            events_dir: output.events.clone(),
            iterations: args.iterations,
            cold_starts: args.cold_starts.max(1),
            logs_dir: logs_dir.clone(),
            launch: lambda::Launch::default(),
        };
        results.functions = lambda::LambdaBench::new(&emulators, &options)?
            .run()
            .await?;
    }
    if let Some(args) = load {
        eprintln!("== local server under load");
        let server = match args.server.as_str() {
            "builtin" => load::ServerKind::Builtin,
            "local-runner" => load::ServerKind::LocalRunner(
                std::env::current_exe()?
                    .parent()
                    .context("no directory")?
                    .join("local-runner"),
            ),
            path => load::ServerKind::LocalRunner(PathBuf::from(path)),
        };
        results.load = load::run(&load::Options {
            server,
            events_dir: output.events.clone(),
            connections: args.connections,
            webhooks: args.webhooks,
            history_reads: args.history_reads,
            history_messages: args.history_messages,
            history_limit: args.history_limit,
            logs_dir,
        })
        .await?;
    }
    results.meta.load_average_after = report::load_average();
    if let Some(dir) = output.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&output.out, serde_json::to_string_pretty(&results)?)
        .with_context(|| format!("writing {}", output.out.display()))?;
    println!("{}", report::tables(&results));
    eprintln!("results written to {}", output.out.display());
    Ok(())
}
