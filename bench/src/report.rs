//! The results: one JSON document per run (to compare runs) and Markdown tables.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::emulators::EmulatorLatency;
use crate::lambda::FunctionResult;
use crate::load::LoadResult;

#[derive(Debug, Serialize, Deserialize)]
pub struct Meta {
    pub label: String,
    pub started_at: String,
    pub git_revision: String,
    pub cpus: usize,
    pub load_average_before: String,
    pub load_average_after: String,
    pub iterations: usize,
    pub cold_starts: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Results {
    pub meta: Meta,
    pub emulators: Option<EmulatorLatency>,
    pub functions: Vec<FunctionResult>,
    pub load: Vec<LoadResult>,
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

pub fn git_revision() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let revision = run(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{revision}+dirty")
    } else {
        revision
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The tables, in Markdown.
pub fn tables(results: &Results) -> String {
    let mut out = String::new();
    let meta = &results.meta;
    let _ = writeln!(
        out,
        "run `{}` at {} (git {}), {} CPUs, load average {} before, {} after\n",
        meta.label,
        meta.started_at,
        meta.git_revision,
        meta.cpus,
        meta.load_average_before,
        meta.load_average_after
    );
    if !results.functions.is_empty() {
        let _ = writeln!(out, "### Lambda functions: cold start and memory\n");
        let _ = writeln!(
            out,
            "| function | binary | init p50 (min–max) | first invocation p50 | RSS after init | peak RSS | AWS calls in init |"
        );
        let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|---|");
        for f in &results.functions {
            let init_calls = f
                .cold_starts
                .first()
                .map(|c| {
                    c.init_aws_calls
                        .iter()
                        .map(|(op, n)| format!("{op} ×{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let rss_init = f
                .cold_starts
                .iter()
                .map(|c| c.rss_after_init_kib)
                .max()
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "| {} | {:.2} MiB | {:.1} ms ({:.1}–{:.1}, n={}) | {:.1} ms | {:.1} MiB | {:.1} MiB | {} |",
                f.function,
                f.binary_bytes as f64 / 1_048_576.0,
                f.init.p50_ms,
                f.init.min_ms,
                f.init.max_ms,
                f.init.n,
                f.first_invocation.p50_ms,
                mib(rss_init),
                mib(f.peak_rss_kib),
                init_calls
            );
        }
        let _ = writeln!(out, "\n### Lambda functions: warm invocations\n");
        let _ = writeln!(
            out,
            "Latency is from handing the event out on `/next` to receiving the answer. Emulator time is what \
             moto and the simulator took (measured at the proxies); overhead = latency − emulator time, per \
             invocation. Function CPU is the process's user + system time over the loop, per invocation \
             (in brackets the kernel's share of it). \
             DynamoDB calls are counted by the proxy (by `X-Amz-Target`), Giosg calls by the simulator.\n"
        );
        let _ = writeln!(
            out,
            "| function | event | n | status | p50 | p99 | emulator p50 | overhead p50 | overhead p99 | function CPU / inv | DynamoDB / inv | Giosg / inv |"
        );
        let _ = writeln!(out, "|---|---|--:|---|--:|--:|--:|--:|--:|--:|---|---|");
        for f in &results.functions {
            for s in &f.scenarios {
                let statuses = s
                    .statuses
                    .iter()
                    .map(|(status, n)| {
                        if *n as usize == s.invocations {
                            status.clone()
                        } else {
                            format!("{status}×{n}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                let calls = |map: &std::collections::BTreeMap<String, f64>, total: f64| {
                    if map.is_empty() {
                        return "0".to_owned();
                    }
                    let parts = map
                        .iter()
                        .map(|(op, n)| {
                            let op = op.split(':').next_back().unwrap_or(op);
                            format!("{op} {}", trim(*n))
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("{} ({parts})", trim(total))
                };
                let dynamodb: std::collections::BTreeMap<String, f64> = s
                    .aws_calls
                    .iter()
                    .filter(|(op, _)| op.starts_with("dynamodb:"))
                    .map(|(op, n)| (op.clone(), *n))
                    .collect();
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.3} ms | {:.3} ms | {:.3} ms{} | {} | {} |",
                    f.function,
                    s.scenario,
                    s.invocations,
                    statuses,
                    s.latency.p50_ms,
                    s.latency.p99_ms,
                    s.emulator.p50_ms,
                    s.overhead.p50_ms,
                    s.overhead.p99_ms,
                    s.cpu_ms_per_invocation,
                    s.system_cpu_share
                        .map(|share| format!(" ({:.0}% sys)", share * 100.0))
                        .unwrap_or_default(),
                    calls(&dynamodb, s.dynamodb_per_invocation),
                    calls(&s.giosg_calls, s.giosg_per_invocation),
                );
            }
        }
    }
    if let Some(e) = &results.emulators {
        let _ = writeln!(out, "\n### The emulators' own latency\n");
        let _ = writeln!(out, "| call | p50 | p99 |");
        let _ = writeln!(out, "|---|--:|--:|");
        for (name, s) in [
            ("moto: GetItem, direct", &e.moto_get_item_direct),
            (
                "moto: GetItem, through the counting proxy",
                &e.moto_get_item_via_proxy,
            ),
            ("simulator: GET room, direct", &e.sim_room_direct),
            (
                "simulator: GET room, through the proxy",
                &e.sim_room_via_proxy,
            ),
        ] {
            let _ = writeln!(out, "| {name} | {:.3} ms | {:.3} ms |", s.p50_ms, s.p99_ms);
        }
    }
    if !results.load.is_empty() {
        let _ = writeln!(out, "\n### Local server under load (in-memory store)\n");
        let _ = writeln!(
            out,
            "| scenario | conns | req/s | p50 | p99 | server CPU / req | req per core-second | peak RSS | server start → first webhook answered | Django (req/s, CPU / req) | × Django per core | × Django req/s |"
        );
        let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|");
        for l in &results.load {
            let django = &l.django;
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.3} ms | {:.3} ms | {:.3} ms | {:.0} | {:.1} MiB | {:.0} ms | {}–{}, {}{} ms | {:.0}× | {:.0}× |",
                l.scenario,
                l.connections,
                l.requests_per_second,
                l.latency.p50_ms,
                l.latency.p99_ms,
                l.cpu_ms_per_request,
                l.requests_per_core_second,
                mib(l.peak_rss_kib),
                l.server_cold_start_ms,
                django.rps_low,
                django.rps_high,
                django.cpu_ms_per_request_low,
                if django.cpu_ms_per_request_high > django.cpu_ms_per_request_low {
                    format!("–{}", django.cpu_ms_per_request_high)
                } else {
                    String::new()
                },
                l.per_core_vs_django,
                l.throughput_vs_django,
            );
        }
    }
    out
}

fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}
