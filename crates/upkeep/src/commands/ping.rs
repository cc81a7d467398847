//! `upkeep ping KEY -- CMD ARGS...`: wrap a job in heartbeat pings.
//!
//! Sends `/ping/KEY/start?rid=R` (a fresh UUID), runs the command with our standard input, echoes
//! its standard output and error as they come while keeping the last 10 KB of both, then sends
//! `/ping/KEY/{exit_code}?rid=R` with that tail as the run's log, and exits with the command's
//! exit code (128 + N when it was killed by signal N). A command that cannot be started is
//! reported as a failure with the reason, and `upkeep ping` exits with 127, as a shell does.
//!
//! The pings never change the job's outcome: when the server cannot be reached (or refuses a
//! ping) the problem is reported on standard error and the command's exit code stands.
//! Connection failures are retried twice, since such a request never reached the server.
//! While the command runs, SIGINT is left to the command (the terminal sends it to both) and
//! SIGTERM is passed on to it, so that its end is still reported.

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::{Client, Url};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::signal::unix::{SignalKind, signal};
use upkeep_store::monitoring::PING_BODY_MAX;

use crate::cli::PingArgs;

/// Exit status when the command cannot be started (as in POSIX shells).
const CANNOT_START: u8 = 127;

pub async fn run(args: PingArgs) -> anyhow::Result<ExitCode> {
    let Some((program, program_args)) = args.command.split_first() else {
        anyhow::bail!("give the command to run after `--`");
    };
    let pinger = Pinger::new(&args.url, &args.key)?;

    pinger.send("start", String::new()).await;

    let spawned = tokio::process::Command::new(program)
        .args(program_args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let reason = format!("upkeep ping: cannot start `{program}`: {e}");
            eprintln!("{reason}");
            pinger.send("fail", reason).await;
            return Ok(ExitCode::from(CANNOT_START));
        }
    };

    let tail = Arc::new(Mutex::new(Tail::default()));
    let mut copies = Vec::new();
    if let Some(out) = child.stdout.take() {
        copies.push(tokio::spawn(copy(
            out,
            tokio::io::stdout(),
            Arc::clone(&tail),
        )));
    }
    if let Some(err) = child.stderr.take() {
        copies.push(tokio::spawn(copy(
            err,
            tokio::io::stderr(),
            Arc::clone(&tail),
        )));
    }

    let status = wait_passing_signals(&mut child).await;
    // Output still arriving after the command ended (a pipe held by a process it left behind)
    // is not waited for long.
    for copy in copies {
        let abort = copy.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), copy)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    let log = tail.lock().unwrap_or_else(PoisonError::into_inner).text();

    let code: u8 = match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
            (None, Some(sig)) => u8::try_from((128 + sig).min(255)).unwrap_or(255),
            (None, None) => 1,
        },
        Err(e) => {
            eprintln!("upkeep ping: lost track of `{program}`: {e}");
            1
        }
    };
    pinger.send(&code.to_string(), log).await;
    Ok(ExitCode::from(code))
}

/// Waits for the child; meanwhile ignores SIGINT (the command gets it from the terminal too)
/// and passes SIGTERM on to the command.
async fn wait_passing_signals(
    child: &mut tokio::process::Child,
) -> std::io::Result<std::process::ExitStatus> {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return child.wait().await;
    };
    loop {
        tokio::select! {
            status = child.wait() => return status,
            _ = int.recv() => {}
            _ = term.recv() => {
                if let Some(pid) = child.id() {
                    let sent = std::process::Command::new("kill")
                        .args(["-TERM", &pid.to_string()])
                        .status();
                    if !sent.is_ok_and(|s| s.success()) {
                        let _ = child.start_kill();
                    }
                }
            }
        }
    }
}

/// Copies `from` to `to` as it comes, keeping the tail.
async fn copy(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    tail: Arc<Mutex<Tail>>,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        tail.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(chunk);
        // Our own output going away (a closed pipe) must not stop the command's output from
        // being read, or the command would block.
        if to.write_all(chunk).await.is_ok() {
            let _ = to.flush().await;
        }
    }
}

/// The last [`PING_BODY_MAX`] bytes of the command's output.
#[derive(Debug, Default)]
struct Tail(VecDeque<u8>);

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        let keep = &bytes[bytes.len().saturating_sub(PING_BODY_MAX)..];
        self.0.extend(keep);
        let excess = self.0.len().saturating_sub(PING_BODY_MAX);
        self.0.drain(..excess);
    }

    /// As text of at most [`PING_BODY_MAX`] bytes (invalid UTF-8 replaced, then cut at the
    /// front on a character boundary).
    fn text(&self) -> String {
        let bytes: Vec<u8> = self.0.iter().copied().collect();
        let text = String::from_utf8_lossy(&bytes);
        let mut start = text.len().saturating_sub(PING_BODY_MAX);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_owned()
    }
}

/// Sends the pings of one run.
struct Pinger {
    client: Client,
    base: Url,
    key: String,
    rid: String,
}

impl Pinger {
    fn new(base: &str, key: &str) -> anyhow::Result<Pinger> {
        let base =
            Url::parse(base).map_err(|e| anyhow::anyhow!("--url `{base}` is not a URL: {e}"))?;
        if base.cannot_be_a_base() {
            anyhow::bail!("--url `{base}` must be an http:// or https:// URL");
        }
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Pinger {
            client,
            base,
            key: key.to_owned(),
            rid: upkeep_store::ids::new_uuid(),
        })
    }

    /// `BASE/ping/KEY/ACTION?rid=RID`, the key percent-encoded.
    fn url(&self, action: &str) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["ping", self.key.as_str(), action]);
        }
        url.set_query(Some(&format!("rid={}", self.rid)));
        url
    }

    /// Sends one ping; problems go to standard error and nowhere else.
    async fn send(&self, action: &str, body: String) {
        let url = self.url(action);
        let what = if action == "start" { "start" } else { "end" };
        for attempt in 1..=3u64 {
            match self
                .client
                .post(url.clone())
                .body(body.clone())
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    let detail = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v["detail"].as_str().map(str::to_owned))
                        .unwrap_or(text);
                    eprintln!("upkeep ping: the {what} ping was refused ({status}): {detail}");
                    return;
                }
                Err(e) if e.is_connect() && !e.is_timeout() && attempt < 3 => {
                    tokio::time::sleep(Duration::from_millis(300 * attempt)).await;
                }
                Err(e) => {
                    eprintln!("upkeep ping: could not send the {what} ping to {url}: {e}");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_10_kb_as_text() {
        let mut t = Tail::default();
        t.push(b"early ");
        t.push(&vec![b'x'; PING_BODY_MAX]);
        t.push("é!".as_bytes());
        let text = t.text();
        assert!(text.len() <= PING_BODY_MAX);
        assert!(text.ends_with("xé!"));
        assert!(!text.contains("early"));
    }

    #[test]
    fn urls_encode_the_key() {
        let p = Pinger::new("http://127.0.0.1:8080/base/", "a b/c").ok();
        let url = p.map(|p| p.url("start").to_string()).unwrap_or_default();
        assert!(
            url.starts_with("http://127.0.0.1:8080/base/ping/a%20b%2Fc/start?rid="),
            "{url}"
        );
    }
}
