//! The rollout driver with real parts, on SQLite and PostgreSQL: three tenants, each with a
//! local HTTP target whose health a test flips, probed by the tenant's own monitor through the
//! real prober; real deploy and rollback scripts that record every invocation with its
//! idempotency key; the maintenance engine starting the window; a manual clock moved in 30 s
//! steps; webhook subscribers of each tenant on a real receiver.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use upkeep_domain::config::{Config, parse};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::notify::routing::Scope;
use upkeep_domain::rollout::{Outcome, RolloutState, Step, TenantState};
use upkeep_engine::clock::ManualClock;
use upkeep_engine::maintenance::{EngineState, materialise_all, step};
use upkeep_engine::monitoring::probe::Prober;
use upkeep_engine::notify::send::Senders;
use upkeep_engine::rollout::driver::drive_once;
use upkeep_store::Store;
use upkeep_store::maintenance::MaintenanceFilter;
use upkeep_store::monitoring::CheckResult;
use upkeep_store::rollouts::{AttemptStart, RolloutRecord, Writer};
use upkeep_store::testing::databases;

use crate::probe_support::{Reply, Server, http_server};
use crate::receiver::{Answer, Receiver};

const TENANTS: [&str; 3] = ["acme", "globex", "initech"];

/// The tenants' targets: each answers its current status.
struct Targets {
    servers: Vec<Server>,
    health: Vec<Arc<AtomicU16>>,
}

impl Targets {
    async fn start() -> Targets {
        let mut servers = Vec::new();
        let mut health = Vec::new();
        for _ in TENANTS {
            let status = Arc::new(AtomicU16::new(200));
            let s = Arc::clone(&status);
            servers.push(
                http_server(move |_, _| Reply::text(s.load(Ordering::SeqCst), "health")).await,
            );
            health.push(status);
        }
        Targets { servers, health }
    }

    fn set(&self, tenant: &str, status: u16) {
        let i = TENANTS.iter().position(|t| *t == tenant).unwrap();
        self.health[i].store(status, Ordering::SeqCst);
    }
}

/// A work directory with the deploy/rollback script and its log.
struct Scripts {
    dir: tempfile::TempDir,
}

impl Scripts {
    fn new(sleep: u32) -> Scripts {
        let dir = tempfile::tempdir().unwrap();
        let script = format!(
            "#!/bin/sh\necho \"$1 $UPKEEP_TENANT $UPKEEP_IDEMPOTENCY_KEY $UPKEEP_VAR_PORT\" >> '{}'\nsleep {sleep}\n",
            dir.path().join("calls.log").display()
        );
        std::fs::write(dir.path().join("step.sh"), script).unwrap();
        Scripts { dir }
    }

    fn script(&self) -> PathBuf {
        self.dir.path().join("step.sh")
    }

    /// Every invocation: `STEP TENANT KEY PORT`.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A daily window at 02:00 UTC of `duration` with the three tenants in `slot`-long slots and
/// a rollout of the script; `rollout_extra` adds keys to `rollout:`.
fn config(
    targets: &Targets,
    script: &Path,
    duration: &str,
    slot: &str,
    rollout_extra: &str,
) -> Config {
    config_in(
        "UTC",
        "FREQ=DAILY;BYHOUR=2;BYMINUTE=0",
        targets,
        script,
        duration,
        slot,
        rollout_extra,
    )
}

/// [`config`] with the region, the page and the window in `zone`, the window on `rrule`.
fn config_in(
    zone: &str,
    rrule: &str,
    targets: &Targets,
    script: &Path,
    duration: &str,
    slot: &str,
    rollout_extra: &str,
) -> Config {
    let tenants: String = TENANTS
        .iter()
        .zip(&targets.servers)
        .map(|(id, s)| {
            format!(
                "  {id}: {{ name: {id}, region: eu, vars: {{ port: \"{}\" }} }}\n",
                s.addr.port()
            )
        })
        .collect();
    let text = format!(
        r#"
page: {{ name: T, url: "https://status.example", timezone: {zone} }}
regions:
  eu: {{ timezone: {zone} }}
tenants:
{tenants}
tenant_services:
  components:
    app: {{ name: "{{tenant.name}} app" }}
  monitors:
    health:
      component: app
      http: {{ url: "http://127.0.0.1:{{tenant.vars.port}}/health" }}
      interval: 30s
components:
  core: {{ name: Core }}
maintenance:
  policy: {{ tenant_slot: {slot}, outside_business_hours: false }}
  windows:
    - id: nightly
      title: Nightly update
      timezone: {zone}
      rrule: "{rrule}"
      duration: {duration}
      components: [core]
      tenants: all
      rollout:
        action: {{ command: "sh '{script}' deploy", timeout: 1m }}
        rollback: {{ command: "sh '{script}' rollback", timeout: 1m }}
        settle: 2m
        gate: {{ min_samples: 2, no_data: pause }}
        failure_budget: 0
        pause_timeout: 3m
{rollout_extra}
"#,
        script = script.display()
    );
    parse("t.yaml", &text, &|_| None, t("2026-03-20T00:00:00Z"))
        .unwrap_or_else(|e| panic!("{:?}\n{text}", e.0))
}

/// The parts a test drives.
struct Rig {
    store: Store,
    cfg: Config,
    clock: ManualClock,
    http: Senders,
    prober: Prober,
    engine: EngineState,
    /// Whether the gate monitors are probed at each step.
    probing: bool,
}

impl Rig {
    async fn new(store: Store, cfg: Config) -> Rig {
        Rig::new_at(store, cfg, t("2026-03-27T12:00:00Z")).await
    }

    /// A rig whose clock starts at `start` (windows materialised for two days from there).
    async fn new_at(store: Store, cfg: Config, start: Timestamp) -> Rig {
        materialise_all(&store, &cfg, start, Duration::from_secs(2 * 86_400))
            .await
            .unwrap();
        Rig {
            store,
            cfg,
            clock: ManualClock::new(start),
            http: Senders::new(None, Duration::from_secs(5)).unwrap(),
            prober: Prober::new().unwrap(),
            engine: EngineState::default(),
            probing: true,
        }
    }

    async fn maintenance_id(&self) -> String {
        let mut all = self
            .store
            .list_maintenances(MaintenanceFilter::All, 100)
            .await
            .unwrap();
        all.sort_by_key(|m| m.starts_at);
        all[0].id.clone()
    }

    /// One step at `at`: the maintenance engine, the driver, then a probe of every tenant's
    /// monitor (as the scheduler would, every 30 s).
    async fn step_at(&mut self, at: Timestamp, fence: i64) {
        self.clock.set(at);
        step(&self.store, &self.cfg, at, &mut self.engine)
            .await
            .unwrap();
        drive_once(&self.store, &self.cfg, &self.clock, &self.http, fence)
            .await
            .unwrap();
        if self.probing {
            let mut results = Vec::new();
            // Every tenant-owned monitor (the gates' default), as the scheduler would.
            let owned: Vec<String> = self
                .cfg
                .monitors
                .iter()
                .filter(|(_, m)| {
                    self.cfg
                        .components
                        .get(&m.component)
                        .is_some_and(|c| c.tenant.is_some())
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in owned {
                let outcome = self.prober.probe(&self.cfg.monitors[&id]).await;
                results.push(CheckResult {
                    monitor_id: id,
                    at,
                    ok: outcome.ok,
                    latency_ms: outcome.latency_ms,
                    status_code: outcome.status_code,
                    failure: outcome.failure,
                    location: None,
                    down_ms: 0,
                });
            }
            self.store.record_results(&results).await.unwrap();
        }
    }

    /// Steps every 30 s from `from` to `until` (inclusive).
    async fn run(&mut self, from: &str, until: &str) {
        let (mut at, until) = (t(from), t(until));
        while at <= until {
            self.step_at(at, 1).await;
            at += SignedDuration::from_secs(30);
        }
    }

    async fn rollout(&self) -> RolloutRecord {
        let id = self.maintenance_id().await;
        self.store.rollout(&id).await.unwrap().unwrap()
    }

    async fn rollout_events(&self) -> Vec<(EventState, String)> {
        let id = self.maintenance_id().await;
        self.store
            .list_monitor_events(Some(&EventSource::Rollout(id)), 100)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .map(|e| (e.to, e.reason))
            .collect()
    }
}

fn states(r: &RolloutRecord) -> BTreeMap<String, TenantState> {
    r.tenants
        .iter()
        .map(|t| (t.tenant.clone(), t.state))
        .collect()
}

#[tokio::test]
async fn every_tenant_passes_its_gate_in_turn() {
    for db in databases("rollout_all_pass").await {
        let targets = Targets::start().await;
        let scripts = Scripts::new(0);
        let cfg = config(&targets, &scripts.script(), "12m", "4m", "");
        let mut rig = Rig::new(db.store().await, cfg).await;
        rig.run("2026-03-28T01:59:30Z", "2026-03-28T02:12:00Z")
            .await;
        let r = rig.rollout().await;
        assert_eq!(r.state, RolloutState::Completed, "{r:#?}");
        assert!(
            r.tenants.iter().all(|t| t.state == TenantState::Passed),
            "{r:#?}"
        );
        let id = rig.maintenance_id().await;
        let ports: Vec<u16> = targets.servers.iter().map(|s| s.addr.port()).collect();
        assert_eq!(
            scripts.calls(),
            TENANTS
                .iter()
                .zip(ports)
                .map(|(t, p)| format!("deploy {t} {id}.{t}.action.1 {p}"))
                .collect::<Vec<_>>()
        );
        // One slot each, in slot order; every step inside its slot.
        for tenant in &r.tenants {
            let a = &tenant.attempts[0];
            assert!(a.started_at >= tenant.slot_start && a.started_at < tenant.slot_end);
            assert_eq!(a.outcome, Some(Outcome::Succeeded));
            let evidence = tenant.evidence.as_ref().unwrap();
            assert!(evidence.monitors[0].ok >= 2, "{evidence:?}");
        }
        assert!(rig.rollout_events().await.is_empty());
    }
}

/// Europe/Rome falls back at 03:00 CEST on 2026-10-25 (01:00 UTC): a window at 02:50 local
/// (the first 02:50, in CEST: 00:50 UTC) with 6-minute slots has its second slot across the
/// change. Slots are absolute time: 00:50, 00:56 and 01:02 UTC, six minutes each; every tenant
/// is acted on once, inside its slot, and the rollout completes.
#[tokio::test]
async fn a_rollout_across_the_autumn_clock_change_keeps_its_slots_in_absolute_time() {
    for db in databases("rollout_across_dst").await {
        let targets = Targets::start().await;
        let scripts = Scripts::new(0);
        let cfg = config_in(
            "Europe/Rome",
            "FREQ=DAILY;BYHOUR=2;BYMINUTE=50",
            &targets,
            &scripts.script(),
            "40m",
            "6m",
            "",
        );
        let mut rig = Rig::new_at(db.store().await, cfg, t("2026-10-24T12:00:00Z")).await;
        rig.run("2026-10-25T00:49:30Z", "2026-10-25T01:12:00Z")
            .await;
        let r = rig.rollout().await;
        assert_eq!(r.state, RolloutState::Completed, "{r:#?}");
        let slots: Vec<(Timestamp, Timestamp)> = r
            .tenants
            .iter()
            .map(|t| (t.slot_start, t.slot_end))
            .collect();
        assert_eq!(
            slots,
            vec![
                (t("2026-10-25T00:50:00Z"), t("2026-10-25T00:56:00Z")),
                (t("2026-10-25T00:56:00Z"), t("2026-10-25T01:02:00Z")),
                (t("2026-10-25T01:02:00Z"), t("2026-10-25T01:08:00Z")),
            ]
        );
        for tenant in &r.tenants {
            assert_eq!(tenant.state, TenantState::Passed, "{r:#?}");
            assert_eq!(tenant.attempts.len(), 1, "{r:#?}");
            let a = &tenant.attempts[0];
            assert!(a.started_at >= tenant.slot_start && a.started_at < tenant.slot_end);
        }
        assert_eq!(scripts.calls().len(), 3, "{:?}", scripts.calls());
    }
}

/// The shipped example (`examples/upkeep.yaml`) with its tenants' hosts pointed at local
/// targets and its example scripts: the first Saturday's monthly window rolls the canary acme,
/// then globex, each once, inside its own slot, gated by its own `app-health` monitor.
#[tokio::test]
async fn the_example_configuration_rolls_every_tenant_through_its_own_slot() {
    for db in databases("rollout_example_config").await {
        let targets = Targets::start().await;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(root.join("examples/upkeep.yaml"))
            .unwrap()
            .replace("https://{tenant.vars.host}", "http://{tenant.vars.host}")
            .replace(
                "acme.eu.example.com",
                &format!("127.0.0.1:{}", targets.servers[0].addr.port()),
            )
            .replace(
                "globex.us.example.com",
                &format!("127.0.0.1:{}", targets.servers[1].addr.port()),
            )
            .replace(
                "sh examples/rollout/",
                &format!("sh {}/examples/rollout/", root.display()),
            );
        let env = |name: &str| Some(format!("example-{name}-0123456789abcdef"));
        let cfg = parse("upkeep.yaml", &text, &env, t("2026-12-01T00:00:00Z"))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut rig = Rig::new_at(db.store().await, cfg, t("2026-12-04T12:00:00Z")).await;
        // Saturday 5 December 2026, 22:00 in Rome (21:00 UTC): acme (the canary) at 21:00,
        // globex at 21:15, each settling for 5 minutes.
        rig.run("2026-12-05T20:59:30Z", "2026-12-05T21:25:00Z")
            .await;
        let r = rig.rollout().await;
        assert_eq!(r.state, RolloutState::Completed, "{r:#?}");
        let order: Vec<&str> = r.tenants.iter().map(|t| t.tenant.as_str()).collect();
        assert_eq!(order, ["acme", "globex"]);
        assert_eq!(r.tenants[0].slot_start, t("2026-12-05T21:00:00Z"));
        for (tenant, target) in r.tenants.iter().zip(&targets.servers) {
            assert_eq!(tenant.state, TenantState::Passed, "{r:#?}");
            assert_eq!(tenant.attempts.len(), 1, "{r:#?}");
            let detail = tenant.attempts[0].detail.as_deref().unwrap_or_default();
            assert!(
                detail.contains(&format!(
                    "deploying {} (127.0.0.1:{}) attempt 1",
                    tenant.tenant,
                    target.addr.port()
                )),
                "{detail}"
            );
            let evidence = tenant.evidence.as_ref().unwrap();
            assert_eq!(
                evidence.monitors[0].monitor,
                format!("{}.app-health", tenant.tenant)
            );
            assert!(evidence.monitors[0].ok >= 3, "{evidence:?}");
        }
    }
}

#[tokio::test]
async fn a_failed_gate_rolls_the_tenant_back_once_and_halts_the_rollout() {
    for db in databases("rollout_gate_fails").await {
        let targets = Targets::start().await;
        let scripts = Scripts::new(0);
        let cfg = config(&targets, &scripts.script(), "12m", "4m", "");
        let mut rig = Rig::new(db.store().await, cfg).await;
        rig.run("2026-03-28T02:00:00Z", "2026-03-28T02:03:30Z")
            .await;
        // globex's update breaks it.
        targets.set("globex", 503);
        rig.run("2026-03-28T02:04:00Z", "2026-03-28T02:12:00Z")
            .await;
        let r = rig.rollout().await;
        assert_eq!(r.state, RolloutState::Halted, "{r:#?}");
        let s = states(&r);
        assert_eq!(s["acme"], TenantState::Passed);
        assert_eq!(s["globex"], TenantState::RolledBack);
        assert_eq!(s["initech"], TenantState::Pending);
        let globex = r.tenants.iter().find(|t| t.tenant == "globex").unwrap();
        let evidence = globex.evidence.as_ref().unwrap();
        assert!(
            evidence.reason.contains("globex.health failed"),
            "{evidence:?}"
        );
        let calls = scripts.calls();
        let id = rig.maintenance_id().await;
        let rollbacks: Vec<&String> = calls.iter().filter(|c| c.starts_with("rollback")).collect();
        assert_eq!(rollbacks.len(), 1, "{calls:?}");
        assert!(rollbacks[0].starts_with(&format!("rollback globex {id}.globex.rollback.1")));
        assert!(!calls.iter().any(|c| c.contains("initech")), "{calls:?}");
        // Operators are alerted: the gate (warning), then the halt (critical); no incident.
        let events = rig.rollout_events().await;
        let levels: Vec<EventState> = events.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            levels,
            [EventState::Warning, EventState::Critical],
            "{events:?}"
        );
        assert!(events[0].1.contains("globex's gate failed"), "{events:?}");
        assert!(rig.store.list_incidents(10, true).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn no_data_pauses_then_rolls_back_at_the_pause_timeout() {
    for db in databases("rollout_no_data").await {
        let targets = Targets::start().await;
        let scripts = Scripts::new(0);
        let cfg = config(&targets, &scripts.script(), "12m", "4m", "");
        let mut rig = Rig::new(db.store().await, cfg).await;
        rig.probing = false;
        rig.run("2026-03-28T02:00:00Z", "2026-03-28T02:02:00Z")
            .await;
        let r = rig.rollout().await;
        assert_eq!(r.state, RolloutState::Paused, "{r:#?}");
        assert_eq!(states(&r)["acme"], TenantState::Paused);
        assert!(
            r.tenants[0]
                .decision
                .as_deref()
                .unwrap()
                .contains("no data"),
            "{r:#?}"
        );
        // Nobody decides within the pause timeout (3 minutes): rolled back, and halted.
        rig.run("2026-03-28T02:02:30Z", "2026-03-28T02:04:30Z")
            .await;
        assert_eq!(states(&rig.rollout().await)["acme"], TenantState::Paused);
        rig.run("2026-03-28T02:05:00Z", "2026-03-28T02:06:00Z")
            .await;
        let r = rig.rollout().await;
        assert_eq!(states(&r)["acme"], TenantState::RolledBack, "{r:#?}");
        assert_eq!(r.state, RolloutState::Halted);
        let calls = scripts.calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(calls[1].starts_with("rollback acme"));
        let levels: Vec<EventState> = rig.rollout_events().await.iter().map(|e| e.0).collect();
        assert_eq!(levels.first(), Some(&EventState::Warning));
        assert_eq!(levels.last(), Some(&EventState::Critical));
    }
}

#[tokio::test]
async fn a_tenant_the_window_has_no_time_left_for_is_skipped() {
    for db in databases("rollout_window_short").await {
        let targets = Targets::start().await;
        let scripts = Scripts::new(0);
        // Slots of 2 minutes in 6; the step needs 1 + 2 minutes: the third cannot start.
        let cfg = config(&targets, &scripts.script(), "6m", "2m", "");
        let mut rig = Rig::new(db.store().await, cfg).await;
        rig.run("2026-03-28T02:00:00Z", "2026-03-28T02:07:00Z")
            .await;
        let r = rig.rollout().await;
        assert_eq!(r.state, RolloutState::Completed, "{r:#?}");
        let last = r.tenants.last().unwrap();
        assert_eq!(last.state, TenantState::Skipped, "{r:#?}");
        assert!(
            last.decision.as_deref().unwrap().starts_with("not started"),
            "{r:#?}"
        );
        assert!(last.attempts.is_empty());
        assert!(!scripts.calls().iter().any(|c| c.contains(&last.tenant)));
    }
}

/// Stores acme's first action attempt without running it, as a crash in the middle would
/// leave it.
async fn crash_during_first_action(rig: &mut Rig) -> String {
    rig.run("2026-03-28T01:59:30Z", "2026-03-28T01:59:30Z")
        .await;
    rig.clock.set(t("2026-03-28T02:00:00Z"));
    step(
        &rig.store,
        &rig.cfg,
        t("2026-03-28T02:00:00Z"),
        &mut rig.engine,
    )
    .await
    .unwrap();
    // The driver of the first holder (token 1) created the rollout and set it running, then
    // stopped right after storing the attempt's intent.
    let id = rig.maintenance_id().await;
    drive_created(rig).await;
    let r = rig.rollout().await;
    assert_eq!(r.state, RolloutState::Running);
    let key = rig
        .store
        .begin_attempt(
            &id,
            r.revision,
            Writer::Driver(1),
            &AttemptStart {
                tenant: "acme".into(),
                step: Step::Action,
                attempt: 1,
                resumed: false,
            },
            t("2026-03-28T02:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(key, format!("{id}.acme.action.1"));
    key
}

/// Creates the rollout and moves it to running, without running any step.
async fn drive_created(rig: &mut Rig) {
    let id = rig.maintenance_id().await;
    let m = rig.store.get_maintenance(&id).await.unwrap().unwrap();
    let spec = m.rollout.clone().unwrap();
    let tenants = vec![upkeep_store::rollouts::PlannedTenant {
        tenant: "acme".into(),
        slot_start: m.starts_at,
        slot_end: m.starts_at + SignedDuration::from_mins(4),
    }];
    rig.store
        .create_rollout(&id, &spec, &tenants, Writer::Driver(1), m.starts_at)
        .await
        .unwrap();
    let r = rig.store.rollout(&id).await.unwrap().unwrap();
    rig.store
        .apply_rollout_change(
            &id,
            r.revision,
            Writer::Driver(1),
            &upkeep_domain::rollout::machine::Change {
                rollout: Some(RolloutState::Running),
                reason: "the maintenance started".into(),
                ..Default::default()
            },
            None,
            &[],
            m.starts_at,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_attempt_of_unknown_outcome_halts_and_is_not_run_again() {
    for db in databases("rollout_unknown_halt").await {
        let targets = Targets::start().await;
        let scripts = Scripts::new(0);
        let cfg = config(&targets, &scripts.script(), "12m", "4m", "");
        let mut rig = Rig::new(db.store().await, cfg).await;
        crash_during_first_action(&mut rig).await;
        // The restarted replica holds a newer token.
        rig.clock.set(t("2026-03-28T02:00:30Z"));
        drive_once(&rig.store, &rig.cfg, &rig.clock, &rig.http, 2)
            .await
            .unwrap();
        let r = rig.rollout().await;
        assert_eq!(r.state, RolloutState::Halted, "{r:#?}");
        assert_eq!(r.tenants[0].state, TenantState::Halted);
        assert_eq!(r.tenants[0].attempts[0].outcome, Some(Outcome::Unknown));
        assert!(scripts.calls().is_empty(), "{:?}", scripts.calls());
        let levels: Vec<EventState> = rig.rollout_events().await.iter().map(|e| e.0).collect();
        assert_eq!(levels, [EventState::Critical]);
        // The old holder, back from a pause, is fenced off and changes nothing.
        rig.clock.set(t("2026-03-28T02:01:00Z"));
        drive_once(&rig.store, &rig.cfg, &rig.clock, &rig.http, 1)
            .await
            .unwrap();
        assert_eq!(rig.rollout().await.revision, r.revision);
    }
}

#[tokio::test]
async fn an_attempt_of_unknown_outcome_is_retried_with_the_same_key() {
    for db in databases("rollout_unknown_retry").await {
        let targets = Targets::start().await;
        let scripts = Scripts::new(0);
        let cfg = config(
            &targets,
            &scripts.script(),
            "12m",
            "4m",
            "        on_unknown: retry",
        );
        let mut rig = Rig::new(db.store().await, cfg).await;
        let key = crash_during_first_action(&mut rig).await;
        rig.clock.set(t("2026-03-28T02:00:30Z"));
        drive_once(&rig.store, &rig.cfg, &rig.clock, &rig.http, 2)
            .await
            .unwrap();
        let r = rig.rollout().await;
        assert_eq!(r.tenants[0].state, TenantState::Settling, "{r:#?}");
        let a = &r.tenants[0].attempts[0];
        assert_eq!(
            (a.attempt, a.runs, a.outcome),
            (1, 2, Some(Outcome::Succeeded))
        );
        let calls = scripts.calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert!(
            calls[0].starts_with(&format!("deploy acme {key} ")),
            "{calls:?}"
        );
    }
}

/// Fans out and delivers every notice written so far.
async fn deliver_all(rig: &Rig) {
    let loaded = Arc::new(upkeep_engine::config::LoadedConfig {
        config: rig.cfg.clone(),
        source: upkeep_engine::config::ConfigSource::EmbeddedDemo,
        digest: String::new(),
        loaded_at: Timestamp::UNIX_EPOCH,
    });
    let clock: upkeep_engine::clock::SharedClock = Arc::new(rig.clock.clone());
    let settings = upkeep_engine::notify::DeliverySettings {
        worker: "w1".into(),
        batch: 16,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        upkeep_engine::notify::fan_out_once(&rig.store, &rig.cfg, clock.now())
            .await
            .unwrap();
        upkeep_engine::notify::deliver_once(&rig.store, &loaded, &rig.http, &settings, &clock)
            .await
            .unwrap();
        let stats = rig.store.outbox_stats().await.unwrap();
        if stats.pending == 0 && stats.unfanned == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn each_tenants_subscribers_hear_of_their_own_update_only() {
    for db in databases("rollout_tenant_notices").await {
        let rx = Receiver::start(|_, _| Answer::Status(200)).await;
        let targets = Targets::start().await;
        let scripts = Scripts::new(0);
        let cfg = config(&targets, &scripts.script(), "12m", "4m", "");
        let mut rig = Rig::new(db.store().await, cfg).await;
        // One webhook subscriber per tenant, and one of the whole page.
        for name in ["acme", "globex", "initech", "everyone"] {
            let scope = Scope {
                components: vec![],
                tenant: (name != "everyone").then(|| name.to_owned()),
            };
            rig.store
                .create_webhook_subscriber(
                    &format!("{}/{name}", rx.url),
                    None,
                    &scope,
                    "admin",
                    t("2026-03-27T12:00:00Z"),
                )
                .await
                .unwrap();
        }
        // acme passes; globex's update breaks it, so it is rolled back and the rollout halts
        // before initech.
        rig.run("2026-03-28T02:00:00Z", "2026-03-28T02:03:30Z")
            .await;
        targets.set("globex", 503);
        rig.run("2026-03-28T02:04:00Z", "2026-03-28T02:12:00Z")
            .await;
        let r = rig.rollout().await;
        let s = states(&r);
        assert_eq!(
            (s["acme"], s["globex"], s["initech"]),
            (
                TenantState::Passed,
                TenantState::RolledBack,
                TenantState::Pending
            ),
            "{r:#?}"
        );
        deliver_all(&rig).await;
        let id = rig.maintenance_id().await;
        let heard = |who: &str| -> Vec<serde_json::Value> {
            rx.accepted()
                .into_iter()
                .filter(|req| req.path == format!("/{who}"))
                .map(|req| serde_json::from_slice::<serde_json::Value>(&req.body).unwrap())
                .filter(|b| b["event"].as_str().unwrap().starts_with("rollout."))
                .collect()
        };
        let events = |bodies: &[serde_json::Value]| -> Vec<String> {
            bodies
                .iter()
                .map(|b| b["event"].as_str().unwrap().to_owned())
                .collect()
        };
        let acme = heard("acme");
        assert_eq!(events(&acme), ["rollout.started", "rollout.completed"]);
        let globex = heard("globex");
        assert_eq!(events(&globex), ["rollout.started", "rollout.rolled_back"]);
        assert!(heard("initech").is_empty());
        assert!(heard("everyone").is_empty());
        for (bodies, tenant) in [(&acme, "acme"), (&globex, "globex")] {
            for b in bodies {
                let data = &b["data"];
                assert_eq!(data["tenant"], tenant, "{b}");
                assert_eq!(data["id"], id.as_str(), "{b}");
                assert_eq!(data["title"], "Nightly update", "{b}");
                assert_eq!(data["local"]["timezone"], "UTC", "{b}");
                // Nothing of how: no command, script, host or gate evidence.
                let text = b.to_string();
                for internal in ["step.sh", "deploy", "127.0.0.1", "health", "gate"] {
                    assert!(!text.contains(internal), "{internal} in {text}");
                }
            }
        }
        // The maintenance's own notices still reach everyone (and the tenants).
        let all: Vec<String> = rx
            .accepted()
            .into_iter()
            .filter(|req| req.path == "/everyone")
            .map(|req| {
                serde_json::from_slice::<serde_json::Value>(&req.body).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert!(all.contains(&"maintenance.started".to_owned()), "{all:?}");
    }
}
