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
        assert_eq!(f.sla_ppm, 999_777);
        assert_eq!(f.raw_ppm, 999_777);
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
        assert_eq!(db_f.raw_ppm, 999_885);
        assert_eq!(db_f.sla_ppm, 999_942);

        // Overall: the mean of the two.
        let o = report.overall.figures;
        assert_eq!(o.sla_weighted, (7_020_000 + 1_800_000) * 1_000_000 / 2);
        assert_eq!(o.sla_ppm, 999_860);

        // acme had the maintenance: same as overall. globex did not: db's hour counts.
        assert_eq!(report.tenants.len(), 1);
        assert_eq!(report.tenants[0].figures.sla_ppm, 999_860);
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
