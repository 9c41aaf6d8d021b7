//! Resident memory and CPU time from `/proc`: the wasmCloud host and the provider processes it
//! started, idle and at their peak under load, next to a native process doing the same renders.
//!
//! The peak is the kernel's high-water mark (`VmHWM`), reset before the load by writing 5 to
//! `/proc/PID/clear_refs`, so it covers the whole load, not the moments a sampler looked.

use std::path::Path;

use anyhow::Context as _;

/// One process of the lattice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// The host, or the executable's file name for a provider.
    pub name: String,
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("reading /proc/{pid}/status"))?;
    parse_status_kib(&status, field).with_context(|| format!("no {field} in /proc/{pid}/status"))
}

fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets `pid`'s peak resident size to what it uses now.
pub fn reset_peak(pid: u32) -> anyhow::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").with_context(|| format!("resetting the peak RSS of process {pid}"))
}

/// The pid in the file wash writes for the host it started (`{"pid": N, ...}`) or a bare number.
pub fn pid_from_file(file: &Path) -> anyhow::Result<u32> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    parse_pid(&text).with_context(|| format!("no pid in {}: {text:?}", file.display()))
}

fn parse_pid(text: &str) -> Option<u32> {
    let text = text.trim();
    if let Ok(pid) = text.parse() {
        return Some(pid);
    }
    let rest = &text[text.find("\"pid\"")? + 5..];
    let digits: String = rest.trim_start_matches([' ', ':']).chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The parent pid from a `/proc/PID/stat` line (the command name in parentheses may hold
/// spaces and parentheses itself, so fields are counted after its last `)`).
fn parent_of(stat: &str) -> Option<u32> {
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

fn executable_name(pid: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim().to_string()))
        .unwrap_or_else(|| format!("pid {pid}"))
}

/// CPU time a process has used (all its threads), in clock ticks ([`clock_ticks_per_s`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    pub user: u64,
    /// In the kernel: system calls, and page faults (a fresh Wasm linear memory is faulted in
    /// page by page).
    pub system: u64,
}

impl CpuTicks {
    pub fn total(self) -> u64 {
        self.user + self.system
    }

    pub fn since(self, before: CpuTicks) -> CpuTicks {
        CpuTicks { user: self.user.saturating_sub(before.user), system: self.system.saturating_sub(before.system) }
    }

    pub fn add(&mut self, more: CpuTicks) {
        self.user += more.user;
        self.system += more.system;
    }
}

/// The CPU time `pid` has used so far.
pub fn cpu_ticks(pid: u32) -> anyhow::Result<CpuTicks> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("reading /proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat).with_context(|| format!("no utime/stime in /proc/{pid}/stat: {stat:?}"))
}

/// `utime` and `stime` are fields 14 and 15 of the stat line, the 12th and 13th after the
/// command name's closing parenthesis.
fn parse_cpu_ticks(stat: &str) -> Option<CpuTicks> {
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(CpuTicks { user, system })
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on Linux when that fails).
pub fn clock_ticks_per_s() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// The host and its child processes (the providers it started), host first.
pub fn host_and_providers(host: u32) -> anyhow::Result<Vec<Process>> {
    let mut processes = vec![Process { pid: host, name: "wasmCloud host".into() }];
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").context("listing /proc")?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if parent_of(&stat) == Some(host) {
            children.push(Process { pid, name: executable_name(pid) });
        }
    }
    children.sort_by(|a, b| a.name.cmp(&b.name));
    processes.extend(children);
    Ok(processes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_by_their_exact_name() {
        let status = "Name:\tx\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nVmRSSx:\t1 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(204_800));
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(102_400));
        assert_eq!(parse_status_kib(status, "VmPeak"), None);
    }

    #[test]
    fn pids_come_from_wash_json_or_a_bare_number() {
        assert_eq!(parse_pid("{\"pid\": 4242, \"version\": \"1.9\"}"), Some(4242));
        assert_eq!(parse_pid("{\"pid\":17}"), Some(17));
        assert_eq!(parse_pid("  99\n"), Some(99));
        assert_eq!(parse_pid("{\"version\": 1}"), None);
    }

    #[test]
    fn the_parent_is_read_past_a_command_name_with_parentheses() {
        assert_eq!(parent_of("123 (a b) c) S 77 123 123 0"), Some(77));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn cpu_time_is_read_past_the_command_name() {
        let stat = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 8 0 99 1000 200";
        assert_eq!(parse_cpu_ticks(stat), Some(CpuTicks { user: 250, system: 30 }));
        assert_eq!(parse_cpu_ticks("42 (x) S 1"), None);
    }

    #[test]
    fn this_process_counts_its_own_cpu_time() {
        let me = std::process::id();
        let before = cpu_ticks(me).expect("own stat");
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let used = cpu_ticks(me).expect("own stat").since(before).total() as f64 / clock_ticks_per_s();
        assert!(used > 0.1, "300 ms of spinning counted as {used} s");
    }

    #[test]
    fn this_process_reads_its_own_memory_and_finds_its_children() {
        let me = std::process::id();
        let rss = status_kib(me, "VmRSS").expect("own VmRSS");
        assert!(rss > 0);
        let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("sleep");
        let found = host_and_providers(me).expect("scan");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found[0].pid, me);
        assert!(found.iter().any(|p| p.pid == child.id() && p.name == "sleep"), "{found:?}");
    }
}
