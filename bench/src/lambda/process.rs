//! Running a function process as Lambda runs it: where its binary is, the environment of a
//! deployed function pointed at the emulators, the start (timed until its first `GET /next`),
//! each invocation through its Runtime API with the emulators' tallies, and the stop.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use serde_json::Value;

use super::LambdaBench;
use super::results::ColdStart;
use crate::emulators::{TABLE_NAME, fixed};
use crate::procfs;
use crate::proxy::Tally;
use crate::runtime_api::{OutcomeKind, RuntimeApi};

/// The memory size and timeout the SAM template gives the functions.
const MEMORY_SIZE_MB: u64 = 128;
const TIMEOUT: Duration = Duration::from_secs(10);

/// One function process and its Runtime API.
pub(super) struct Instance {
    pub(super) child: tokio::process::Child,
    pub(super) pid: u32,
    pub(super) runtime: RuntimeApi,
    pub(super) cold_start: ColdStart,
    /// The limits it runs under (`bench cold --mode lambda`), removed after it exits.
    pub(super) cgroup: Option<crate::cgroup::Cgroup>,
}

pub(super) struct Invocation {
    pub(super) elapsed: Duration,
    pub(super) kind: OutcomeKind,
    pub(super) status: Option<u16>,
    pub(super) body: Value,
    pub(super) aws: Tally,
    pub(super) giosg: Tally,
    /// TLS handshakes the emulators' fronts completed meanwhile (`--mode lambda`).
    pub(super) tls_handshakes: u64,
}

impl LambdaBench<'_> {
    pub(super) fn binary(&self, function: &str) -> PathBuf {
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

    /// The environment of a deployed function (template.yaml) pointed at the emulators. Like on
    /// Lambda there is no `HOME`, so no profile file is read.
    fn environment(&self, function: &str, runtime_api: &str) -> Vec<(String, String)> {
        let pairs: Vec<(&str, String)> = vec![
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
            ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                self.options
                    .launch
                    .limits
                    .map_or(MEMORY_SIZE_MB, |limits| limits.memory_mb)
                    .to_string(),
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
            // The limits off: the bench repeats one visitor and one source address far faster
            // than any person (its warm loops would be refused with 429 after the burst).
            ("SEND_RATE_PER_MINUTE", "0".into()),
            ("START_RATE_PER_MINUTE", "0".into()),
            ("ANONYMOUS_START_RATE_PER_MINUTE", "0".into()),
            ("ANONYMOUS_START_TOTAL_RATE_PER_MINUTE", "0".into()),
        ];
        pairs
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .chain(self.options.launch.env.iter().cloned())
            .chain(self.options.extra_env.iter().cloned())
            .collect()
    }

    pub(super) async fn spawn(&self, function: &str, binary: &Path) -> anyhow::Result<Instance> {
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
        let cgroup = match &self.options.launch.limits {
            Some(limits) => {
                let name = format!("giosg-bench-{}-{function}", std::process::id());
                Some(crate::cgroup::Cgroup::create(&name, limits)?)
            }
            None => None,
        };
        if let Some(cgroup) = &cgroup {
            let fds = cgroup.fds();
            // SAFETY: the closure only writes to descriptors opened before the fork.
            unsafe {
                command.pre_exec(move || crate::cgroup::Cgroup::join_in_child(&fds));
            }
        }
        self.emulators.aws.take();
        self.emulators.giosg.take();
        self.emulators.take_handshakes();
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
        let init_cpu_ms = procfs::cpu_time(pid).map_or(0.0, |cpu| cpu.as_secs_f64() * 1000.0);
        let init_aws = self.emulators.aws.take();
        let init_giosg = self.emulators.giosg.take();
        let init_tls_handshakes = self.emulators.take_handshakes();
        Ok(Instance {
            child,
            pid,
            runtime,
            cold_start: ColdStart {
                init_ms: (first_next - spawned).as_secs_f64() * 1000.0,
                rss_after_init_kib,
                init_aws_calls: init_aws.calls,
                init_cpu_ms,
                init_emulator_ms: (init_aws.upstream + init_giosg.upstream).as_secs_f64() * 1000.0,
                init_tls_handshakes,
                first_invocation_ms: 0.0,
                first_invocation_status: None,
                first_invocation_emulator_ms: 0.0,
                first_invocation_cpu_ms: 0.0,
                first_invocation_tls_handshakes: 0,
            },
            cgroup,
        })
    }

    pub(super) async fn invoke(
        &self,
        instance: &Instance,
        event: String,
    ) -> anyhow::Result<Invocation> {
        self.emulators.aws.take();
        self.emulators.giosg.take();
        self.emulators.take_handshakes();
        let outcome = instance.runtime.invoke(Bytes::from(event)).await?;
        let aws = self.emulators.aws.take();
        let giosg = self.emulators.giosg.take();
        let tls_handshakes = self.emulators.take_handshakes();
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
            tls_handshakes,
        })
    }
}

/// Stops the process and removes its cgroup.
pub(super) async fn stop(instance: &mut Instance) {
    let _ = instance.child.start_kill();
    let _ = instance.child.wait().await;
    instance.cgroup = None;
}
