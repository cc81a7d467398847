//! `docker` probes against a Docker Engine API the test runs on a Unix socket in a temporary
//! folder (and on a loopback port for `tcp://`): no engine runs here, so the test's server
//! answers with bodies shaped like the engine's ContainerInspect (running and healthy,
//! running and unhealthy, exited with code 137, restarting) and its error bodies (404, 500),
//! and records each request the probe sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};

use crate::probe_support::{failure, monitor};

async fn probe(fields: &str, rest: &str) -> ProbeOutcome {
    let m = monitor(&format!(
        "{{ component: c, docker: {{ {fields} }}, {rest} }}"
    ));
    Prober::new().unwrap().probe(&m).await
}

/// A ContainerInspect answer as the engine writes it (trimmed of the parts no probe reads,
/// but in its shape: `Config` with the environment, `HostConfig`, `NetworkSettings`).
fn inspect(name: &str, state: &str, restarts: u32) -> String {
    format!(
        r#"{{
  "Id": "4fa6e0f0c6786287e131c3852c58a2e01cc697a68231826813597e4994f1d6e2",
  "Created": "2026-11-30T08:12:44.718914367Z",
  "Path": "/docker-entrypoint.sh",
  "Args": ["nginx", "-g", "daemon off;"],
  "State": {state},
  "Image": "sha256:3b25b682ea82b2db3cc4fd48db818be788ee3f902ac7378090cf2624ec2442df",
  "ResolvConfPath": "/var/lib/docker/containers/4fa6e0f0c678/resolv.conf",
  "Name": "/{name}",
  "RestartCount": {restarts},
  "Driver": "overlay2",
  "Platform": "linux",
  "HostConfig": {{ "RestartPolicy": {{ "Name": "unless-stopped", "MaximumRetryCount": 0 }} }},
  "Config": {{
    "Hostname": "4fa6e0f0c678",
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin", "DB_PASSWORD=hunter2"],
    "Image": "nginx:1.27",
    "Healthcheck": {{ "Test": ["CMD-SHELL", "curl -fsS http://localhost/ || exit 1"], "Interval": 30000000000 }}
  }},
  "NetworkSettings": {{ "IPAddress": "172.17.0.2" }}
}}"#
    )
}

/// A running container's `State`; the engine leaves `Health` out without a health check.
fn running(health: Option<&str>) -> String {
    let health = health
        .map(|h| format!(r#", "Health": {h}"#))
        .unwrap_or_default();
    format!(
        r#"{{
    "Status": "running", "Running": true, "Paused": false, "Restarting": false,
    "OOMKilled": false, "Dead": false, "Pid": 23175, "ExitCode": 0, "Error": "",
    "StartedAt": "2026-11-30T08:12:45.120932788Z", "FinishedAt": "0001-01-01T00:00:00Z"{health}
  }}"#
    )
}

const HEALTHY: &str = r#"{ "Status": "healthy", "FailingStreak": 0, "Log": [
      { "Start": "2026-12-06T05:00:01.1Z", "End": "2026-12-06T05:00:01.2Z", "ExitCode": 0, "Output": "<!DOCTYPE html>" } ] }"#;
const UNHEALTHY: &str = r#"{ "Status": "unhealthy", "FailingStreak": 4, "Log": [
      { "Start": "2026-12-06T04:59:31.1Z", "End": "2026-12-06T04:59:31.2Z", "ExitCode": 1, "Output": "" },
      { "Start": "2026-12-06T05:00:01.1Z", "End": "2026-12-06T05:00:01.2Z", "ExitCode": 1, "Output": "curl: (7) Failed to connect to localhost port 80\n" } ] }"#;
const EXITED: &str = r#"{
    "Status": "exited", "Running": false, "Paused": false, "Restarting": false,
    "OOMKilled": false, "Dead": false, "Pid": 0, "ExitCode": 137, "Error": "",
    "StartedAt": "2026-12-06T04:10:00.5Z", "FinishedAt": "2026-12-06T04:58:12.9Z"
  }"#;
const RESTARTING: &str = r#"{
    "Status": "restarting", "Running": true, "Paused": false, "Restarting": true,
    "OOMKilled": false, "Dead": false, "Pid": 0, "ExitCode": 1, "Error": "",
    "StartedAt": "2026-12-06T05:00:10.5Z", "FinishedAt": "2026-12-06T05:00:11.9Z"
  }"#;

/// One request as the fake engine saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    host: Option<String>,
}

/// The engine's answer for a path: status and body.
fn answer(path: &str) -> (u16, String) {
    let Some(name) = path
        .strip_prefix("/v1.41/containers/")
        .and_then(|rest| rest.strip_suffix("/json"))
    else {
        return (404, r#"{"message":"page not found"}"#.to_owned());
    };
    match name {
        "web" => (200, inspect("web", &running(Some(HEALTHY)), 0)),
        "plain" => (200, inspect("plain", &running(None), 0)),
        "sick" => (200, inspect("sick", &running(Some(UNHEALTHY)), 1)),
        "batch" => (200, inspect("batch", EXITED, 2)),
        "flappy" => (200, inspect("flappy", RESTARTING, 7)),
        "broken" => (
            500,
            r#"{"message":"error while reading the container's state: driver overlay2 failed"}"#
                .to_owned(),
        ),
        other => (
            404,
            format!(r#"{{"message":"No such container: {other}"}}"#),
        ),
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn handle(request: Request<Incoming>, log: Log) -> Result<Response<Full<Bytes>>, Infallible> {
    log.lock().unwrap().push(Seen {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        host: request
            .headers()
            .get("host")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    let (status, body) = answer(request.uri().path());
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("api-version", "1.47")
        .header("server", "Docker/27.3.1 (linux)")
        .body(Full::new(Bytes::from(body)))
        .unwrap())
}

fn serve_one<S>(stream: S, log: &Log)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let log = Arc::clone(log);
    tokio::spawn(async move {
        let service = hyper::service::service_fn(move |r| handle(r, Arc::clone(&log)));
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
}

/// A fake engine on `dir/docker.sock`.
fn unix_engine(dir: &Path) -> (PathBuf, Log) {
    let path = dir.join("docker.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let log: Log = Arc::default();
    let served = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            serve_one(stream, &served);
        }
    });
    (path, log)
}

#[tokio::test]
async fn docker_reads_state_and_health_from_the_engine_socket() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, log) = unix_engine(dir.path());
    let host = format!("unix://{}", socket.display());
    let fields = |name: &str| format!(r#"container: {name}, host: "{host}""#);

    let outcome = probe(&fields("web"), "timeout: 5s").await;
    assert!(outcome.ok, "{outcome:?}");
    let requests = log.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/v1.41/containers/web/json");
    assert_eq!(requests[0].host.as_deref(), Some("docker"));

    let outcome = probe(
        &fields("web"),
        r#"timeout: 5s, conditions: ["[BODY] == running", "[BODY].State.Health.Status == healthy", "[BODY].RestartCount < 3", "[BODY].Name == web", "[BODY].Image == nginx:1.27"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    // The container's environment is not part of what conditions see.
    let outcome = probe(
        &fields("web"),
        r#"timeout: 5s, conditions: ["[BODY].Config.Env[1] == x"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        "condition `[BODY].Config.Env[1] == x` failed: `Config.Env[1]` is absent from the body"
    );

    // Without a health check, running is enough.
    let outcome = probe(&fields("plain"), "timeout: 5s").await;
    assert!(outcome.ok, "{outcome:?}");

    let outcome = probe(&fields("sick"), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        "container `sick` is running but unhealthy, 4 failed checks in a row (expected healthy); \
         last check exited 1: curl: (7) Failed to connect to localhost port 80"
    );

    let outcome = probe(&fields("batch"), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        "container `batch` is not running: exited with code 137, restarted 2 times"
    );
    let outcome = probe(
        &fields("batch"),
        r#"timeout: 5s, conditions: ["[BODY].State.ExitCode == 0"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        "condition `[BODY].State.ExitCode == 0` failed: `State.ExitCode` was 137"
    );

    let outcome = probe(&fields("flappy"), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        "container `flappy` is not running: restarting, restarted 7 times"
    );
    let outcome = probe(
        &fields("flappy"),
        r#"timeout: 5s, conditions: ["[BODY].RestartCount < 5"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        "condition `[BODY].RestartCount < 5` failed: `RestartCount` was 7"
    );

    let outcome = probe(&fields("ghost"), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!("no such container `ghost` on the Docker engine at {host}")
    );

    let outcome = probe(&fields("broken"), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the Docker engine at {host} failed with HTTP 500: error while reading the \
             container's state: driver overlay2 failed"
        )
    );
    let paths: Vec<String> = log.lock().unwrap().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths.iter().all(|p| p.starts_with("/v1.41/containers/")),
        "{paths:?}"
    );
}

#[tokio::test]
async fn docker_over_tcp_sends_the_engine_address_as_host() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let served = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            serve_one(stream, &served);
        }
    });
    let outcome = probe(
        &format!(r#"container: web, host: "tcp://{addr}""#),
        "timeout: 5s",
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    let requests = log.lock().unwrap().clone();
    assert_eq!(requests[0].path, "/v1.41/containers/web/json");
    assert_eq!(requests[0].host.as_deref(), Some(addr.to_string().as_str()));
}

#[tokio::test]
async fn docker_missing_sockets_and_silent_engines_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("absent.sock");
    let outcome = probe(
        &format!(r#"container: web, host: "{}""#, absent.display()),
        "timeout: 5s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the Docker socket unix://{} does not exist (is Docker running here, is the socket mounted?)",
            absent.display()
        )
    );

    // A socket file nobody listens on any more.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let outcome = probe(
        &format!(r#"container: web, host: "unix://{}""#, stale.display()),
        "timeout: 5s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "nothing listens on the Docker socket unix://{} (is the Docker engine running?)",
            stale.display()
        )
    );

    // An engine that accepts and never answers.
    let silent = dir.path().join("silent.sock");
    let listener = tokio::net::UnixListener::bind(&silent).unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let started = Instant::now();
    let outcome = probe(
        &format!(r#"container: web, host: "unix://{}""#, silent.display()),
        "timeout: 500ms",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "timed out after 500 ms waiting for the Docker engine at unix://{} to answer about `web`",
            silent.display()
        )
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
}
