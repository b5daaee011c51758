//! A function process held to a Lambda-sized share of one CPU and a memory limit, with a
//! cgroup made for it: `cpu.max` and `memory.max` on cgroup v2, `cpu.cfs_quota_us` /
//! `cpu.cfs_period_us` and `memory.limit_in_bytes` on v1. The process joins the cgroup between
//! `fork` and `exec` (see [`Cgroup::join_in_child`]), so its init runs under the limits from the
//! first instruction. Needs write access to the cgroup file system (root, or a delegated
//! subtree); [`Cgroup::create`] says what is missing when it cannot.

use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

/// Lambda gives a function one vCPU at 1,769 MB and CPU in proportion to memory below that.
pub const MB_PER_VCPU: f64 = 1769.0;

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Limits {
    /// The share of one CPU, 0 < share ≤ 1 (128 MB: 0.0724).
    pub cpu_share: f64,
    /// The CFS period the share is enforced over, in microseconds.
    pub period_us: u64,
    pub memory_mb: u64,
}

impl Limits {
    /// The CPU time allowed per period.
    pub fn quota_us(&self) -> u64 {
        ((self.cpu_share * self.period_us as f64).round() as u64).max(1000)
    }
}

/// One cgroup (v2) or one cgroup in each of the `cpu` and `memory` hierarchies (v1), removed
/// when dropped (after its process has exited).
pub struct Cgroup {
    dirs: Vec<PathBuf>,
    procs: Vec<File>,
}

impl Cgroup {
    pub fn create(name: &str, limits: &Limits) -> anyhow::Result<Self> {
        let v2_root = Path::new("/sys/fs/cgroup");
        let controllers = std::fs::read_to_string(v2_root.join("cgroup.controllers"));
        let result = match controllers {
            Ok(controllers) => Self::create_v2(v2_root, &controllers, name, limits),
            Err(_) => Self::create_v1(name, limits),
        };
        result.context(
            "cannot place the function in a cgroup with a CPU and memory limit (bench cold \
             --mode lambda needs root or a delegated cgroup; --mode plain does not)",
        )
    }

    fn create_v2(
        root: &Path,
        controllers: &str,
        name: &str,
        limits: &Limits,
    ) -> anyhow::Result<Self> {
        for needed in ["cpu", "memory"] {
            if !controllers.split_whitespace().any(|c| c == needed) {
                bail!("the cgroup v2 root offers no `{needed}` controller");
            }
        }
        std::fs::write(root.join("cgroup.subtree_control"), "+cpu +memory")
            .context("enabling the cpu and memory controllers")?;
        let dir = root.join(name);
        make_dir(&dir)?;
        let mut group = Self {
            dirs: vec![dir.clone()],
            procs: Vec::new(),
        };
        write(
            &dir.join("cpu.max"),
            &format!("{} {}", limits.quota_us(), limits.period_us),
        )?;
        write(
            &dir.join("memory.max"),
            &(limits.memory_mb << 20).to_string(),
        )?;
        group.procs.push(open_procs(&dir)?);
        Ok(group)
    }

    fn create_v1(name: &str, limits: &Limits) -> anyhow::Result<Self> {
        let cpu = v1_own_dir("cpu")?.join(name);
        let memory = v1_own_dir("memory")?.join(name);
        make_dir(&cpu)?;
        let mut group = Self {
            dirs: vec![cpu.clone()],
            procs: Vec::new(),
        };
        make_dir(&memory)?;
        group.dirs.push(memory.clone());
        write(
            &cpu.join("cpu.cfs_period_us"),
            &limits.period_us.to_string(),
        )?;
        write(
            &cpu.join("cpu.cfs_quota_us"),
            &limits.quota_us().to_string(),
        )?;
        write(
            &memory.join("memory.limit_in_bytes"),
            &(limits.memory_mb << 20).to_string(),
        )?;
        group.procs.push(open_procs(&cpu)?);
        group.procs.push(open_procs(&memory)?);
        Ok(group)
    }

    /// Moves the calling process into the cgroup: for `pre_exec`, between `fork` and `exec`.
    /// Only `write(2)` on descriptors opened beforehand (async-signal-safe).
    pub fn join_in_child(fds: &[i32]) -> std::io::Result<()> {
        for fd in fds {
            // SAFETY: a plain write of a static buffer to an open descriptor.
            let written = unsafe { libc::write(*fd, b"0".as_ptr().cast(), 1) };
            if written != 1 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// The descriptors [`Self::join_in_child`] writes to.
    pub fn fds(&self) -> Vec<i32> {
        self.procs.iter().map(|file| file.as_raw_fd()).collect()
    }

    /// Whether the CPU limit held the process back (cgroup `cpu.stat`), for the log.
    pub fn throttled_periods(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(self.dirs.first()?.join("cpu.stat")).ok()?;
        stat.lines()
            .find_map(|line| line.strip_prefix("nr_throttled "))
            .and_then(|n| n.trim().parse().ok())
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.procs.clear();
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn make_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        // Left over from an interrupted run: empty (its process is gone), so removable.
        let _ = std::fs::remove_dir(dir);
    }
    std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))
}

fn write(path: &Path, value: &str) -> anyhow::Result<()> {
    std::fs::write(path, value).with_context(|| format!("writing {value} to {}", path.display()))
}

fn open_procs(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join("cgroup.procs");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))
}

/// This process's cgroup in the v1 hierarchy of `controller`: the hierarchy's mount point (from
/// `/proc/self/mountinfo`) joined with the path `/proc/self/cgroup` gives, less the mount's root.
fn v1_own_dir(controller: &str) -> anyhow::Result<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let (mount_root, mount_point) = mountinfo
        .lines()
        .find_map(|line| {
            let (mount, tail) = line.split_once(" - ")?;
            let mut tail = tail.split_whitespace();
            let (fstype, _source, options) = (tail.next()?, tail.next()?, tail.next()?);
            (fstype == "cgroup" && options.split(',').any(|o| o == controller)).then(|| {
                let fields: Vec<&str> = mount.split_whitespace().collect();
                (fields.get(3).copied(), fields.get(4).copied())
            })
        })
        .and_then(|(root, point)| Some((root?.to_owned(), point?.to_owned())))
        .with_context(|| format!("no cgroup v1 hierarchy with the `{controller}` controller"))?;
    let own = std::fs::read_to_string("/proc/self/cgroup")?
        .lines()
        .find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == controller)
                .then(|| path.to_owned())
        })
        .with_context(|| format!("this process is in no `{controller}` cgroup"))?;
    let relative = own
        .strip_prefix(mount_root.as_str())
        .unwrap_or(&own)
        .trim_start_matches('/');
    Ok(Path::new(&mount_point).join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_128_mb_share_over_20_ms() {
        let limits = Limits {
            cpu_share: 128.0 / MB_PER_VCPU,
            period_us: 20_000,
            memory_mb: 128,
        };
        assert_eq!(limits.quota_us(), 1447);
    }

    #[test]
    fn the_kernel_minimum_quota_is_kept() {
        let limits = Limits {
            cpu_share: 0.01,
            period_us: 20_000,
            memory_mb: 128,
        };
        assert_eq!(limits.quota_us(), 1000);
    }
}
