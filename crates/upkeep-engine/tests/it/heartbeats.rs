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

    assert!(engine.shutdown(Duration::from_secs(5)).await);
    store.close().await;
}
