//! Monitors probed from several locations: the server's own probes of a real loopback target
//! and agents' results in their queue, judged per round by the real scheduler and writer.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_domain::rounds::round_start;
use upkeep_engine::clock::SystemClock;
use upkeep_engine::config::{ConfigHandle, ConfigSource, load};
use upkeep_engine::monitoring::probe::Prober;
use upkeep_engine::monitoring::scheduler::{self, MonitorHandle, SchedulerSettings};
use upkeep_store::Store;
use upkeep_store::testing::TestDatabase;

const INTERVAL: Duration = Duration::from_secs(1);

/// What each agent location says in every round: `Some(ok)`, or nothing.
#[derive(Clone, Copy)]
struct Agents {
    eu: Option<bool>,
    us: Option<bool>,
}

struct Running {
    store: Store,
    monitors: MonitorHandle,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    feeder: tokio::task::JoinHandle<()>,
    _db: TestDatabase,
    _dir: tempfile::TempDir,
    /// Kept: the scheduler stops when its configuration's sender goes.
    _config: ConfigHandle,
}

/// Starts the scheduler on monitor `m` (tcp to a live loopback listener, probed from
/// `server`, `eu-1` and `us-1`, quorum 2, failure_threshold 2) and an agent feeder that
/// queues each location's result at the start of every round, as ingest does.
async fn start(agents: Agents) -> Running {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.yaml");
    let text = format!(
        "page: {{ name: T, url: \"http://127.0.0.1:8080\", timezone: UTC }}\n\
         components:\n  c: {{ name: C }}\nmonitors:\n  \
         m: {{ component: c, tcp: {{ address: \"{target}\" }}, interval: 1s, timeout: 1s, \
         failure_threshold: 2, locations: [server, eu-1, us-1] }}\n"
    );
    std::fs::write(&path, text).unwrap();
    let handle = ConfigHandle::new(load(&ConfigSource::File(path), Timestamp::now()).unwrap());
    let db = TestDatabase::sqlite();
    let store = db.store().await;
    let stop = CancellationToken::new();
    let settings = SchedulerSettings {
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
    let task = tokio::spawn(task);
    let feeder = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut id = 0;
            loop {
                let now = Timestamp::now();
                let round = round_start("m", INTERVAL, now);
                for (location, said) in [("eu-1", agents.eu), ("us-1", agents.us)] {
                    if let Some(ok) = said {
                        id += 1;
                        queue(&store, id, location, round.as_millisecond() + 20, ok).await;
                    }
                }
                let next = round.as_millisecond() + 1_000 - now.as_millisecond();
                tokio::time::sleep(Duration::from_millis(u64::try_from(next).unwrap_or(0) + 1))
                    .await;
            }
        })
    };
    Running {
        store,
        monitors,
        stop,
        task,
        feeder,
        _db: db,
        _dir: dir,
        _config: handle,
    }
}

/// Queues one agent result, as the ingest endpoint stores it.
async fn queue(store: &Store, id: i64, location: &str, at: i64, ok: bool) {
    let failure = if ok { "NULL" } else { "'connection refused'" };
    let sql = format!(
        "INSERT INTO agent_results (id, agent, monitor_id, location, at, received_at, ok, latency_ms, status_code, failure) \
         VALUES ({id}, 'agent-{location}', 'm', '{location}', {at}, {at}, {}, 7, NULL, {failure})",
        i32::from(ok)
    );
    upkeep_store::testing::execute(store, &sql).await.unwrap();
}

impl Running {
    async fn wait_for(&self, what: &str, pred: impl Fn(&MonitorHandle) -> bool) {
        for _ in 0..150 {
            if pred(&self.monitors) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "timed out waiting for {what}: {:?}",
            self.monitors.view("m")
        );
    }

    async fn events(&self, source: &EventSource) -> Vec<(EventState, EventState, String)> {
        let mut events: Vec<_> = self
            .store
            .list_monitor_events(Some(source), 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.from, e.to, e.reason))
            .collect();
        events.reverse();
        events
    }

    async fn stop(self) {
        self.feeder.abort();
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

fn status(m: &MonitorHandle) -> Option<MonitorStatus> {
    m.view("m").map(|v| v.state.status)
}

#[tokio::test]
async fn one_location_of_three_failing_leaves_the_monitor_up_and_alerts_on_its_own() {
    let run = start(Agents {
        eu: Some(false),
        us: Some(true),
    })
    .await;
    run.wait_for("eu-1 alerting", |m| {
        m.view("m")
            .is_some_and(|v| v.locations.get("eu-1").is_some_and(|l| l.warned))
    })
    .await;
    assert_eq!(status(&run.monitors), Some(MonitorStatus::Up));
    let view = run.monitors.view("m").unwrap();
    assert!(view.locations["eu-1"].failing_since.is_some());
    assert!(view.locations["us-1"].last.as_ref().is_some_and(|l| l.ok));
    assert!(view.locations["server"].last.as_ref().is_some_and(|l| l.ok));
    tokio::time::sleep(Duration::from_millis(300)).await; // one flush
    let located = run.events(&EventSource::Location("m@eu-1".into())).await;
    assert_eq!(located.len(), 1, "{located:?}");
    assert_eq!(
        (located[0].0, located[0].1),
        (EventState::Ok, EventState::Warning)
    );
    assert!(
        located[0].2.contains("below its quorum of 2"),
        "{}",
        located[0].2
    );
    assert!(
        located[0].2.contains("connection refused"),
        "{}",
        located[0].2
    );
    // Never down, and the rounds are the monitor's results; each location's result is kept
    // with its location.
    let monitor = run.events(&EventSource::Monitor("m".into())).await;
    assert!(
        monitor.iter().all(|e| e.1 != EventState::Down),
        "{monitor:?}"
    );
    let results = run.store.recent_results("m", 200).await.unwrap();
    for location in ["server", "eu-1", "us-1"] {
        assert!(
            results
                .iter()
                .any(|r| r.location.as_deref() == Some(location)),
            "{location}: {results:?}"
        );
    }
    let rounds: Vec<_> = results.iter().filter(|r| r.location.is_none()).collect();
    assert!(
        !rounds.is_empty() && rounds.iter().all(|r| r.ok),
        "{rounds:?}"
    );
    // The queue is emptied by the writes that judged it.
    assert!(run.store.pending_agent_results(100).await.unwrap().len() <= 2);
    run.stop().await;
}

#[tokio::test]
async fn two_locations_of_three_failing_take_the_monitor_down() {
    let run = start(Agents {
        eu: Some(false),
        us: Some(false),
    })
    .await;
    run.wait_for("down", |m| status(m) == Some(MonitorStatus::Down))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let monitor = run.events(&EventSource::Monitor("m".into())).await;
    let down = monitor.iter().find(|e| e.1 == EventState::Down).unwrap();
    assert!(
        down.2
            .contains("fails from 2 of 3 locations (eu-1, us-1), quorum 2"),
        "{}",
        down.2
    );
    run.stop().await;
}

#[tokio::test]
async fn silent_agents_make_the_monitor_unknown_never_down() {
    // Only the server reports, and it sees the target up: one result of a quorum of two.
    let run = start(Agents { eu: None, us: None }).await;
    run.wait_for("unknown", |m| status(m) == Some(MonitorStatus::Unknown))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let monitor = run.events(&EventSource::Monitor("m".into())).await;
    assert!(
        monitor
            .iter()
            .all(|e| e.1 != EventState::Down && e.1 != EventState::Up),
        "{monitor:?}"
    );
    let unknown = monitor.iter().find(|e| e.1 == EventState::Unknown).unwrap();
    assert!(
        unknown
            .2
            .contains("1 of 3 locations reported (silent: eu-1, us-1)"),
        "{}",
        unknown.2
    );
    run.stop().await;
}

#[tokio::test]
async fn a_late_result_is_history_and_changes_nothing() {
    let run = start(Agents {
        eu: Some(true),
        us: Some(true),
    })
    .await;
    run.wait_for("up", |m| status(m) == Some(MonitorStatus::Up))
        .await;
    // A failure from a round long judged (an agent back from an outage).
    let old = round_start("m", INTERVAL, Timestamp::now()).as_millisecond() - 30_000;
    queue(&run.store, 1_000_000, "eu-1", old, false).await;
    queue(&run.store, 1_000_001, "us-1", old, false).await;
    for _ in 0..50 {
        let results = run.store.recent_results("m", 1000).await.unwrap();
        if results
            .iter()
            .filter(|r| r.at.as_millisecond() == old)
            .count()
            == 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let results = run.store.recent_results("m", 1000).await.unwrap();
    let late: Vec<_> = results
        .iter()
        .filter(|r| r.at.as_millisecond() == old)
        .collect();
    assert_eq!(late.len(), 2, "both stored as history");
    assert!(late.iter().all(|r| r.location.is_some() && !r.ok));
    assert_eq!(status(&run.monitors), Some(MonitorStatus::Up));
    let monitor = run.events(&EventSource::Monitor("m".into())).await;
    assert!(
        monitor.iter().all(|e| e.1 != EventState::Down),
        "{monitor:?}"
    );
    run.stop().await;
}

#[tokio::test]
async fn queued_results_no_round_will_judge_are_pruned() {
    let config = upkeep_domain::config::parse(
        "t.yaml",
        "page: { name: T, url: \"http://127.0.0.1:8080\", timezone: UTC }\n\
         components:\n  c: { name: C }\nmonitors:\n  \
         m: { component: c, tcp: { address: \"127.0.0.1:9\" }, locations: [server, eu-1] }\n  \
         solo: { component: c, tcp: { address: \"127.0.0.1:9\" } }\n",
        &|_| None,
        Timestamp::now(),
    )
    .unwrap_or_else(|e| panic!("{:?}", e.0));
    let db = TestDatabase::sqlite();
    let store = db.store().await;
    let now = Timestamp::now().as_millisecond();
    let day = 86_400_000;
    let rows = [
        (1, "m", "eu-1", now - 1_000),       // kept: judged by the writer
        (2, "m", "eu-1", now - day - 1_000), // older than the ingest window
        (3, "m", "us-1", now - 1_000),       // m is not probed from us-1
        (4, "gone", "eu-1", now - 1_000),    // no such monitor any more
        (5, "solo", "eu-1", now - 1_000),    // probed from the server alone
    ];
    for (id, monitor, location, at) in rows {
        let sql = format!(
            "INSERT INTO agent_results (id, agent, monitor_id, location, at, received_at, ok, latency_ms) \
             VALUES ({id}, 'a', '{monitor}', '{location}', {at}, {at}, 1, 7)"
        );
        upkeep_store::testing::execute(&store, &sql).await.unwrap();
    }
    let pruned = upkeep_engine::service::agents::prune(&store, &config, Timestamp::now())
        .await
        .unwrap();
    assert_eq!((pruned.old_results, pruned.unassigned_results), (1, 3));
    let left: Vec<i64> = store
        .pending_agent_results(10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, [1]);
}
