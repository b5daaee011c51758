//! What the kernel knows about a process: peak and current resident memory, CPU time.

use std::time::Duration;

/// Resident memory of a process, from `/proc/PID/status`.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Memory {
    /// `VmHWM`: the peak resident set size, KiB.
    pub peak_rss_kib: u64,
    /// `VmRSS`: the current resident set size, KiB.
    pub rss_kib: u64,
}

pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
    };
    Some(Memory {
        peak_rss_kib: field("VmHWM:")?,
        rss_kib: field("VmRSS:")?,
    })
}

/// CPU time (user + system) of all of a process's threads.
///
/// Sums each live thread's `schedstat` (nanoseconds on CPU) for precision; falls back to the
/// process-wide `utime + stime` of `/proc/PID/stat` (clock ticks) when that is unavailable.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    schedstat_sum(pid).or_else(|| stat_ticks(pid))
}

fn schedstat_sum(pid: u32) -> Option<Duration> {
    let mut total: u64 = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = entry.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

fn stat_ticks(pid: u32) -> Option<Duration> {
    let (user, system) = user_and_system(pid)?;
    Some(user + system)
}

/// The process's user and system CPU time (`utime`, `stime` of `/proc/PID/stat`; 10 ms ticks,
/// so only meaningful over many invocations).
pub fn user_and_system(pid: u32) -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at state (field 3).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some((
        Duration::from_millis(utime * 10),
        Duration::from_millis(stime * 10),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        let memory = memory(pid).expect("own status");
        assert!(memory.peak_rss_kib >= memory.rss_kib && memory.rss_kib > 0);
        assert!(cpu_time(pid).is_some());
        assert!(stat_ticks(pid).is_some());
        assert!(user_and_system(pid).is_some());
    }
}
