//! Measuring one warm scenario: its invocations timed at the Runtime API, the emulators' share
//! of that time and their calls counted at the proxies and the simulator, and the function
//! process's CPU time read from `/proc`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::LambdaBench;
use super::process::Instance;
use super::results::ScenarioResult;
use super::scenario::Variant;
use crate::procfs;
use crate::runtime_api::OutcomeKind;
use crate::stats::Summary;

impl LambdaBench<'_> {
    pub(super) async fn scenario(
        &self,
        instance: &Instance,
        file: &str,
        variant: Variant,
        compact_every: Option<usize>,
    ) -> anyhow::Result<ScenarioResult> {
        let recorded = self.event(file)?;
        let control = self.emulators.sim.control();
        control.reset_requests().await?;
        let n = self.options.iterations;
        let mut latency = Vec::with_capacity(n);
        let mut emulator = Vec::with_capacity(n);
        let mut overhead = Vec::with_capacity(n);
        let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
        let mut aws_calls: BTreeMap<String, u64> = BTreeMap::new();
        let mut all_calls: BTreeMap<String, (u64, Duration)> = BTreeMap::new();
        let split_before = procfs::user_and_system(instance.pid);
        let mut cpu = Duration::ZERO;
        let mut cpu_before = procfs::cpu_time(instance.pid).unwrap_or_default();
        for i in 0..n {
            if let Some(every) = compact_every
                && i > 0
                && i % every == 0
            {
                cpu += procfs::cpu_time(instance.pid)
                    .unwrap_or_default()
                    .saturating_sub(cpu_before);
                self.compact().await?;
                cpu_before = procfs::cpu_time(instance.pid).unwrap_or_default();
            }
            let invocation = self
                .invoke(instance, self.make_event(file, variant)?)
                .await?;
            let waited = invocation.aws.upstream + invocation.giosg.upstream;
            latency.push(invocation.elapsed);
            emulator.push(waited);
            overhead.push(invocation.elapsed.saturating_sub(waited));
            let status = match (invocation.kind, invocation.status) {
                (OutcomeKind::Error, _) => "error".to_owned(),
                (_, Some(status)) => status.to_string(),
                (_, None) => "unparsed".to_owned(),
            };
            *statuses.entry(status).or_default() += 1;
            for tally in [&invocation.aws, &invocation.giosg] {
                for (label, took) in &tally.upstream_by_label {
                    let entry = all_calls.entry(label.clone()).or_default();
                    entry.0 += tally.calls.get(label).copied().unwrap_or(0);
                    entry.1 += *took;
                }
            }
            for (operation, count) in invocation.aws.calls {
                *aws_calls.entry(operation).or_default() += count;
            }
        }
        cpu += procfs::cpu_time(instance.pid)
            .unwrap_or_default()
            .saturating_sub(cpu_before);
        let system_cpu_share = split_before
            .zip(procfs::user_and_system(instance.pid))
            .and_then(|((user0, system0), (user1, system1))| {
                let user = user1.saturating_sub(user0).as_secs_f64();
                let system = system1.saturating_sub(system0).as_secs_f64();
                (user + system > 0.0).then(|| system / (user + system))
            });
        let giosg = control.requests().await?;
        let per = |count: u64| count as f64 / n as f64;
        let dynamodb_per_invocation = per(aws_calls
            .iter()
            .filter(|(operation, _)| operation.starts_with("dynamodb:"))
            .map(|(_, count)| count)
            .sum());
        Ok(ScenarioResult {
            scenario: format!("{}{}", recorded.name(), variant.label()),
            file: file.to_owned(),
            invocations: n,
            expected_status: match variant {
                Variant::NewClientMessageId | Variant::NoClientMessageId => 201,
                _ => recorded.entry.expected_status,
            },
            statuses,
            latency: Summary::of(&latency),
            emulator: Summary::of(&emulator),
            overhead: Summary::of(&overhead),
            cpu_ms_per_invocation: cpu.as_secs_f64() * 1000.0 / n as f64,
            system_cpu_share,
            aws_calls: aws_calls.into_iter().map(|(k, v)| (k, per(v))).collect(),
            emulator_ms_per_call: all_calls
                .into_iter()
                .map(|(label, (count, took))| {
                    (label, took.as_secs_f64() * 1000.0 / count.max(1) as f64)
                })
                .collect(),
            dynamodb_per_invocation,
            giosg_calls: giosg
                .counts
                .iter()
                .map(|(endpoint, count)| (endpoint.to_string(), per(*count)))
                .collect(),
            giosg_per_invocation: per(giosg.total),
        })
    }
}
