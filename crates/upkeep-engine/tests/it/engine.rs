//! The engine's building blocks: leases shared between replicas, the supervisor's clean
//! shutdown, and atomic, audited configuration reloads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_engine::clock::{SharedClock, SystemClock};
use upkeep_engine::config::{ConfigHandle, ConfigSource, ReloadError, load};
use upkeep_engine::lease::{LeaseKeeper, LeaseSettings};
use upkeep_engine::runtime::{Engine, EngineSettings};
use upkeep_engine::supervisor::Supervisor;
use upkeep_store::testing::databases;

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn one_replica_holds_a_lease_and_another_takes_over_when_it_stops_or_dies() {
    for db in
        databases("one_replica_holds_a_lease_and_another_takes_over_when_it_stops_or_dies").await
    {
        let store = db.store().await;
        let clock: SharedClock = Arc::new(SystemClock);
        let settings = LeaseSettings {
            ttl: Duration::from_millis(400),
            renew_every: Duration::from_millis(50),
        };
        let start = |holder: &str| {
            let stop = CancellationToken::new();
            let (keeper, task) = LeaseKeeper::start(
                store.clone(),
                clock.clone(),
                "scheduler:test".into(),
                holder.into(),
                settings.clone(),
                stop.clone(),
            );
            (keeper, tokio::spawn(task), stop)
        };

        let (a, a_task, a_stop) = start("replica-a");
        wait_until("a holds the lease", || a.is_held()).await;
        let (b, b_task, b_stop) = start("replica-b");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(a.is_held() && !b.is_held(), "exactly one holder");

        // A clean stop releases at once: b takes over within one renewal period.
        a_stop.cancel();
        a_task.await.unwrap();
        assert!(!a.is_held());
        wait_until("b takes over after a clean stop", || b.is_held()).await;

        // A replica that dies (no release) is replaced once its lease expires.
        let (c, c_task, _c_stop) = start("replica-c");
        b_task.abort();
        let _ = b_task.await;
        let died = std::time::Instant::now();
        wait_until("c takes over after b died", || c.is_held()).await;
        assert!(
            died.elapsed() >= Duration::from_millis(250),
            "not before expiry: {:?}",
            died.elapsed()
        );
        drop(b_stop);
        c_task.abort();
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn shutdown_waits_for_tasks_and_reports_stragglers() {
    let supervisor = Supervisor::new();
    let finished = Arc::new(AtomicBool::new(false));
    let token = supervisor.token();
    let flag = finished.clone();
    supervisor.spawn("polite", async move {
        token.cancelled().await;
        tokio::time::sleep(Duration::from_millis(50)).await; // finish the unit of work
        flag.store(true, Ordering::SeqCst);
    });
    assert!(supervisor.shutdown(Duration::from_secs(2)).await);
    assert!(
        finished.load(Ordering::SeqCst),
        "the task finished its work before shutdown returned"
    );

    let stubborn = Supervisor::new();
    stubborn.spawn("stubborn", async {
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    assert!(!stubborn.shutdown(Duration::from_millis(100)).await);
}

#[tokio::test]
async fn a_task_that_panics_is_reported_down_and_restarted() {
    let supervisor = Supervisor::new();
    let health = supervisor.health();
    let runs = Arc::new(AtomicUsize::new(0));
    let (counter, token) = (runs.clone(), supervisor.token());
    supervisor.spawn_restarting("flaky", move || {
        let run = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let token = token.clone();
        async move {
            assert!(run > 1, "the first run of flaky fails");
            token.cancelled().await;
        }
    });
    wait_until("the panic reported", || !health.all_up()).await;
    let down = health.down();
    assert_eq!(down.len(), 1, "{down:?}");
    assert_eq!(down[0].0, "flaky");
    assert!(
        down[0].1.contains("the first run of flaky fails"),
        "{down:?}"
    );
    // Restarted after the first backoff (1 s), and up again.
    wait_until("the restart", || {
        runs.load(Ordering::SeqCst) == 2 && health.all_up()
    })
    .await;

    // A task that cannot be rebuilt and ends early stays down.
    supervisor.spawn("once", async {});
    wait_until("the early end reported", || !health.all_up()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(health.down().len(), 1);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "a healthy task is left alone"
    );
    assert!(supervisor.shutdown(Duration::from_secs(2)).await);
    assert_eq!(health.down().len(), 1, "shutting down is not a failure");
}

/// `upkeep serve`'s background graph, booted as the server boots it: every task runs, the
/// replica takes the leader lease, and everything stops within the grace period.
#[tokio::test]
async fn the_engine_starts_every_task_and_stops_cleanly() {
    for db in databases("the_engine_starts_every_task_and_stops_cleanly").await {
        let store = db.store().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upkeep.yaml");
        let text = "page: { name: One, url: \"http://127.0.0.1:8080\", timezone: UTC }\n";
        std::fs::write(&path, text).unwrap();
        let now = jiff::Timestamp::now();
        let config = ConfigHandle::new(load(&ConfigSource::File(path), now).unwrap());
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
        wait_until("the leader lease", || engine.lease.is_held()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(engine.health.all_up(), "{:?}", engine.health.down());
        assert!(engine.shutdown(Duration::from_secs(5)).await);
        assert!(engine.health.all_up(), "{:?}", engine.health.down());
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn reload_is_atomic_audited_and_wakes_subscribers_only_on_change() {
    let db = upkeep_store::testing::TestDatabase::sqlite();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.yaml");
    let v1 = "page: { name: One, url: \"http://127.0.0.1:8080\", timezone: UTC }\n";
    std::fs::write(&path, v1).unwrap();
    let now = jiff::Timestamp::now();
    let handle = ConfigHandle::new(load(&ConfigSource::File(path.clone()), now).unwrap());
    let mut rx = handle.subscribe();
    rx.borrow_and_update();

    let same = handle.reload(&store, "test", now).await.unwrap();
    assert!(!same.changed());
    assert!(
        !rx.has_changed().unwrap(),
        "no wake-up for an unchanged file"
    );

    std::fs::write(
        &path,
        "page: { name: Two, url: \"http://127.0.0.1:8080\", timezone: UTC }\n",
    )
    .unwrap();
    let changed = handle.reload(&store, "test", now).await.unwrap();
    assert!(changed.changed());
    assert!(rx.has_changed().unwrap());
    assert_eq!(rx.borrow_and_update().config.page.name, "Two");

    std::fs::write(&path, "page: { name: Three, timezone: Bad/Zone }\n").unwrap();
    let err = handle.reload(&store, "test", now).await.unwrap_err();
    let ReloadError::Load(e) = err else {
        panic!("{err}")
    };
    assert!(
        e.lines().iter().any(|l| l.contains("Bad/Zone")),
        "{:?}",
        e.lines()
    );
    assert!(!rx.has_changed().unwrap());
    assert_eq!(handle.current().config.page.name, "Two");

    let audit = store.list_audit(10, None).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "config.reload");
    assert_eq!(audit[0].after.as_ref().unwrap()["sha256"], changed.digest);
}

#[tokio::test]
async fn the_embedded_demo_is_valid_without_any_environment() {
    let loaded = load(&ConfigSource::EmbeddedDemo, jiff::Timestamp::now())
        .unwrap_or_else(|e| panic!("{:?}", e.lines()));
    assert!(!loaded.config.components.is_empty());
    assert!(!loaded.config.monitors.is_empty());
}

/// A target that answers 200 at once.
async fn fast_target() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            let _ = stream
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                                .await;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_hanging_target_never_delays_other_monitors() {
    use upkeep_engine::monitoring::probe::Prober;
    use upkeep_engine::monitoring::scheduler::{self, SchedulerSettings};

    let hanging = crate::probe_support::silent_listener().await;
    let fast = fast_target().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.yaml");
    let mut text = String::from(
        "page: { name: T, url: \"http://127.0.0.1:8080\", timezone: UTC }\ncomponents:\n  c: { name: C }\nmonitors:\n",
    );
    for i in 0..20 {
        text.push_str(&format!(
            "  hang{i}: {{ component: c, http: {{ url: \"http://{hanging}/\" }}, interval: 1s, timeout: 3s }}\n"
        ));
    }
    text.push_str(&format!(
        "  fast: {{ component: c, http: {{ url: \"http://{fast}/\" }}, interval: 1s, timeout: 1s }}\n"
    ));
    std::fs::write(&path, text).unwrap();
    let handle =
        ConfigHandle::new(load(&ConfigSource::File(path), jiff::Timestamp::now()).unwrap());
    let db = upkeep_store::testing::TestDatabase::sqlite();
    let store = db.store().await;
    let stop = CancellationToken::new();
    let settings = SchedulerSettings {
        max_concurrent: 64,
        flush_every: Duration::from_millis(100),
        ..SchedulerSettings::default()
    };
    let (monitors, task) = scheduler::start(
        store.clone(),
        handle.subscribe(),
        Arc::new(SystemClock),
        Prober::new().unwrap(),
        settings,
        tokio::sync::watch::channel(true).1,
        stop.clone(),
    )
    .await
    .unwrap();
    let running = tokio::spawn(task);

    // Within 4.5 s the fast monitor is checked every second while 20 probes hang for 3 s each
    // (their first start is spread over the first second).
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let fast_view = monitors.view("fast").unwrap();
    assert_eq!(fast_view.state.status.as_str(), "up");
    let results = store.recent_results("fast", 100).await.unwrap();
    assert!(
        results.len() >= 4,
        "fast monitor checked {} times",
        results.len()
    );
    let hang = monitors.view("hang0").unwrap();
    let failure = hang.last.and_then(|l| l.failure).unwrap_or_default();
    assert!(failure.contains("timed out after 3 s"), "{failure}");

    // Stopping writes what is pending and returns.
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
    let states = store.load_monitor_states().await.unwrap();
    assert_eq!(states.len(), 21, "every monitor's state is persisted");
}

/// One replica of the monitoring engine: its lease keeper, its probe shards and its scheduler.
struct Replica {
    stop: CancellationToken,
    lease_task: tokio::task::JoinHandle<()>,
    shard_task: tokio::task::JoinHandle<()>,
    engine_task: tokio::task::JoinHandle<()>,
}

async fn replica(store: &upkeep_store::Store, handle: &ConfigHandle, name: &str) -> Replica {
    use upkeep_engine::monitoring::probe::Prober;
    use upkeep_engine::monitoring::scheduler::{self, SchedulerSettings};
    let stop = CancellationToken::new();
    let clock: SharedClock = Arc::new(SystemClock);
    let lease_settings = LeaseSettings {
        ttl: Duration::from_millis(600),
        renew_every: Duration::from_millis(100),
    };
    let (lease, lease_task) = LeaseKeeper::start(
        store.clone(),
        clock.clone(),
        "monitoring".into(),
        name.into(),
        lease_settings.clone(),
        stop.clone(),
    );
    let (shards, shard_task) = upkeep_engine::monitoring::shards::ShardKeeper::start(
        store.clone(),
        clock.clone(),
        name.into(),
        lease_settings,
        stop.clone(),
    );
    let settings = SchedulerSettings {
        flush_every: Duration::from_millis(50),
        owned: shards.watch(),
        ..SchedulerSettings::default()
    };
    let (_handle, task) = scheduler::start(
        store.clone(),
        handle.subscribe(),
        clock,
        Prober::new().unwrap(),
        settings,
        lease.watch(),
        stop.clone(),
    )
    .await
    .unwrap();
    Replica {
        stop,
        lease_task: tokio::spawn(lease_task),
        shard_task: tokio::spawn(shard_task),
        engine_task: tokio::spawn(task),
    }
}

/// Results stored for `id` during `window`.
async fn results_during(store: &upkeep_store::Store, id: &str, window: Duration) -> usize {
    let before = store.recent_results(id, 10_000).await.unwrap().len();
    tokio::time::sleep(window).await;
    store.recent_results(id, 10_000).await.unwrap().len() - before
}

/// Replicas on PostgreSQL (with SQLite one process holds every probe shard).
#[tokio::test]
async fn replicas_probe_once_between_them_and_take_over_when_one_dies() {
    let test = "replicas_probe_once_between_them_and_take_over_when_one_dies";
    if let Some(base) = upkeep_store::testing::postgres_url(test) {
        let db = upkeep_store::testing::TestDatabase::postgres(&base).await;
        let store = db.store().await;
        let target = fast_target().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upkeep.yaml");
        std::fs::write(
            &path,
            format!(
                "page: {{ name: T, url: \"http://127.0.0.1:8080\", timezone: UTC }}\n\
                 components:\n  c: {{ name: C }}\n\
                 monitors:\n  m: {{ component: c, http: {{ url: \"http://{target}/\" }}, interval: 1s, timeout: 1s }}\n"
            ),
        )
        .unwrap();
        let handle =
            ConfigHandle::new(load(&ConfigSource::File(path), jiff::Timestamp::now()).unwrap());

        let a = replica(&store, &handle, "replica-a").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let b = replica(&store, &handle, "replica-b").await;
        tokio::time::sleep(Duration::from_millis(1200)).await;

        // Two replicas, one monitor at 1 s: about four results in four seconds, not eight.
        let together = results_during(&store, "m", Duration::from_secs(4)).await;
        assert!(
            (3..=5).contains(&together),
            "{together} results in 4 s with two replicas"
        );

        // The holder dies without releasing its lease: the other takes over after the lease
        // period and probing goes on.
        a.engine_task.abort();
        a.lease_task.abort();
        a.shard_task.abort();
        let _ = (a.engine_task.await, a.lease_task.await, a.shard_task.await);
        drop(a.stop);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = results_during(&store, "m", Duration::from_secs(3)).await;
        assert!(
            (2..=4).contains(&after),
            "{after} results in 3 s after the takeover"
        );
        let state = store.load_monitor_states().await.unwrap();
        assert_eq!(state[0].status, MonitorStatus::Up);

        b.stop.cancel();
        let _ = (b.engine_task.await, b.lease_task.await, b.shard_task.await);
        store.close().await;
        db.cleanup().await;
    }
}

/// The survivors of a dead replica wake at the same instant and claim its shards together;
/// one that loses a shard to the other takes another free one in the same pass, so every
/// shard is taken at once rather than a pass period later.
#[tokio::test(flavor = "multi_thread")]
async fn survivors_claiming_together_take_every_free_shard_in_one_pass() {
    use upkeep_domain::shards::SHARDS;
    use upkeep_engine::monitoring::shards::ShardKeeper;
    let test = "survivors_claiming_together_take_every_free_shard_in_one_pass";
    let Some(base) = upkeep_store::testing::postgres_url(test) else {
        return;
    };
    let db = upkeep_store::testing::TestDatabase::postgres(&base).await;
    let store = db.store().await;
    // A replica that held every shard and died: its leases run out in two seconds.
    for s in 0..SHARDS {
        let name = format!("shard:{s:02}");
        let ttl = Duration::from_secs(2);
        assert!(
            store
                .try_acquire_lease(&name, "dead", ttl, jiff::Timestamp::now())
                .await
                .unwrap()
        );
    }
    let runs_out = std::time::Instant::now() + Duration::from_secs(2);
    // Passes every 4 s: a shard left to the next pass would be taken 4 s late.
    let settings = LeaseSettings {
        ttl: Duration::from_secs(12),
        renew_every: Duration::from_secs(4),
    };
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    for name in ["survivor-a", "survivor-b"] {
        let (_keeper, task) = ShardKeeper::start(
            store.clone(),
            Arc::new(SystemClock),
            name.into(),
            settings.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(task));
    }
    tokio::time::sleep_until((runs_out + Duration::from_millis(1500)).into()).await;
    let leases = store
        .live_leases("shard:", jiff::Timestamp::now())
        .await
        .unwrap();
    let a = leases.iter().filter(|l| l.holder == "survivor-a").count();
    let b = leases.iter().filter(|l| l.holder == "survivor-b").count();
    assert_eq!(
        (a, b),
        (32, 32),
        "1.5 s after the dead replica's leases ran out"
    );
    stop.cancel();
    for task in tasks {
        task.await.unwrap();
    }
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn pause_and_resume_are_stored_with_their_audit_rows() {
    use upkeep_engine::monitoring::probe::Prober;
    use upkeep_engine::monitoring::scheduler::{self, SchedulerSettings};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.yaml");
    std::fs::write(
        &path,
        "page: { name: T, url: \"http://127.0.0.1:8080\", timezone: UTC }\ncomponents:\n  c: { name: C }\nmonitors:\n  m: { component: c, http: { url: \"http://127.0.0.1:9/\" }, interval: 1h }\n",
    )
    .unwrap();
    let handle =
        ConfigHandle::new(load(&ConfigSource::File(path), jiff::Timestamp::now()).unwrap());
    let db = upkeep_store::testing::TestDatabase::sqlite();
    let store = db.store().await;
    let stop = CancellationToken::new();
    let (monitors, task) = scheduler::start(
        store.clone(),
        handle.subscribe(),
        Arc::new(SystemClock),
        Prober::new().unwrap(),
        SchedulerSettings::default(),
        tokio::sync::watch::channel(true).1,
        stop.clone(),
    )
    .await
    .unwrap();
    let running = tokio::spawn(task);

    let paused = monitors.set_paused("m", true, "cli:ops").await.unwrap();
    assert!(paused.is_some());
    // Answered once written: the state and its audit row are both stored.
    let states = store.load_monitor_states().await.unwrap();
    assert!(states.iter().any(|s| s.monitor_id == "m" && s.paused));
    let audit = store.list_audit(10, None).await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action, "monitor.pause");
    assert_eq!(audit[0].actor, "cli:ops");
    assert_eq!(audit[0].target, "monitor/m");
    assert_eq!(audit[0].after.as_ref().unwrap()["status"], "paused");

    // Pausing again changes nothing and records nothing.
    assert!(
        monitors
            .set_paused("m", true, "cli:ops")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_audit(10, None).await.unwrap().len(), 1);

    assert!(
        monitors
            .set_paused("m", false, "cli:ops")
            .await
            .unwrap()
            .is_some()
    );
    let states = store.load_monitor_states().await.unwrap();
    assert!(states.iter().any(|s| s.monitor_id == "m" && !s.paused));
    let audit = store.list_audit(10, None).await.unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].action, "monitor.resume");

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
}

/// A rollup folding pass folds each monitor's days that ended an hour ago into one row, and
/// only those; totals read the same, and a second pass at the same instant finds nothing.
#[tokio::test]
async fn rollup_folding_passes_fold_the_days_an_hour_over() {
    use jiff::Timestamp;
    use upkeep_engine::monitoring::scheduler;
    use upkeep_store::monitoring::CheckResult;

    for db in databases("rollup_folding_passes_fold_the_days_an_hour_over").await {
        let store = db.store().await;
        // 2026-03-01T00:00Z; two monitors every 10 minutes for three days, one failure a day.
        let base = 1_772_323_200_000_i64;
        let day = 86_400_000_i64;
        let ts = |ms: i64| Timestamp::from_millisecond(base + ms).unwrap();
        let results: Vec<CheckResult> = (0..3 * 144)
            .flat_map(|i| {
                ["api", "web"].map(|m| CheckResult {
                    monitor_id: m.into(),
                    at: ts(i * 600_000),
                    ok: i % 144 != 7,
                    latency_ms: 40 + (i % 5) as u32,
                    status_code: Some(200),
                    failure: None,
                    location: None,
                    down_ms: 0,
                })
            })
            .collect();
        store.record_results(&results).await.unwrap();
        let (from, to) = (ts(3_600_000 + 1_800_000), ts(2 * day + 60_000));
        let before = store.rollup_totals_all(from, to).await.unwrap();

        // At 00:30 on day 3, days 0 and 1 ended more than an hour ago; day 2 did not.
        let now = ts(3 * day + 1_800_000);
        let folded = scheduler::fold_rollup_days_once(&store, now).await.unwrap();
        assert_eq!(
            (folded.days, folded.rows),
            (4, 4 * (144 + 24 + 1)),
            "{:?}",
            store.backend()
        );
        assert_eq!(store.rollup_totals_all(from, to).await.unwrap(), before);
        assert_eq!(before["api"].checks, 2 * 144 - 9 + 1);
        let again = scheduler::fold_rollup_days_once(&store, now).await.unwrap();
        assert_eq!(again.days, 0);
        db.cleanup().await;
    }
}

/// A folding pass folds every whole hour that ended an hour ago, and only those, moves its
/// cursor past them, and a second pass at the same instant finds nothing to do.
#[tokio::test]
async fn folding_passes_fold_the_hours_an_hour_old_and_move_on() {
    use jiff::Timestamp;
    use upkeep_engine::monitoring::scheduler;
    use upkeep_store::monitoring::{CheckResult, MonitorStateRow};

    for db in databases("folding_passes_fold_the_hours_an_hour_old_and_move_on").await {
        let store = db.store().await;
        // 2026-03-01T00:00Z; one monitor every 30 s for three hours, all up.
        let base = 1_772_323_200_000_i64;
        let ts = |ms: i64| Timestamp::from_millisecond(base + ms).unwrap();
        let results: Vec<CheckResult> = (0..360)
            .map(|i| CheckResult {
                monitor_id: "api".into(),
                at: ts(i * 30_000),
                ok: true,
                latency_ms: 40,
                status_code: Some(200),
                failure: None,
                location: None,
                down_ms: 0,
            })
            .collect();
        store.record_results(&results).await.unwrap();
        store
            .save_monitor_states(&[MonitorStateRow {
                monitor_id: "api".into(),
                status: MonitorStatus::Up,
                consecutive_failures: 0,
                consecutive_successes: 360,
                changed_at: ts(0),
                last_check_at: Some(ts(359 * 30_000)),
                paused: false,
            }])
            .await
            .unwrap();

        let text = "page: { name: T, url: 'http://127.0.0.1:8080', timezone: UTC }\n\
                    components: { api: { name: API } }\n\
                    monitors: { api: { component: api, interval: 30s, \
                    http: { url: 'http://127.0.0.1:9/' } } }\n";
        let config =
            upkeep_domain::config::parse("t.yaml", text, &|_| None, Timestamp::now()).unwrap();
        // At 03:30 hours 00 and 01 ended more than an hour ago; hour 02 did not.
        let now = ts(3 * 3_600_000 + 1_800_000);
        let folded = scheduler::fold_once(&store, &config, now).await.unwrap();
        assert_eq!(
            (folded.runs, folded.deleted),
            (2, 238),
            "{:?}",
            store.backend()
        );
        assert_eq!(
            store.next_hour_to_fold().await.unwrap(),
            Some(ts(2 * 3_600_000))
        );
        let rows = store.recent_results("api", 1_000).await.unwrap();
        assert_eq!(rows.len(), 120 + 2);
        assert_eq!(rows.iter().map(|r| r.checks()).sum::<u64>(), 360);
        let again = scheduler::fold_once(&store, &config, now).await.unwrap();
        assert_eq!((again.rows, again.deleted), (0, 0));
        db.cleanup().await;
    }
}
