//! The one way upkeep runs a shell command (pre-flight `command` checks, rollout steps):
//! `sh -c COMMAND` with stdin closed, in its own process group, its output read while it runs
//! (only the tail of each stream is kept), and the whole group killed at the timeout.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use upkeep_domain::maintenance::preflight::CommandExit;

/// How long output still arriving after the command ended (a pipe held by a process it left
/// behind) is waited for.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// How a command ended, with the tails of what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub exit: CommandExit,
    /// The last bytes of its standard output (at most the `keep` asked for), lossily decoded.
    pub stdout: String,
    /// The last bytes of its standard error.
    pub stderr: String,
}

/// Runs `sh -c command` with `env` added to upkeep's environment, for at most `timeout`;
/// keeps the last `keep` bytes of each stream. At the timeout the whole process group (the
/// shell and whatever it started) is killed and reaped.
pub async fn run(
    command: &str,
    env: &[(String, String)],
    timeout: Duration,
    keep: usize,
) -> Finished {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout kills what the shell started too.
        .process_group(0)
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return Finished {
                exit: CommandExit::NotStarted(e.to_string()),
                stdout: String::new(),
                stderr: String::new(),
            };
        }
    };
    let pid = child.id();
    // Read while waiting, so a command that prints a lot never blocks on a full pipe.
    let (out_tail, err_tail) = (Tail::new(keep), Tail::new(keep));
    let stdout = tokio::spawn(read_into(child.stdout.take(), out_tail.clone()));
    let stderr = tokio::spawn(read_into(child.stderr.take(), err_tail.clone()));
    let exit = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => CommandExit::Exited(status.code()),
        Ok(Err(e)) => CommandExit::NotStarted(e.to_string()),
        Err(_) => {
            if let Some(pid) = pid {
                kill_group(pid);
            }
            let _ = child.start_kill();
            let _ = child.wait().await;
            CommandExit::TimedOut(timeout)
        }
    };
    Finished {
        exit,
        stdout: collect(stdout, &out_tail).await,
        stderr: collect(stderr, &err_tail).await,
    }
}

/// Kills process group `pgid` (the shell and whatever it started).
fn kill_group(pgid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// What `reader` kept, waiting [`OUTPUT_GRACE`] at most for the rest.
async fn collect(reader: tokio::task::JoinHandle<()>, tail: &Tail) -> String {
    let abort = reader.abort_handle();
    if tokio::time::timeout(OUTPUT_GRACE, reader).await.is_err() {
        abort.abort();
    }
    tail.text()
}

/// The last bytes of a stream, shared with its reader.
#[derive(Clone)]
struct Tail {
    keep: usize,
    bytes: Arc<Mutex<VecDeque<u8>>>,
}

impl Tail {
    fn new(keep: usize) -> Tail {
        Tail {
            keep,
            bytes: Arc::default(),
        }
    }

    fn push(&self, more: &[u8]) {
        let mut bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        bytes.extend(more);
        let over = bytes.len().saturating_sub(self.keep);
        bytes.drain(..over);
    }

    fn text(&self) -> String {
        let bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        let (a, b) = bytes.as_slices();
        String::from_utf8_lossy(&[a, b].concat()).into_owned()
    }
}

/// Reads `from` to its end into `tail`.
async fn read_into<R: AsyncRead + Unpin>(from: Option<R>, tail: Tail) {
    let Some(mut from) = from else {
        return;
    };
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => tail.push(&buf[..n]),
        }
    }
}
