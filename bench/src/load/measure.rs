//! Measuring one load run and reporting it: the server's CPU time and peak memory around the
//! run, the result as written to the results JSON with Django's reference figures to compare
//! with, and the line printed while the benchmark runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::generator::{LoadRequest, drive};
use super::server::Server;
use crate::procfs;
use crate::stats::Summary;

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

pub(super) async fn measure(
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

pub(super) fn print_load(result: &LoadResult) {
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
