//! Starting the process and staying with it: its environment is the caller's plus the resolved
//! variables, minus every variable aegisctl takes its own credentials from (no OpenBao token,
//! role ID, secret ID or age key reaches it). Signals sent to aegisctl are passed on; credentials
//! are renewed while it runs; its exit status becomes aegisctl's.
//!
//! SIGINT and SIGQUIT from a terminal already reach the child (it shares aegisctl's foreground
//! process group), so they are passed on only when aegisctl is not in the terminal's foreground:
//! a Ctrl-C must not arrive twice.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::process::ExitStatus;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};

use super::RuntimeError;
use super::leases::Lease;
use super::login::Token;
use super::profile::is_withheld;
use super::renew::Keeper;
use super::resolve::Resolved;

/// A started process.
pub struct Child {
    child: tokio::process::Child,
    pid: Option<Pid>,
}

/// Starts `argv` with the resolved variables.
pub fn spawn(
    argv: &[OsString],
    vars: &[Resolved],
    own: &BTreeSet<String>,
) -> Result<Child, RuntimeError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(RuntimeError::Setup(
            "no command to run".into(),
            "write the command after `--`: aegisctl run FILE --profile P -- CMD ARGS...".into(),
        ));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_none_or(|n| is_withheld(n, own)) {
            cmd.env_remove(&name);
        }
    }
    for v in vars {
        cmd.env(&v.name, v.value.expose());
    }
    // If aegisctl is killed (SIGKILL), the child keeps running; its leases end at their TTL.
    cmd.kill_on_drop(false);
    let child = cmd.spawn().map_err(|e| RuntimeError::Spawn {
        program: program.to_string_lossy().into_owned(),
        reason: e.to_string(),
    })?;
    let pid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .map(Pid::from_raw);
    Ok(Child { child, pid })
}

/// Signals passed on to the child.
const FORWARDED: &[(i32, Signal)] = &[
    (libc_sig::SIGTERM, Signal::SIGTERM),
    (libc_sig::SIGHUP, Signal::SIGHUP),
    (libc_sig::SIGUSR1, Signal::SIGUSR1),
    (libc_sig::SIGUSR2, Signal::SIGUSR2),
    (libc_sig::SIGWINCH, Signal::SIGWINCH),
    (libc_sig::SIGINT, Signal::SIGINT),
    (libc_sig::SIGQUIT, Signal::SIGQUIT),
];

/// Signal numbers (nix's `Signal` as i32), for tokio's `SignalKind`.
mod libc_sig {
    use nix::sys::signal::Signal;
    pub const SIGTERM: i32 = Signal::SIGTERM as i32;
    pub const SIGHUP: i32 = Signal::SIGHUP as i32;
    pub const SIGUSR1: i32 = Signal::SIGUSR1 as i32;
    pub const SIGUSR2: i32 = Signal::SIGUSR2 as i32;
    pub const SIGWINCH: i32 = Signal::SIGWINCH as i32;
    pub const SIGINT: i32 = Signal::SIGINT as i32;
    pub const SIGQUIT: i32 = Signal::SIGQUIT as i32;
}

/// Whether aegisctl is in its terminal's foreground process group (the terminal then delivers
/// SIGINT and SIGQUIT to the child itself).
fn in_terminal_foreground() -> bool {
    nix::unistd::tcgetpgrp(std::io::stdin()).is_ok_and(|fg| fg == nix::unistd::getpgrp())
}

/// The signals aegisctl watches from before it logs in: one that arrives while the profile is
/// being resolved stops the start (what was leased is revoked) instead of killing aegisctl with
/// its leases alive.
pub struct Signals {
    streams: Vec<(Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Starts watching; a signal that cannot be watched is a warning.
    pub fn watch(warn: &dyn Fn(&str)) -> Signals {
        let mut streams = Vec::new();
        for (num, sig) in FORWARDED {
            match signal(SignalKind::from_raw(*num)) {
                Ok(s) => streams.push((*sig, s)),
                Err(e) => warn(&format!("cannot watch {sig}: {e}")),
            }
        }
        Signals { streams }
    }

    /// A signal that arrived and was not handled yet (SIGWINCH, a resize, does not count).
    pub fn pending(&mut self) -> Option<Signal> {
        use futures::FutureExt;
        self.streams
            .iter_mut()
            .filter(|(sig, _)| *sig != Signal::SIGWINCH)
            .find_map(|(sig, s)| s.recv().now_or_never().flatten().map(|()| *sig))
    }
}

/// Waits for the child, forwarding signals and renewing credentials; `warn` shows renewal
/// warnings. Returns its exit status.
pub async fn supervise(
    child: &mut Child,
    signals: &mut Signals,
    keeper: &mut Keeper,
    token: &mut Token,
    leases: &[Lease],
    warn: &dyn Fn(&str),
) -> Result<ExitStatus, RuntimeError> {
    let streams = &mut signals.streams;
    let foreground = in_terminal_foreground();
    loop {
        let wake = keeper.next_wake();
        let received = futures::future::select_all(
            streams
                .iter_mut()
                .map(|(sig, s)| Box::pin(async move { s.recv().await.map(|_| *sig) })),
        );
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => futures::future::pending::<()>().await,
            }
        };
        tokio::select! {
            status = child.child.wait() => {
                return status.map_err(|e| RuntimeError::Setup(
                    format!("lost track of the process: {e}"),
                    "its leases were revoked; check whether it is still running".into(),
                ));
            }
            (sig, _, _) = received => {
                let Some(sig) = sig else { continue };
                let from_terminal = foreground && matches!(sig, Signal::SIGINT | Signal::SIGQUIT);
                if !from_terminal && let Some(pid) = child.pid {
                    tracing::info!(signal = %sig, "passing the signal on to the process");
                    let _ = kill(pid, sig);
                }
            }
            () = sleep => {
                for w in keeper.tick(token, leases).await {
                    warn(&w);
                }
            }
        }
    }
}

/// The exit status of a run stopped by `sig` before its process started.
pub fn signal_code(sig: Signal) -> u8 {
    u8::try_from(128 + sig as i32).unwrap_or(1)
}

/// The exit status aegisctl ends with: the child's code, or 128 + the signal that ended it
/// (the shell's convention).
pub fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c).unwrap_or(1),
        (None, Some(s)) => u8::try_from(128 + s).unwrap_or(1),
        _ => 1,
    }
}
