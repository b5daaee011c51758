//! What the Lambda benchmark measures, as written to the results JSON: each cold start, each
//! warm scenario, and each function's totals.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::stats::Summary;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColdStart {
    /// Process start until the first `GET /next`.
    pub init_ms: f64,
    /// `VmRSS` at that moment, KiB.
    pub rss_after_init_kib: u64,
    /// The AWS calls made during init (the secret read).
    pub init_aws_calls: BTreeMap<String, u64>,
    /// CPU time (user + system) the process used until then.
    #[serde(default)]
    pub init_cpu_ms: f64,
    /// Of `init_ms`, the time spent waiting for the emulators (the secret read), measured at
    /// the proxies.
    #[serde(default)]
    pub init_emulator_ms: f64,
    /// TLS handshakes during init (`bench cold --mode lambda`; 0 over plain HTTP).
    #[serde(default)]
    pub init_tls_handshakes: u64,
    pub first_invocation_ms: f64,
    pub first_invocation_status: Option<u16>,
    /// CPU time the process used during the first invocation.
    #[serde(default)]
    pub first_invocation_cpu_ms: f64,
    /// Of `first_invocation_ms`, the time spent waiting for the emulators.
    #[serde(default)]
    pub first_invocation_emulator_ms: f64,
    /// TLS handshakes during the first invocation.
    #[serde(default)]
    pub first_invocation_tls_handshakes: u64,
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
