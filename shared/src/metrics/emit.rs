//! Where each invocation's batch goes: [`Metrics::invocation`] and the [`Output`]s.

use std::future::Future;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Batch, CURRENT};

/// Where the EMF lines go.
#[derive(Clone, Debug)]
pub enum Output {
    /// A line on stdout (Lambda, where CloudWatch Logs extracts the metrics).
    Stdout,
    /// A log line (`metrics` target) carrying the EMF document: the local runner.
    Log,
    /// Nowhere.
    Off,
    /// Kept in memory: tests.
    Memory(Captured),
}

impl Output {
    /// `METRICS_OUTPUT`: `emf` (stdout), `log` or `off`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "emf" | "stdout" => Some(Self::Stdout),
            "log" => Some(Self::Log),
            "off" | "none" => Some(Self::Off),
            _ => None,
        }
    }
}

/// The lines written to an [`Output::Memory`].
#[derive(Clone, Debug, Default)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    /// Every line written so far.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn push(&self, line: String) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line);
    }
}

/// The metrics settings: namespace, the `Function` dimension's value, where lines go.
#[derive(Clone, Debug)]
pub struct MetricsConfig {
    pub namespace: String,
    pub function: String,
    pub output: Output,
}

impl MetricsConfig {
    /// Whether `namespace` is one CloudWatch accepts for custom metrics: 1–255 characters of
    /// letters, digits and `. - _ / # :` and spaces, not starting with `AWS/`.
    pub fn check_namespace(namespace: &str) -> Result<(), String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
        if namespace.is_empty() || namespace.len() > 255 {
            return Err("expected 1 to 255 characters".into());
        }
        if let Some(bad) = namespace.chars().find(|c| !allowed(*c)) {
            return Err(format!(
                "{bad:?} is not allowed (letters, digits, . - _ / # : and spaces)"
            ));
        }
        if namespace.starts_with("AWS/") {
            return Err("namespaces starting with AWS/ are AWS's own".into());
        }
        Ok(())
    }
}

/// Writes each invocation's batch as EMF. Built once per process; cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    config: Arc<MetricsConfig>,
}

impl Metrics {
    pub fn new(config: MetricsConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    /// Metrics kept in memory under `namespace` and `function`, and where to read them.
    pub fn in_memory(namespace: &str, function: &str) -> (Self, Captured) {
        let captured = Captured::default();
        let metrics = Self::new(MetricsConfig {
            namespace: namespace.to_owned(),
            function: function.to_owned(),
            output: Output::Memory(captured.clone()),
        });
        (metrics, captured)
    }

    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// Runs `work` as one invocation: what it records is written when it ends.
    pub async fn invocation<F: Future>(&self, work: F) -> F::Output {
        let batch = Arc::new(Mutex::new(Batch::default()));
        let output = CURRENT.scope(Arc::clone(&batch), work).await;
        let batch = std::mem::take(
            &mut *batch
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        self.write(&batch);
        output
    }

    /// Writes `batch` as EMF lines, stamped now.
    pub fn write(&self, batch: &Batch) {
        let config = &self.config;
        if matches!(config.output, Output::Off) || batch.is_empty() {
            return;
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis());
        let now_ms = u64::try_from(now_ms).unwrap_or(u64::MAX);
        for document in batch.documents(&config.namespace, &config.function, now_ms) {
            let line = document.to_string();
            match &config.output {
                Output::Stdout => {
                    // Whole, under the lock the log lines take too; a failed write loses
                    // only metrics.
                    let mut stdout = std::io::stdout().lock();
                    let _ = stdout.write_all(format!("{line}\n").as_bytes());
                    let _ = stdout.flush();
                }
                Output::Log => tracing::info!(target: "metrics", emf = %line, "metrics"),
                Output::Memory(captured) => captured.push(line),
                Output::Off => {}
            }
        }
    }
}
