//! The server process under test: `local-runner` or this binary's `local-server`, started with
//! its log in a file, its URLs read from its stdout, and probed with a webhook until it answers
//! (which times its cold start); also the identity (organization, room, webhook secret) requests
//! must carry.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::AsyncBufReadExt;

use super::generator::{LoadRequest, drive};
use crate::emulators::fixed;

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
                    .env("WEBHOOK_SECRET", fixed::WEBHOOK_SECRET)
                    // The limits off: the load comes from one visitor and one address.
                    .env("SEND_RATE_PER_MINUTE", "0")
                    .env("START_RATE_PER_MINUTE", "0")
                    .env("ANONYMOUS_START_RATE_PER_MINUTE", "0")
                    .env("ANONYMOUS_START_TOTAL_RATE_PER_MINUTE", "0");
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
