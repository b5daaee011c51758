//! The `local-runner` process under test: started with a clean environment on free ports,
//! its `listening` line read for the API and simulator URLs, HTTP clients for both, a SIGTERM
//! stop, and its log printed when a test panics.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

/// Variables the runner reads; the tests clear them so the caller's shell cannot change a run.
const RUNNER_ENV: &[&str] = &[
    "LOCAL_RUNNER_BIND",
    "LOCAL_RUNNER_PORT",
    "LOCAL_RUNNER_SIM_PORT",
    "LOCAL_RUNNER_DATA_FILE",
    "LOCAL_RUNNER_CREATE_TABLE",
    "DYNAMODB_ENDPOINT",
    "TABLE_NAME",
    "GIOSG_BASE_URL",
    "GIOSG_ORG_ID",
    "GIOSG_ROOM_ID",
    "GIOSG_API_TOKEN",
    "WEBHOOK_SECRET",
    "ADMIN_TOKEN",
    "IDENTITY_SECRET",
    "ALLOW_OFFLINE_CHATS",
    "ALLOWED_ORIGINS",
    "LOG_FORMAT",
];

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `local-runner` process. Dropping it kills the process (also when a test panics),
/// and a panicking test prints the runner's log.
pub struct Runner {
    child: Child,
    pub api: String,
    pub sim: String,
    log: PathBuf,
    http: reqwest::Client,
}

pub fn runner_command(args: &[&str], log: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_local-runner"));
    command.args(args);
    for name in RUNNER_ENV {
        command.env_remove(name);
    }
    for limit in shared::config::LIMIT_SETTINGS {
        command
            .env_remove(limit.rate_name)
            .env_remove(limit.burst_name);
    }
    command
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"));
    command
}

pub fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "local-runner-e2e-{}-{:x}",
        std::process::id(),
        rand_u64()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher as _, RandomState};
    RandomState::new().hash_one(Instant::now())
}

impl Runner {
    /// Starts the binary on free ports and waits for its `listening api=... sim=...` line.
    pub fn start(extra_args: &[&str]) -> Self {
        Self::start_with_env(extra_args, &[])
    }

    pub fn start_with_env(extra_args: &[&str], env: &[(&str, &str)]) -> Self {
        let log = scratch_dir().join("runner.log");
        let mut args = vec!["--port", "0", "--sim-port", "0"];
        args.extend_from_slice(extra_args);
        let mut command = runner_command(&args, &log);
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("the local-runner binary starts");
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        // Reads the banner, hands over the listening line, then keeps draining stdout.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("listening ") {
                    let _ = lines.send(line);
                }
            }
        });
        let line = match received.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no listening line within {START_TIMEOUT:?}; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name}= missing in {line:?}"))
                .to_owned()
        };
        Self {
            api: field("api"),
            sim: field("sim"),
            child,
            log,
            http: reqwest::Client::new(),
        }
    }

    /// A call to the public API: (status, JSON body).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, body)
    }

    /// A call to the simulator's control API, which must succeed.
    pub async fn sim(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.sim));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the simulator answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "simulator {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Waits until the simulator delivered every webhook it queued.
    pub async fn flush_webhooks(&self) {
        self.sim(Method::POST, "/_sim/webhooks/flush", Some(json!({})))
            .await;
    }

    pub async fn get_text(&self, url: &str) -> (u16, String, String) {
        let response = self.http.get(url).send().await.expect("answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.text().await.unwrap())
    }

    /// Stops the runner the way Ctrl-C or a process manager does (SIGTERM) and waits.
    pub fn terminate(mut self) -> ExitStatus {
        let stopped = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(stopped.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the runner did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- local-runner log ----\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}
