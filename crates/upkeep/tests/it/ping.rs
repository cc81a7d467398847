//! `upkeep ping KEY -- CMD ...` against a real `upkeep serve` (port 0, a SQLite file, a
//! configuration with a push monitor): the pings it sends are read back from the database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use upkeep_store::monitoring::{PingKind, StoredPing};
use upkeep_store::{ConnectOptions, Store};

use support::{BIN, Server, Workspace, page_config};

const CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 0 }
  ping_rate_limit: { per_second: 0 }
components:
  jobs: { name: Jobs }
monitors:
  nightly:
    component: jobs
    push: { key: job-key, period: 1d, grace: 1h }
"#
);

/// A running `upkeep serve` with a push monitor on `job-key`.
struct PingServer {
    server: Server,
    ws: Workspace,
}

impl PingServer {
    fn start() -> PingServer {
        let ws = Workspace::with_config(CONFIG);
        let server = Server::start(&["--config", &ws.config], &ws.db);
        PingServer { server, ws }
    }

    fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// `upkeep ping KEY --url URL -- command...` with `stdin` as its standard input.
    fn ping(&self, key: &str, command: &[&str], stdin: &str) -> Output {
        upkeep_ping(&self.url(), key, command, stdin)
    }

    async fn pings(&self) -> Vec<StoredPing> {
        let store = Store::connect(&self.ws.db, &ConnectOptions::default())
            .await
            .unwrap();
        let pings = store.recent_pings("job-key", 100).await.unwrap();
        store.close().await;
        pings
    }
}

fn upkeep_ping(url: &str, key: &str, command: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(["ping", key, "--url", url, "--"])
        .args(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_successful_command_is_wrapped_in_start_and_success_pings() {
    let server = PingServer::start();
    let out = server.ping(
        "job-key",
        &[
            "sh",
            "-c",
            "cat; echo to-stdout; echo to-stderr >&2; sleep 0.2",
        ],
        "from-stdin\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "from-stdin\nto-stdout\n",
        "echoed and stdin inherited"
    );
    assert_eq!(text(&out.stderr), "to-stderr\n");

    let pings = server.pings().await;
    assert_eq!(pings.len(), 2, "{pings:?}");
    let (end, start) = (&pings[0], &pings[1]);
    assert_eq!(start.kind, PingKind::Start);
    assert_eq!((end.kind, end.exit_code), (PingKind::Success, Some(0)));
    assert!(end.rid.is_some());
    assert_eq!(end.rid, start.rid, "one run id for the run");
    assert!(end.duration_ms.unwrap() >= 200, "{:?}", end.duration_ms);
    for line in ["from-stdin", "to-stdout", "to-stderr"] {
        assert!(end.body.contains(line), "{:?}", end.body);
    }
}

#[tokio::test]
async fn a_failing_command_reports_its_exit_code_and_output_tail() {
    let server = PingServer::start();
    // More than 10 KB of output: the tail is kept.
    let out = server.ping(
        "job-key",
        &[
            "sh",
            "-c",
            "head -c 20000 /dev/zero | tr '\\0' a; echo; echo disk full; exit 3",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(3));
    let pings = server.pings().await;
    let end = &pings[0];
    assert_eq!((end.kind, end.exit_code), (PingKind::Fail, Some(3)));
    assert!(
        end.body.ends_with("disk full\n"),
        "{:?}",
        &end.body[end.body.len() - 20..]
    );
    assert_eq!(end.body.len(), 10 * 1024);
    assert!(end.duration_ms.is_some());
}

#[tokio::test]
async fn a_command_that_cannot_start_exits_127_and_is_reported() {
    let server = PingServer::start();
    let out = server.ping("job-key", &["/nonexistent/upkeep-test-command", "x"], "");
    assert_eq!(out.status.code(), Some(127));
    assert!(
        text(&out.stderr).contains("cannot start"),
        "{}",
        text(&out.stderr)
    );
    let pings = server.pings().await;
    assert_eq!(pings[0].kind, PingKind::Fail);
    assert!(pings[0].body.contains("/nonexistent/upkeep-test-command"));
    assert_eq!(pings[0].rid, pings[1].rid);
}

#[tokio::test]
async fn ping_problems_never_change_the_outcome() {
    let server = PingServer::start();
    // An unknown key: refused, reported, the command's status stands.
    let out = server.ping("not-a-key", &["sh", "-c", "exit 5"], "");
    assert_eq!(out.status.code(), Some(5));
    let err = text(&out.stderr);
    assert!(err.contains("refused (404"), "{err}");
    drop(server);

    // No server at all.
    let out = upkeep_ping("http://127.0.0.1:9", "job-key", &["true"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("could not send the start ping"));
}
