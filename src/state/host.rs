//! Who holds the apply lock, as far as this machine can tell: its host name, and whether a
//! process id on this host is still the process that took the lock.
//!
//! A killed apply leaves its lock behind; on the same host the next apply can see that the pid
//! it names is gone and take the lock over at once, rather than wait out the lease. Pids are
//! reused, so a pid that exists counts as the holder only if that process started before the
//! lock was taken. Where `/proc` is missing (not Linux) nothing can be told, and the holder is
//! taken as alive: the lease still frees the lock.

use std::path::Path;

/// Seconds of slack between a process's start as `/proc` computes it (boot time in whole
/// seconds plus clock ticks) and the lock's `since` (whole seconds).
const START_SLACK: u64 = 5;
/// Clock ticks per second in `/proc/PID/stat` (USER_HZ, 100 on every Linux architecture).
const TICKS: u64 = 100;

/// This host's name: the kernel's, else `/etc/hostname`, else `HOSTNAME`. Every aegisctl on a
/// host must find the same one, so the kernel's comes first (a shell's `HOSTNAME` may be unset
/// or stale).
pub fn name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .chain(std::env::var("HOSTNAME").ok())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Whether process `pid` of this host may still be the one that took a lock at `since` (Unix
/// seconds, when known). Our own pid is never the holder: a lock naming it was left by an
/// earlier process that had the same pid.
pub fn alive(pid: u32, since: Option<u64>) -> bool {
    if pid == std::process::id() {
        return false;
    }
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    let Ok(stat) = std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) else {
        return false;
    };
    // Fields after the command name (which may hold spaces and parentheses): state is the 3rd
    // field of the line, start time the 22nd.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return true;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        // Killed, not yet reaped by its parent.
        return false;
    }
    let started = fields
        .get(19)
        .and_then(|t| t.parse::<u64>().ok())
        .zip(boot_time())
        .map(|(ticks, boot)| boot + ticks / TICKS);
    match (started, since) {
        (Some(started), Some(since)) => started <= since + START_SLACK,
        _ => true,
    }
}

/// The boot time in Unix seconds (`btime` of `/proc/stat`).
fn boot_time() -> Option<u64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|t| t.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_is_alive_and_a_later_one_with_its_pid_is_not() {
        // pid 1 started at boot, before any lock taken now.
        assert!(alive(1, Some(crate::clock::now_unix())));
        // A lock taken long before pid 1 started was not taken by it.
        assert!(!alive(1, Some(1)));
        assert!(
            !alive(std::process::id(), None),
            "our own pid is never the holder"
        );
        assert!(!alive(u32::MAX - 1, None), "no such process");
        assert!(!name().is_empty());
    }
}
