//! Availability and SLO reports against SQLite and PostgreSQL: monitor and rule events, an
//! incident across new year's eve and maintenances (one that ran, one cancelled) written to a
//! store, then the year's report checked to the millisecond and the ppm.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;
use upkeep_domain::availability::Level;
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::config::{Config, TenantSel, parse};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::incident::{AffectedComponent, IncidentStatus};
use upkeep_domain::maintenance::{Kind, MaintenanceStatus};
use upkeep_engine::reports::{self, AvailabilityQuery};
use upkeep_store::Store;
use upkeep_store::incidents::{IncidentChange, NewIncident};
use upkeep_store::maintenance::NewMaintenance;
use upkeep_store::monitoring::MonitorEvent;
use upkeep_store::testing::databases;

const HOUR: i64 = 3_600_000;
const YEAR_2026: i64 = 365 * 24 * HOUR;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn config() -> Config {
    let text = r#"
page: { name: T, url: "https://status.example", timezone: Europe/Rome }
regions:
  eu: { timezone: Europe/Rome }
tenants:
  acme: { name: Acme Corp, region: eu }
  globex: { name: Globex, region: eu }
components:
  api: { name: Public API }
  db: { name: Database }
monitors:
  api-http: { component: api, tcp: { address: "127.0.0.1:9" } }
  api-tcp: { component: api, tcp: { address: "127.0.0.1:9" } }
  db-port: { component: db, tcp: { address: "127.0.0.1:9" } }
rules:
  - name: ApiLatency
    scrape: "http://127.0.0.1:9/metrics"
    expr: latency > 1
    severity: warning
    component: api
slos:
  api: { objective: "99.9" }
"#;
    parse("t.yaml", text, &|_| None, t("2026-01-01T00:00:00Z"))
        .unwrap_or_else(|e| panic!("{:?}", e.0))
}

fn event(id: &str, at: &str, from: &str, to: &str) -> MonitorEvent {
    MonitorEvent {
        source: EventSource::parse(id).unwrap(),
        at: t(at),
        from: EventState::parse(from).unwrap(),
        to: EventState::parse(to).unwrap(),
        reason: "test".into(),
    }
}

async fn seed(store: &Store) {
    store
        .record_monitor_events(&[
            event("api-http", "2025-12-20T00:00:00Z", "pending", "up"),
            event("api-tcp", "2025-12-20T00:00:00Z", "pending", "up"),
            event("db-port", "2025-12-20T00:00:00Z", "pending", "up"),
            // api: one monitor down 10:00-12:00, the other 11:00-11:30: 30 min major, 1 h 30 m partial.
            event("api-http", "2026-03-10T10:00:00Z", "up", "down"),
            event("api-tcp", "2026-03-10T11:00:00Z", "up", "down"),
            event("api-tcp", "2026-03-10T11:30:00Z", "down", "up"),
            event("api-http", "2026-03-10T12:00:00Z", "down", "up"),
            // db: down 1 h, half of it inside a maintenance that does not count.
            event("db-port", "2026-05-01T00:00:00Z", "up", "down"),
            event("db-port", "2026-05-01T01:00:00Z", "down", "up"),
            // A paused monitor is not down.
            event("db-port", "2026-06-01T00:00:00Z", "up", "paused"),
            event("db-port", "2026-06-02T00:00:00Z", "paused", "up"),
            // A warning rule fires for 2 h: degraded, reported but not counted.
            event(
                "rule:ApiLatency",
                "2026-07-01T00:00:00Z",
                "pending",
                "firing",
            ),
            event(
                "rule:ApiLatency",
                "2026-07-01T02:00:00Z",
                "firing",
                "inactive",
            ),
        ])
        .await
        .unwrap();

    // Major outage of api from 23:00 local on new year's eve to 02:00 local: 1 h in 2026.
    let incident = store
        .create_incident(
            &NewIncident {
                title: "API down".into(),
                status: IncidentStatus::Investigating,
                impact: None,
                body: String::new(),
                components: vec![AffectedComponent {
                    id: "api".into(),
                    status: ComponentStatus::MajorOutage,
                }],
                started_at: None,
                auto: false,
            },
            "test",
            t("2026-12-31T22:00:00Z"),
        )
        .await
        .unwrap();
    store
        .add_incident_update(
            &incident.id,
            &IncidentChange {
                status: Some(IncidentStatus::Resolved),
                body: None,
                components: vec![AffectedComponent {
                    id: "api".into(),
                    status: ComponentStatus::Operational,
                }],
            },
            "test",
            t("2027-01-01T01:00:00Z"),
        )
        .await
        .unwrap()
        .unwrap();

    // A maintenance of db for acme that ran 00:30-02:00, not counting as downtime.
    let mut m = NewMaintenance::new(
        Kind::Planned,
        "DB upgrade",
        t("2026-05-01T00:30:00Z"),
        t("2026-05-01T02:00:00Z"),
    );
    m.components = vec!["db".into()];
    m.tenants = TenantSel::List(vec!["acme".into()]);
    let m = store
        .create_maintenance(&m, "test", t("2026-04-01T00:00:00Z"), None)
        .await
        .unwrap();
    for (from, to, at) in [
        (
            MaintenanceStatus::Scheduled,
            MaintenanceStatus::InProgress,
            "2026-05-01T00:30:00Z",
        ),
        (
            MaintenanceStatus::InProgress,
            MaintenanceStatus::Completed,
            "2026-05-01T02:00:00Z",
        ),
    ] {
        assert!(
            store
                .transition_maintenance(&m.id, from, to, "test", t(at))
                .await
                .unwrap()
        );
    }
    // A cancelled maintenance over the api outage never counts.
    let mut c = NewMaintenance::new(
        Kind::Planned,
        "Cancelled",
        t("2026-03-10T09:00:00Z"),
        t("2026-03-10T13:00:00Z"),
    );
    c.components = vec!["api".into()];
    let c = store
        .create_maintenance(&c, "test", t("2026-03-01T00:00:00Z"), None)
        .await
        .unwrap();
    store
        .cancel_maintenance(&c.id, "", "test", t("2026-03-02T00:00:00Z"))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn yearly_report_is_exact_on_both_backends() {
    let config = config();
    for db in databases("yearly_report_is_exact_on_both_backends").await {
        let store = db.store().await;
        seed(&store).await;

        let mut query = AvailabilityQuery::year(&config, 2026).unwrap();
        query.tenant = Some("acme".into());
        assert_eq!(query.validate(&config), Ok(()));
        let now = t("2027-01-01T00:00:00Z");
        let report = reports::availability(&store, &config, &query, now)
            .await
            .unwrap();

        assert_eq!(report.period.from, "2026-01-01T00:00:00.000+01:00");
        assert_eq!(report.period.to, "2027-01-01T00:00:00.000+01:00");
        assert_eq!(report.period.year_days, Some(365));
        assert_eq!(report.period.length_ms, YEAR_2026);
        assert!(report.period.complete);

        let api = &report.components[0];
        assert_eq!(api.id, "api");
        let f = api.figures;
        assert_eq!(f.period_ms, YEAR_2026);
        assert_eq!(f.major_ms, HOUR / 2 + HOUR);
        assert_eq!(f.partial_ms, HOUR + HOUR / 2);
        assert_eq!(f.degraded_ms, 2 * HOUR);
        assert_eq!(f.planned_ms, 0);
        assert_eq!(f.down_weighted, 5_400_000 * 1_000_000 + 5_400_000 * 300_000);
        assert_eq!(f.sla_downtime_ms, 7_020_000);
        // 1 − 7020 s / 365 d = 0.99977739..., rounded down.
        assert_eq!(f.sla_ppm, Some(999_777));
        assert_eq!(f.raw_ppm, Some(999_777));
        // Watched since before the year: all of it observed.
        assert_eq!(f.observed_ms, YEAR_2026);
        assert_eq!(f.coverage_ppm, 1_000_000);
        assert_eq!(api.daily.len(), 365);
        let day = |d: &str| api.daily.iter().find(|x| x.date.to_string() == d).unwrap();
        assert_eq!(day("2026-03-10").major_ms, HOUR / 2);
        assert_eq!(day("2026-03-10").partial_ms, HOUR + HOUR / 2);
        assert_eq!(day("2026-12-31").major_ms, HOUR);
        assert_eq!(day("2026-03-29").length_ms, 23 * HOUR);

        let db_f = report.components[1].figures;
        assert_eq!(db_f.major_ms, HOUR);
        assert_eq!(db_f.planned_ms, 90 * 60_000);
        assert_eq!(db_f.planned_downtime_ms, HOUR / 2);
        assert_eq!(db_f.sla_downtime_ms, HOUR / 2);
        // Paused for a day: that day is unobserved, and the figures are over the other 364.
        assert_eq!(db_f.unobserved_ms, 24 * HOUR);
        assert_eq!(db_f.coverage_ppm, 997_260);
        assert_eq!(db_f.raw_ppm, Some(999_885));
        assert_eq!(db_f.sla_ppm, Some(999_942));
        let db_day = |d: &str| {
            report.components[1]
                .daily
                .iter()
                .find(|x| x.date.to_string() == d)
                .unwrap()
        };
        // Paused from 02:00 local on 1 June to 02:00 on 2 June.
        assert_eq!(db_day("2026-06-01").observed_ms, 2 * HOUR);
        assert_eq!(db_day("2026-06-01").coverage_ppm, 83_333);
        assert_eq!(db_day("2026-06-02").coverage_ppm, 916_666);
        assert_eq!(db_day("2026-06-01").sla_ppm, Some(1_000_000));
        assert_eq!(db_day("2026-06-03").coverage_ppm, 1_000_000);

        // Overall: the mean of the two.
        let o = report.overall.figures;
        assert_eq!(o.sla_weighted, (7_020_000 + 1_800_000) * 1_000_000 / 2);
        // Over the observed time of both: 8,820 s of 729 days.
        assert_eq!(o.sla_ppm, Some(999_859));
        assert_eq!(o.coverage_ppm, 998_630);

        // acme had the maintenance: same as overall. globex did not: db's hour counts.
        assert_eq!(report.tenants.len(), 1);
        assert_eq!(report.tenants[0].figures.sla_ppm, Some(999_859));
        query.tenant = Some("globex".into());
        query.daily = false;
        let globex = reports::availability(&store, &config, &query, now)
            .await
            .unwrap();
        assert!(globex.components[0].daily.is_empty());
        let g = globex.tenants[0].figures;
        assert_eq!(g.sla_weighted, (7_020_000 + 3_600_000) * 1_000_000 / 2);
        assert_eq!(g.planned_ms, 0);

        // The SLO of api at the start of 2027: the incident's last hour spent, burning fast.
        assert_eq!(report.slos.len(), 1);
        let slo = &report.slos[0];
        assert_eq!(slo.component, "api");
        assert_eq!(slo.window, "calendar_year");
        assert_eq!(slo.window_from, "2027-01-01T00:00:00.000+01:00");
        assert_eq!(slo.year_days, Some(365));
        assert_eq!(slo.status.budget_ms, 31_536_000);
        assert_eq!(slo.status.spent_ms, HOUR);
        assert_eq!(slo.status.left_ms, 31_536_000 - HOUR);
        assert_eq!(slo.burn[0].factor_milli, 14_400);
        assert_eq!(slo.burn[0].long_burn_milli, 1_000_000);
        assert!(slo.burn[0].firing);
        assert!(slo.firing);

        // A year not over yet is measured up to now; the SLO then is 2026's.
        let now = t("2026-06-30T22:00:00Z");
        let query = AvailabilityQuery {
            component: Some("db".into()),
            daily: false,
            ..AvailabilityQuery::year(&config, 2026).unwrap()
        };
        let mid = reports::availability(&store, &config, &query, now)
            .await
            .unwrap();
        assert!(!mid.period.complete);
        assert_eq!(mid.period.measured_to, "2026-07-01T00:00:00.000+02:00");
        assert_eq!(mid.components.len(), 1);
        assert_eq!(mid.overall.figures, mid.components[0].figures);
        assert_eq!(mid.components[0].figures.sla_downtime_ms, HOUR / 2);
        // Half the year is still to come: unobserved, never counted as up.
        let f = mid.components[0].figures;
        assert_eq!(f.period_ms, YEAR_2026);
        assert_eq!(f.observed_ms, (181 - 1) * 24 * HOUR - HOUR);
        assert!(f.coverage_ppm < 500_000, "{}", f.coverage_ppm);
        assert!(mid.slos.is_empty());

        let slos = reports::slo_status(&store, &config, Some("api"), 300_000, now)
            .await
            .unwrap();
        assert_eq!(slos.len(), 1);
        // The March outage only: 30 min major and 1 h 30 m partial at 0.3.
        assert_eq!(slos[0].status.spent_ms, 1_800_000 + 1_620_000);
        assert!(!slos[0].firing);
        assert!(slos[0].burn.iter().all(|b| b.long_burn_milli == 0));

        // JSON shape.
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["period"]["year_days"], 365);
        assert_eq!(json["components"][0]["figures"]["sla_ppm"], 999_777);
        assert_eq!(json["components"][0]["figures"]["observed_ms"], YEAR_2026);
        assert_eq!(json["components"][0]["figures"]["coverage_ppm"], 1_000_000);
        assert_eq!(json["components"][1]["daily"][151]["date"], "2026-06-01");
        assert_eq!(json["components"][1]["daily"][151]["coverage_ppm"], 83_333);
        assert_eq!(json["components"][0]["daily"][0]["date"], "2026-01-01");
        assert_eq!(json["slos"][0]["burn"][0]["severity"], "critical");
        assert_eq!(serde_json::to_value(Level::Major).unwrap(), "major");

        db.cleanup().await;
    }
}

/// A tenant's figures count its own services and the shared components, never another
/// tenant's; a window over every tenant is planned time on a tenant's service during that
/// tenant's slot only.
#[tokio::test]
async fn a_tenants_availability_counts_its_own_services_and_the_shared_ones() {
    let text = r#"
page: { name: T, url: "https://status.example", timezone: UTC }
regions:
  utc: { timezone: UTC }
tenants:
  acme: { name: Acme Corp, region: utc }
  globex: { name: Globex, region: utc }
components:
  db: { name: Database }
monitors:
  db-port: { component: db, tcp: { address: "127.0.0.1:9" } }
tenant_services:
  components:
    app: { name: "{tenant.name} app" }
  monitors:
    app-port: { component: app, tcp: { address: "127.0.0.1:9" } }
maintenance:
  policy: { tenant_slot: 15m }
"#;
    let config = parse("t.yaml", text, &|_| None, t("2026-01-01T00:00:00Z"))
        .unwrap_or_else(|e| panic!("{:?}", e.0));
    for db in databases("tenant_availability").await {
        let store = db.store().await;
        store
            .record_monitor_events(&[
                event("db-port", "2025-12-20T00:00:00Z", "pending", "up"),
                event("acme.app-port", "2025-12-20T00:00:00Z", "pending", "up"),
                event("globex.app-port", "2025-12-20T00:00:00Z", "pending", "up"),
                // acme's service is down 22:00-22:30, through its slot (22:00-22:15).
                event("acme.app-port", "2026-05-01T22:00:00Z", "up", "down"),
                event("acme.app-port", "2026-05-01T22:30:00Z", "down", "up"),
                // globex's is down two hours on another day.
                event("globex.app-port", "2026-06-01T10:00:00Z", "up", "down"),
                event("globex.app-port", "2026-06-01T12:00:00Z", "down", "up"),
            ])
            .await
            .unwrap();
        let mut m = NewMaintenance::new(
            Kind::Planned,
            "Rollout",
            t("2026-05-01T22:00:00Z"),
            t("2026-05-02T00:00:00Z"),
        );
        m.components = vec!["db".into()];
        m.tenants = TenantSel::All;
        let m = store
            .create_maintenance(&m, "test", t("2026-04-01T00:00:00Z"), None)
            .await
            .unwrap();
        for (from, to, at) in [
            (
                MaintenanceStatus::Scheduled,
                MaintenanceStatus::InProgress,
                "2026-05-01T22:00:00Z",
            ),
            (
                MaintenanceStatus::InProgress,
                MaintenanceStatus::Completed,
                "2026-05-02T00:00:00Z",
            ),
        ] {
            assert!(
                store
                    .transition_maintenance(&m.id, from, to, "test", t(at))
                    .await
                    .unwrap()
            );
        }

        let mut query = AvailabilityQuery::year(&config, 2026).unwrap();
        query.daily = false;
        query.tenant = Some("acme".into());
        let now = t("2027-01-01T00:00:00Z");
        let report = reports::availability(&store, &config, &query, now)
            .await
            .unwrap();
        let figures = |id: &str| {
            report
                .components
                .iter()
                .find(|c| c.id == id)
                .unwrap()
                .figures
        };
        let acme_app = figures("acme.app");
        assert_eq!(acme_app.major_ms, 30 * 60_000);
        assert_eq!(acme_app.planned_ms, 15 * 60_000, "its slot, not the window");
        assert_eq!(acme_app.planned_downtime_ms, 15 * 60_000);
        assert_eq!(acme_app.sla_downtime_ms, 15 * 60_000);
        assert_eq!(figures("db").planned_ms, 2 * HOUR);
        assert_eq!(
            figures("globex.app").planned_ms,
            15 * 60_000,
            "its own slot"
        );
        // acme: the mean of acme.app and db; globex's two hours do not count.
        assert_eq!(
            report.tenants[0].figures.sla_weighted,
            15 * 60_000 * 1_000_000 / 2
        );

        query.tenant = Some("globex".into());
        let report = reports::availability(&store, &config, &query, now)
            .await
            .unwrap();
        assert_eq!(
            report.tenants[0].figures.sla_weighted,
            2 * HOUR * 1_000_000 / 2
        );
        // Overall: every component.
        assert_eq!(
            report.overall.figures.sla_weighted,
            (15 * 60_000 + 2 * HOUR) * 1_000_000 / 3
        );
    }
}

/// A component upkeep began watching today: the year's report covers about one day in 365,
/// every day before today has no figure (never 100 %), and no day after today is in the
/// series.
#[tokio::test]
async fn a_component_first_watched_today_covers_about_a_day_of_the_year() {
    let config = config();
    for db in databases("first_watched_today").await {
        let store = db.store().await;
        store
            .record_monitor_events(&[event("db-port", "2026-12-05T08:00:00Z", "pending", "up")])
            .await
            .unwrap();
        let now = t("2026-12-05T20:00:00Z");
        let query = AvailabilityQuery {
            component: Some("db".into()),
            ..AvailabilityQuery::year(&config, 2026).unwrap()
        };
        let report = reports::availability(&store, &config, &query, now)
            .await
            .unwrap();
        assert!(!report.period.complete);
        let db_report = &report.components[0];
        let f = db_report.figures;
        assert_eq!(f.period_ms, YEAR_2026);
        assert_eq!(f.observed_ms, 12 * HOUR);
        assert_eq!(f.unobserved_ms, YEAR_2026 - 12 * HOUR);
        // 12 h of 8,760 h: about half a day in 365.
        assert_eq!(f.coverage_ppm, 1_369);
        assert!(f.coverage_ppm < 1_000_000 / 365);
        assert_eq!(
            f.sla_ppm,
            Some(1_000_000),
            "up the whole time it was watched"
        );
        assert_eq!(report.overall.figures.coverage_ppm, 1_369);

        let daily = &db_report.daily;
        assert_eq!(daily.len(), 339, "up to today, none after");
        assert_eq!(daily.last().unwrap().date.to_string(), "2026-12-05");
        assert!(
            daily[..338]
                .iter()
                .all(|d| d.observed_ms == 0 && d.sla_ppm.is_none() && d.raw_ppm.is_none()),
            "days before upkeep watched it have no figure"
        );
        assert_eq!(report.overall.daily[0].sla_ppm, None);

        // The other component was never watched: no figure at all.
        let query = AvailabilityQuery {
            component: Some("api".into()),
            daily: false,
            ..AvailabilityQuery::year(&config, 2026).unwrap()
        };
        let api = reports::availability(&store, &config, &query, now)
            .await
            .unwrap();
        let f = api.components[0].figures;
        assert_eq!((f.observed_ms, f.coverage_ppm), (0, 0));
        assert_eq!((f.raw_ppm, f.sla_ppm, f.unplanned_ppm), (None, None, None));
        let json = serde_json::to_value(&api).unwrap();
        assert_eq!(
            json["components"][0]["figures"]["sla_ppm"],
            serde_json::Value::Null
        );
        // Its SLO: nothing observed this year, nothing spent, and the report says so.
        let slo = &api.slos[0];
        assert_eq!(slo.status.spent_ms, 0);
        assert_eq!(slo.measured.observed_ms, 0);
        assert_eq!(slo.measured.sla_ppm, None);
        assert_eq!(slo.measured_to, "2026-12-05T21:00:00.000+01:00");
        db.cleanup().await;
    }
}

/// A push monitor that has never been pinged observes nothing, so its component has no
/// availability figure; its first ping makes it observed (and up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_monitor_never_pinged_is_not_counted_as_up() {
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use upkeep_domain::monitor_state::MonitorStatus;
    use upkeep_engine::clock::{SharedClock, SystemClock};
    use upkeep_engine::config::{ConfigHandle, ConfigSource, load};
    use upkeep_engine::runtime::{Engine, EngineSettings};
    use upkeep_store::monitoring::{Ping, PingKind};
    use upkeep_store::testing::TestDatabase;

    const KEY: &str = "h8kq3vzt7wm2xr5npd9cjf4lsy6bga1u";
    let text = format!(
        r#"
page: {{ name: One, url: "http://127.0.0.1:8080", timezone: Europe/Rome }}
components:
  jobs: {{ name: Jobs }}
monitors:
  nightly:
    component: jobs
    push: {{ key: {KEY}, period: 1d, grace: 1h }}
"#
    );
    let db = TestDatabase::sqlite();
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.yaml");
    std::fs::write(&path, text).unwrap();
    let loaded = load(&ConfigSource::File(path), Timestamp::now()).unwrap();
    let config = loaded.config.clone();
    let clock: SharedClock = Arc::new(SystemClock);
    let engine = Engine::start(
        store.clone(),
        ConfigHandle::new(loaded),
        clock,
        db.url.clone(),
        EngineSettings::default(),
    )
    .await
    .unwrap();
    let started = Instant::now();
    while !engine.lease.is_held() {
        assert!(started.elapsed() < Duration::from_secs(5), "no lease");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The first sweep judges it (first seen now, not yet due): it stays pending.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = |now: Timestamp| {
        let (store, config) = (store.clone(), config.clone());
        async move {
            let q = AvailabilityQuery {
                daily: false,
                ..AvailabilityQuery::range(
                    now - jiff::SignedDuration::from_hours(1),
                    now + jiff::SignedDuration::from_mins(1),
                )
            };
            reports::availability(&store, &config, &q, now)
                .await
                .unwrap()
        }
    };
    let f = report(Timestamp::now()).await.components[0].figures;
    assert_eq!(f.observed_ms, 0, "never pinged: nothing observed");
    assert_eq!(f.sla_ppm, None, "never pinged is not up");

    store
        .record_pings(&[Ping {
            key: KEY.into(),
            at: Timestamp::now(),
            kind: PingKind::Success,
            exit_code: None,
            rid: None,
            body: String::new(),
        }])
        .await
        .unwrap();
    let started = Instant::now();
    while engine.monitors.view("nightly").map(|v| v.state.status) != Some(MonitorStatus::Up) {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "not up after a ping"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its change to up is written with the next batch.
    let f = loop {
        let f = report(Timestamp::now()).await.components[0].figures;
        if f.observed_ms > 0 {
            break f;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never observed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        f.sla_ppm,
        Some(1_000_000),
        "pinged: observed and up from then on"
    );
    assert!(engine.shutdown(Duration::from_secs(5)).await);
}
