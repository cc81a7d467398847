//! One attempt of a rollout step with real parts: a script that records its environment, a
//! failing command, a command killed at its timeout (with what it started), and a real HTTP
//! receiver that checks the webhook's signature and idempotency key.

use std::collections::BTreeMap;
use std::time::Duration;

use upkeep_domain::notify::signature;
use upkeep_domain::rollout::{Outcome, Step, StepContext, StepRun, StepSpec, idempotency_key};
use upkeep_engine::notify::send::Senders;
use upkeep_engine::rollout::run_step;

use crate::receiver::{Answer, Receiver};

const NOW: i64 = 1_800_000_000;

fn ctx(step: Step, attempt: u32) -> StepContext {
    StepContext {
        maintenance: "m1".into(),
        tenant: "acme".into(),
        step,
        attempt,
        idempotency_key: idempotency_key("m1", "acme", step, attempt),
        slot_start: "2026-12-05T21:00:00Z".parse().unwrap(),
        slot_end: "2026-12-05T21:15:00Z".parse().unwrap(),
        vars: BTreeMap::from([
            ("host".to_owned(), "acme.example".to_owned()),
            ("db_name".to_owned(), "acme_db".to_owned()),
        ]),
    }
}

fn command(run: &str, timeout: Duration) -> StepSpec {
    StepSpec {
        run: StepRun::Command(run.into()),
        timeout_ms: timeout.as_millis() as u64,
    }
}

fn senders() -> Senders {
    Senders::new(None, Duration::from_secs(5)).unwrap()
}

#[tokio::test]
async fn a_command_gets_the_step_environment() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    let script = dir.path().join("deploy.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv | grep '^UPKEEP_' | sort >> '{}'\necho deployed \"$UPKEEP_TENANT\"\n",
            log.display()
        ),
    )
    .unwrap();
    let spec = command(
        &format!("sh '{}'", script.display()),
        Duration::from_secs(10),
    );
    let ran = run_step(&spec, &ctx(Step::Rollback, 2), &senders(), NOW).await;
    assert_eq!(ran.outcome, Outcome::Succeeded, "{}", ran.detail);
    assert_eq!(ran.detail, "exit status 0: deployed acme");
    let env: BTreeMap<String, String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(env["UPKEEP_MAINTENANCE"], "m1");
    assert_eq!(env["UPKEEP_TENANT"], "acme");
    assert_eq!(env["UPKEEP_STEP"], "rollback");
    assert_eq!(env["UPKEEP_ATTEMPT"], "2");
    assert_eq!(env["UPKEEP_IDEMPOTENCY_KEY"], "m1.acme.rollback.2");
    assert_eq!(env["UPKEEP_SLOT_START"], "2026-12-05T21:00:00Z");
    assert_eq!(env["UPKEEP_SLOT_END"], "2026-12-05T21:15:00Z");
    assert_eq!(env["UPKEEP_VAR_HOST"], "acme.example");
    assert_eq!(env["UPKEEP_VAR_DB_NAME"], "acme_db");
}

#[tokio::test]
async fn a_non_zero_exit_fails_with_the_tail_of_stderr() {
    let spec = command(
        "echo out; head -c 10000 /dev/zero | tr '\\0' x >&2; echo ' boom: disk full' >&2; exit 3",
        Duration::from_secs(10),
    );
    let ran = run_step(&spec, &ctx(Step::Action, 1), &senders(), NOW).await;
    assert_eq!(ran.outcome, Outcome::Failed);
    assert!(ran.detail.ends_with("boom: disk full"), "{}", ran.detail);
    assert!(ran.detail.len() <= 4096, "{}", ran.detail.len());
    let spec = command("exit 7", Duration::from_secs(10));
    let ran = run_step(&spec, &ctx(Step::Action, 1), &senders(), NOW).await;
    assert_eq!(
        (ran.outcome, ran.detail.as_str()),
        (Outcome::Failed, "exit status 7")
    );
}

#[tokio::test]
async fn a_command_past_its_timeout_is_killed_with_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // The shell starts a child in the background and waits: both must die.
    let spec = command(
        &format!("sleep 30 & echo $$ $! > '{}'; wait", pids.display()),
        Duration::from_secs(2),
    );
    let started = std::time::Instant::now();
    let ran = run_step(&spec, &ctx(Step::Action, 1), &senders(), NOW).await;
    assert_eq!(ran.outcome, Outcome::TimedOut, "{}", ran.detail);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(ran.detail.contains("timeout of 2s"), "{}", ran.detail);
    let text = std::fs::read_to_string(&pids).unwrap();
    let alive = |pid: &str| {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ")
    };
    // SIGKILL is delivered at once but a process takes a moment to die on a busy machine; a
    // survivor of the kill would still be sleeping (30 s) long after this.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    for pid in text.split_whitespace() {
        while alive(pid) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!alive(pid), "process {pid} survived the timeout");
    }
}

#[tokio::test]
async fn a_webhook_is_signed_and_carries_the_idempotency_key() {
    let rx = Receiver::start(|n, _| Answer::Status(if n == 0 { 202 } else { 503 })).await;
    let spec = StepSpec {
        run: StepRun::Webhook {
            url: format!("{}/deploy?token=hidden", rx.url),
            secret: "s3cret".into(),
        },
        timeout_ms: 5_000,
    };
    let c = ctx(Step::Action, 1);
    let ran = run_step(&spec, &c, &senders(), NOW).await;
    assert_eq!(ran.outcome, Outcome::Succeeded, "{}", ran.detail);
    // The same attempt again (a retry after a crash) carries the same key; a 503 fails it.
    let ran = run_step(&spec, &c, &senders(), NOW).await;
    assert_eq!(ran.outcome, Outcome::Failed);
    assert!(ran.detail.contains("HTTP 503"), "{}", ran.detail);
    assert!(!ran.detail.contains("hidden"), "{}", ran.detail);
    let reqs = rx.received.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(r.header("idempotency-key"), Some("m1.acme.action.1"));
        let sig = r.header("upkeep-signature").unwrap();
        assert_eq!(signature::verify(b"s3cret", sig, &r.body, NOW, 300), Ok(()));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["tenant"], "acme");
        assert_eq!(body["step"], "action");
        assert_eq!(body["idempotency_key"], "m1.acme.action.1");
        assert_eq!(body["vars"]["host"], "acme.example");
    }
}

#[tokio::test]
async fn a_webhook_that_does_not_answer_times_out_and_one_refused_fails() {
    let rx = Receiver::start(|_, _| Answer::Hang).await;
    let spec = StepSpec {
        run: StepRun::Webhook {
            url: rx.url.clone(),
            secret: "s".into(),
        },
        timeout_ms: 500,
    };
    let ran = run_step(&spec, &ctx(Step::Action, 1), &senders(), NOW).await;
    assert_eq!(ran.outcome, Outcome::TimedOut, "{}", ran.detail);
    // Nobody listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let spec = StepSpec {
        run: StepRun::Webhook {
            url,
            secret: "s".into(),
        },
        timeout_ms: 2_000,
    };
    let ran = run_step(&spec, &ctx(Step::Action, 1), &senders(), NOW).await;
    assert_eq!(ran.outcome, Outcome::Failed, "{}", ran.detail);
}
