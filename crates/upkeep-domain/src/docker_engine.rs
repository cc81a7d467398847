//! The Docker Engine API's answers a `docker` monitor reads: a pure parser of
//! `GET /containers/{id}/json` (ContainerInspect) keeping the container's state, health and
//! restart count, and of the engine's error bodies (`{"message": "..."}`). Both are outside
//! input (fuzz target `docker_engine`).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::notify::text::truncate_chars;

/// The Engine API version the probe asks for (Docker 20.10 and later).
pub const API_VERSION: &str = "v1.41";

/// The longest health check output or engine message kept, in characters (`…` included).
pub const MAX_OUTPUT_CHARS: usize = 200;

/// What a container's inspection says about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Container {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`.
    pub status: String,
    /// `starting`, `healthy` or `unhealthy`; `None` without a health check.
    pub health: Option<String>,
    /// Consecutive failed health checks.
    pub failing_streak: u64,
    /// The last health check's exit code and output (cut to [`MAX_OUTPUT_CHARS`]).
    pub last_check: Option<(i64, String)>,
    /// The exit code of the last run (0 while running).
    pub exit_code: i64,
    /// Whether the kernel killed it for memory.
    pub oom_killed: bool,
    /// How often the engine restarted it.
    pub restart_count: u64,
    /// The engine's error text for the last start, if any.
    pub error: String,
    /// What conditions see as `[BODY].…`: the fields above in Docker's own names
    /// (`State.Status`, `State.Health.Status`, `State.Health.Log[0]` for the last check,
    /// `RestartCount`, …), without the container's configuration (whose environment may hold
    /// secrets).
    pub json: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    id: Option<String>,
    name: Option<String>,
    image: Option<String>,
    restart_count: Option<u64>,
    state: Option<State>,
    config: Option<Config>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Config {
    image: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    status: Option<String>,
    running: Option<bool>,
    paused: Option<bool>,
    restarting: Option<bool>,
    #[serde(rename = "OOMKilled")]
    oom_killed: Option<bool>,
    dead: Option<bool>,
    pid: Option<i64>,
    exit_code: Option<i64>,
    error: Option<String>,
    started_at: Option<String>,
    finished_at: Option<String>,
    health: Option<Health>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Health {
    status: Option<String>,
    failing_streak: Option<u64>,
    log: Option<Vec<HealthLog>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthLog {
    exit_code: Option<i64>,
    output: Option<String>,
}

/// Reads a ContainerInspect answer. The error says what is wrong, in words.
pub fn parse_inspect(body: &[u8]) -> Result<Container, String> {
    let inspect: Inspect = serde_json::from_slice(body)
        .map_err(|err| format!("the engine's answer is not a container inspection: {err}"))?;
    let state = inspect
        .state
        .ok_or_else(|| "the engine's answer has no `State`".to_owned())?;
    let status = state
        .status
        .clone()
        .ok_or_else(|| "the engine's answer has no `State.Status`".to_owned())?;
    // "none" is what the engine says for a container without a health check.
    let health = state
        .health
        .as_ref()
        .filter(|h| h.status.as_deref().is_some_and(|s| s != "none"));
    let last_check = health
        .and_then(|h| h.log.as_ref())
        .and_then(|log| log.last())
        .map(|entry| {
            let output = entry.output.as_deref().unwrap_or("").trim();
            (
                entry.exit_code.unwrap_or(0),
                truncate_chars(output, MAX_OUTPUT_CHARS),
            )
        });
    let health_json = health.map(|h| {
        json!({
            "Status": h.status,
            "FailingStreak": h.failing_streak.unwrap_or(0),
            "Log": last_check.as_ref().map_or_else(Vec::new, |(code, output)| {
                vec![json!({ "ExitCode": code, "Output": output })]
            }),
        })
    });
    let json = json!({
        "Id": inspect.id,
        "Name": inspect.name.as_deref().map(|name| name.trim_start_matches('/')),
        "Image": inspect.config.and_then(|c| c.image).or(inspect.image),
        "RestartCount": inspect.restart_count.unwrap_or(0),
        "State": {
            "Status": status,
            "Running": state.running.unwrap_or(false),
            "Paused": state.paused.unwrap_or(false),
            "Restarting": state.restarting.unwrap_or(false),
            "OOMKilled": state.oom_killed.unwrap_or(false),
            "Dead": state.dead.unwrap_or(false),
            "Pid": state.pid.unwrap_or(0),
            "ExitCode": state.exit_code.unwrap_or(0),
            "Error": state.error.as_deref().unwrap_or(""),
            "StartedAt": state.started_at,
            "FinishedAt": state.finished_at,
            "Health": health_json,
        },
    });
    Ok(Container {
        health: health.and_then(|h| h.status.clone()),
        failing_streak: health.and_then(|h| h.failing_streak).unwrap_or(0),
        last_check,
        exit_code: state.exit_code.unwrap_or(0),
        oom_killed: state.oom_killed.unwrap_or(false),
        restart_count: inspect.restart_count.unwrap_or(0),
        error: truncate_chars(
            state.error.as_deref().unwrap_or("").trim(),
            MAX_OUTPUT_CHARS,
        ),
        status,
        json,
    })
}

/// The `message` of an engine's error answer, cut to [`MAX_OUTPUT_CHARS`].
pub fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: String,
    }
    let error: ErrorBody = serde_json::from_slice(body).ok()?;
    let message = error.message.trim();
    (!message.is_empty()).then(|| truncate_chars(message, MAX_OUTPUT_CHARS))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const HEALTHY: &str = r#"{
      "Id": "ba033ac4401106a3b513bc9d639eee123ad78ca3616b921167cd74b20e25ed39",
      "Created": "2025-01-06T15:47:31.485331387Z",
      "Path": "/docker-entrypoint.sh",
      "Args": ["nginx", "-g", "daemon off;"],
      "State": {
        "Status": "running", "Running": true, "Paused": false, "Restarting": false,
        "OOMKilled": false, "Dead": false, "Pid": 1234, "ExitCode": 0, "Error": "",
        "StartedAt": "2025-01-06T15:47:32.072697474Z", "FinishedAt": "0001-01-01T00:00:00Z",
        "Health": { "Status": "healthy", "FailingStreak": 0, "Log": [
          { "Start": "2025-01-06T15:48:02Z", "End": "2025-01-06T15:48:02Z", "ExitCode": 0, "Output": "ok\n" }
        ] }
      },
      "Image": "sha256:1d5a1f0b2c3d",
      "Name": "/web",
      "RestartCount": 2,
      "Config": { "Image": "nginx:1.27", "Env": ["DB_PASSWORD=hunter2"] }
    }"#;

    #[test]
    fn inspections_keep_state_health_and_restarts_without_the_configuration() {
        let c = parse_inspect(HEALTHY.as_bytes()).unwrap();
        assert_eq!(c.status, "running");
        assert_eq!(c.health.as_deref(), Some("healthy"));
        assert_eq!(c.last_check, Some((0, "ok".to_owned())));
        assert_eq!(c.restart_count, 2);
        assert_eq!(c.json["State"]["Health"]["Status"], "healthy");
        assert_eq!(c.json["Name"], "web");
        assert_eq!(c.json["Image"], "nginx:1.27");
        assert_eq!(c.json["State"]["Health"]["Log"][0]["Output"], "ok");
        assert!(!c.json.to_string().contains("hunter2"));
    }

    #[test]
    fn no_health_check_and_bad_answers() {
        let c = parse_inspect(br#"{"State": {"Status": "exited", "ExitCode": 137, "OOMKilled": true, "Health": {"Status": "none"}}}"#).unwrap();
        assert_eq!((c.health, c.exit_code, c.oom_killed), (None, 137, true));
        assert_eq!(c.json["State"]["Health"], Value::Null);
        assert_eq!(
            parse_inspect(b"{}").unwrap_err(),
            "the engine's answer has no `State`"
        );
        assert_eq!(
            parse_inspect(br#"{"State": {}}"#).unwrap_err(),
            "the engine's answer has no `State.Status`"
        );
        assert!(
            parse_inspect(b"[1]")
                .unwrap_err()
                .starts_with("the engine's answer is not")
        );
        assert_eq!(
            error_message(br#"{"message":"No such container: x"}"#).as_deref(),
            Some("No such container: x")
        );
        assert_eq!(error_message(b"<html>"), None);
    }
}
