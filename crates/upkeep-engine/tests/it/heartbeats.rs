//! Push monitors judged on time: a ping changes the monitor's state at once, and a job that
//! misses its deadline goes down within a second of `deadline + grace`, not at the next sweep
//! of every push monitor (every 10 s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_engine::clock::{SharedClock, SystemClock};
use upkeep_engine::config::{ConfigHandle, ConfigSource, load};
use upkeep_engine::runtime::{Engine, EngineSettings};
use upkeep_store::monitoring::{Ping, PingKind};
use upkeep_store::testing::TestDatabase;

const CONFIG: &str = r#"
page: { name: One, url: "http://127.0.0.1:8080", timezone: UTC }
components:
  jobs: { name: Jobs }
monitors:
  quick-job:
    component: jobs
    push: { key: qz7mw2kd9xv4hr6tbn3pjc8lfy5sag1e, period: 2s, grace: 1s }
"#;
const KEY: &str = "qz7mw2kd9xv4hr6tbn3pjc8lfy5sag1e";

fn ping(kind: PingKind) -> Ping {
    Ping {
        key: KEY.into(),
        at: jiff::Timestamp::now(),
        kind,
        exit_code: None,
        rid: None,
        body: String::new(),
    }
}

/// Waits up to `within` for the monitor to read `status`; returns how long it took.
async fn reaches(engine: &Engine, status: MonitorStatus, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let now = engine.monitors.view("quick-job").map(|v| v.state.status);
        if now == Some(status) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "still {now:?} after {within:?}, not {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_counts_at_once_and_a_late_job_goes_down_at_its_deadline() {
    let db = TestDatabase::sqlite();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.yaml");
    std::fs::write(&path, CONFIG).unwrap();
    let config =
        ConfigHandle::new(load(&ConfigSource::File(path), jiff::Timestamp::now()).unwrap());
    let clock: SharedClock = Arc::new(SystemClock);
    let engine = Engine::start(
        store.clone(),
        config,
        clock,
        db.url.clone(),
        EngineSettings::default(),
    )
    .await
    .unwrap();
    let lease = Instant::now();
    while !engine.lease.is_held() {
        assert!(lease.elapsed() < Duration::from_secs(5), "no lease");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let the first sweep pass: from here on only pings and deadlines move the monitor.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Pinged every second (a period shorter than the sweep), it is up at once and stays up.
    engine.pings.record(ping(PingKind::Success)).await.unwrap();
    let took = reaches(&engine, MonitorStatus::Up, Duration::from_secs(1)).await;
    eprintln!("ping to up: {took:?}");
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        engine.pings.record(ping(PingKind::Success)).await.unwrap();
        assert_eq!(
            engine.monitors.view("quick-job").unwrap().state.status,
            MonitorStatus::Up
        );
    }
    // Pings that keep it up store nothing: of five judgements on pings only the change to up
    // was written (with, at most, the result of the 10 s sweep of every push monitor), while
    // the live view follows every judgement.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = store.recent_results("quick-job", 10).await.unwrap();
    assert!(
        !stored.is_empty() && stored.len() <= 2,
        "{} results written for five pings: {stored:?}",
        stored.len()
    );
    let judged_at = engine.monitors.view("quick-job").unwrap().last.unwrap().at;
    assert!(
        judged_at > stored[0].at,
        "the live view's last judgement ({judged_at}) is not newer than the stored one ({})",
        stored[0].at
    );

    // A failure is down at once; a success up again at once.
    engine.pings.record(ping(PingKind::Fail)).await.unwrap();
    reaches(&engine, MonitorStatus::Down, Duration::from_secs(1)).await;
    let last = Instant::now();
    engine.pings.record(ping(PingKind::Success)).await.unwrap();
    reaches(&engine, MonitorStatus::Up, Duration::from_secs(1)).await;

    // No more pings: due 2 s after the last, late after 1 s of grace, down within a second.
    let down = reaches(&engine, MonitorStatus::Down, Duration::from_secs(5)).await;
    let deadline = Duration::from_secs(3);
    let after = last.elapsed().saturating_sub(deadline);
    eprintln!("down {after:?} after the deadline (waited {down:?})");
    assert!(
        last.elapsed() >= deadline - Duration::from_millis(50),
        "down before its deadline: {:?}",
        last.elapsed()
    );
    assert!(
        after < Duration::from_secs(1),
        "down {after:?} after the deadline"
    );
    // Each change was written, newest first: late, recovered, failed, up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut changes: Vec<bool> = store
        .recent_results("quick-job", 20)
        .await
        .unwrap()
        .iter()
        .map(|r| r.ok)
        .collect();
    changes.dedup();
    assert_eq!(changes, [false, true, false, true]);

    assert!(engine.shutdown(Duration::from_secs(5)).await);
    store.close().await;
}

/// Many push monitors pinged at once: the ping writer commits their pings in batches holding
/// many distinct keys, and the judge reads all of them together. Each monitor is judged on its
/// own pings (a success is up, a failure down with its reason, no ping still pending), and
/// each one's first-seen instant is recorded once and never moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_keys_pinged_in_one_batch_are_each_judged_on_their_own_pings() {
    const N: usize = 300;
    for db in upkeep_store::testing::databases("many_keys_pinged_in_one_batch").await {
        let store = db.store().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upkeep.yaml");
        let mut text = String::from(
            "page: { name: One, url: \"http://127.0.0.1:8080\", timezone: UTC }\n\
             components:\n  jobs: { name: Jobs }\nmonitors:\n",
        );
        for i in 0..N {
            text.push_str(&format!(
                "  job-{i}: {{ component: jobs, push: {{ key: k{i:03}-qz7mw2kd9xv4hr6tbn3pjc8lfy, period: 1h, grace: 1h }} }}\n"
            ));
        }
        std::fs::write(&path, text).unwrap();
        let config =
            ConfigHandle::new(load(&ConfigSource::File(path), jiff::Timestamp::now()).unwrap());
        let started = jiff::Timestamp::now();
        let engine = Engine::start(
            store.clone(),
            config,
            Arc::new(SystemClock),
            db.url.clone(),
            EngineSettings::default(),
        )
        .await
        .unwrap();
        let ids: Vec<String> = (0..N).map(|i| format!("job-{i}")).collect();
        let key = |i: usize| format!("k{i:03}-qz7mw2kd9xv4hr6tbn3pjc8lfy");
        let waited = Instant::now();
        while !engine.lease.is_held() {
            assert!(waited.elapsed() < Duration::from_secs(5), "no lease");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // Every third key succeeds, the next fails, the third stays silent: all sent at once.
        let mut calls = Vec::new();
        for i in (0..N).filter(|i| i % 3 != 2) {
            let writer = engine.pings.clone();
            let mut ping = ping(if i % 3 == 0 {
                PingKind::Success
            } else {
                PingKind::Fail
            });
            ping.key = key(i);
            calls.push(tokio::spawn(async move { writer.record(ping).await }));
        }
        for call in calls {
            call.await.unwrap().unwrap();
        }
        let expected = |i: usize| match i % 3 {
            0 => MonitorStatus::Up,
            1 => MonitorStatus::Down,
            _ => MonitorStatus::Pending,
        };
        let waited = Instant::now();
        loop {
            let views = engine.monitors.views();
            let wrong: Vec<_> = (0..N)
                .filter(|i| views.get(&ids[*i]).map(|v| v.state.status) != Some(expected(*i)))
                .collect();
            if wrong.is_empty() {
                break;
            }
            // Generous: after judging many monitors the judge pauses four times as long as
            // the judgement took, which on a loaded machine (and PostgreSQL) is seconds.
            assert!(
                waited.elapsed() < Duration::from_secs(20),
                "{} monitors not judged on their pings, e.g. {}",
                wrong.len(),
                ids[wrong[0]]
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let views = engine.monitors.views();
        for i in (0..N).filter(|i| i % 3 == 1) {
            let failure = views[&ids[i]].last.as_ref().unwrap().failure.clone();
            assert!(
                failure
                    .as_deref()
                    .is_some_and(|f| f.starts_with("the job reported a failure at")),
                "{}: {failure:?}",
                ids[i]
            );
        }
        for i in (0..N).filter(|i| i % 3 == 0) {
            assert_eq!(views[&ids[i]].last.as_ref().unwrap().failure, None);
        }
        // Each pinged monitor's first-seen instant was recorded when it was first judged (a
        // missing one would be recorded now, a day ahead).
        let pinged: Vec<String> = (0..N)
            .filter(|i| i % 3 != 2)
            .map(|i| ids[i].clone())
            .collect();
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
        let first_seen = store.first_seen(&pinged, later).await.unwrap();
        assert_eq!(first_seen.len(), pinged.len());
        let now = jiff::Timestamp::now();
        assert!(
            first_seen.values().all(|at| *at >= started && *at <= now),
            "{first_seen:?}"
        );

        // Pinged again (all successes now) and judged again: all up, first seen unchanged.
        let mut calls = Vec::new();
        for i in (0..N).filter(|i| i % 3 != 2) {
            let writer = engine.pings.clone();
            let mut ping = ping(PingKind::Success);
            ping.key = key(i);
            calls.push(tokio::spawn(async move { writer.record(ping).await }));
        }
        for call in calls {
            call.await.unwrap().unwrap();
        }
        let waited = Instant::now();
        while (0..N).filter(|i| i % 3 == 1).any(|i| {
            engine.monitors.view(&ids[i]).map(|v| v.state.status) != Some(MonitorStatus::Up)
        }) {
            assert!(
                waited.elapsed() < Duration::from_secs(20),
                "failed jobs not up again"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
        assert_eq!(store.first_seen(&pinged, later).await.unwrap(), first_seen);

        assert!(engine.shutdown(Duration::from_secs(5)).await);
        store.close().await;
        db.cleanup().await;
    }
}
