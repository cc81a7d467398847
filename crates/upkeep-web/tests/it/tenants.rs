//! Tenants' own services on the public surface: never on the public page, in the Statuspage
//! JSON, the feeds or the badges; each public tenant's unlisted page
//! `/tenants/{id}` shows its own components and the shared ones, its incidents, the
//! maintenance covering it with its slot, and a tenant's component is under maintenance only
//! during that tenant's slot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jiff::Timestamp;
use reqwest::StatusCode;
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::config::TenantSel;
use upkeep_domain::incident::{AffectedComponent, IncidentStatus};
use upkeep_domain::maintenance::{Kind, MaintenanceStatus};
use upkeep_store::Store;
use upkeep_store::incidents::NewIncident;
use upkeep_store::maintenance::NewMaintenance;

use crate::support::{TestApp, problem};

const CONFIG: &str = r#"
page: { name: Test Cloud, url: "https://status.example.test", timezone: UTC }
server: { rate_limit: { per_second: 1000, burst: 1000 } }
regions:
  utc: { timezone: UTC }
tenants:
  acme:    { name: Acme Corp, region: utc, vars: { host: acme.example.test } }
  globex:  { name: Globex, region: utc, public: false }
  initech: { name: "Initech <b>&</b>", region: utc }
components:
  db: { name: Database }
tenant_services:
  components:
    app: { name: "{tenant.name} workspace" }
maintenance:
  policy: { tenant_slot: 15m }
"#;

/// The clock stands at 22:05 UTC, in acme's slot (22:00-22:15) of the window 22:00-24:00;
/// globex's slot is 22:15-22:30, initech's 22:30-22:45.
const NOW: &str = "2026-02-01T22:05:00Z";

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn incident(store: &Store, title: &str, component: &str) -> String {
    store
        .create_incident(
            &NewIncident {
                title: title.to_owned(),
                status: IncidentStatus::Investigating,
                impact: None,
                body: "Looking into it.".into(),
                components: vec![AffectedComponent {
                    id: component.to_owned(),
                    status: ComponentStatus::MajorOutage,
                }],
                started_at: None,
                auto: false,
            },
            "test",
            t(NOW),
        )
        .await
        .unwrap()
        .id
}

async fn start() -> (TestApp, String, String) {
    let ids = std::sync::Arc::new(std::sync::Mutex::new((String::new(), String::new())));
    let seeded = std::sync::Arc::clone(&ids);
    let app = TestApp::builder(CONFIG)
        .manual_clock(NOW)
        .start_seeded(|store| async move {
            let mut m = NewMaintenance::new(
                Kind::Planned,
                "Fleet rollout",
                t("2026-02-01T22:00:00Z"),
                t("2026-02-02T00:00:00Z"),
            );
            m.components = vec!["db".into()];
            m.tenants = TenantSel::All;
            let m = store
                .create_maintenance(&m, "test", t("2026-01-01T00:00:00Z"), None)
                .await
                .unwrap();
            assert!(
                store
                    .transition_maintenance(
                        &m.id,
                        MaintenanceStatus::Scheduled,
                        MaintenanceStatus::InProgress,
                        "test",
                        t("2026-02-01T22:00:00Z"),
                    )
                    .await
                    .unwrap()
            );
            let acme = incident(&store, "Acme workspace unreachable", "acme.app").await;
            let globex = incident(&store, "Globex workspace unreachable", "globex.app").await;
            *seeded.lock().unwrap() = (acme, globex);
        })
        .await;
    let (acme, globex) = ids.lock().unwrap().clone();
    (app, acme, globex)
}

#[tokio::test]
async fn the_public_surface_shows_no_tenants_own_services() {
    let (app, acme_incident, globex_incident) = start().await;

    let page = app.text("/").await;
    assert!(page.contains("Database"), "{page}");
    for leak in ["workspace", "acme.app", "globex.app", "/tenants/acme\""] {
        assert!(!page.contains(leak), "{leak} on the public page");
    }
    let summary = app.text("/api/v2/summary.json").await;
    assert!(summary.contains("Database"), "{summary}");
    for path in [
        "/api/v2/summary.json",
        "/api/v2/components.json",
        "/api/v2/status.json",
        "/api/v2/incidents.json",
        "/api/v2/incidents/unresolved.json",
        "/api/v2/scheduled-maintenances.json",
        "/feed.atom",
        "/history",
        "/maintenance.ics",
    ] {
        let body = app.text(path).await;
        for leak in ["workspace", "acme.app", "globex.app"] {
            assert!(!body.contains(leak), "{leak} in {path}: {body}");
        }
    }
    let components = app.json("/api/v2/components.json", None).await;
    assert_eq!(components["components"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/badge/acme.app.svg", None).await.status(),
        StatusCode::NOT_FOUND
    );
    // The incident on globex's service (globex is not public) has no page; acme's is shown
    // with acme's model, as acme's page links to it.
    problem(
        app.get(&format!("/incidents/{globex_incident}"), None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let page = app.text(&format!("/incidents/{acme_incident}")).await;
    assert!(page.contains("Acme Corp workspace"), "{page}");
}

#[tokio::test]
async fn a_tenants_page_shows_its_services_and_no_other_tenants() {
    let (app, acme_incident, _) = start().await;

    let page = app.text("/tenants/acme").await;
    assert!(page.contains("Acme Corp workspace"), "{page}");
    assert!(page.contains("Database"), "shared components too: {page}");
    assert!(page.contains("Acme workspace unreachable"), "{page}");
    assert!(
        page.contains(&format!("/incidents/{acme_incident}")),
        "{page}"
    );
    assert!(
        !page.contains("Globex"),
        "nothing of another tenant: {page}"
    );
    assert!(!page.contains("Initech"), "{page}");
    // The maintenance with acme's slot, and acme's calendar.
    assert!(page.contains("Fleet rollout"), "{page}");
    assert!(page.contains("Acme Corp's slot"), "{page}");
    assert!(page.contains("2026-02-01T22:00:00Z"), "{page}");
    assert!(page.contains("2026-02-01T22:15:00Z"), "{page}");
    assert!(page.contains("/tenants/acme/maintenance.ics"), "{page}");
    // Served like the snapshot's pages: validators and compression, 304 on a match.
    let r = app.get("/tenants/acme", None).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(r.headers().contains_key("last-modified"));
    let again = app
        .client
        .get(app.url("/tenants/acme"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Everything a tenant's name holds is escaped.
    let page = app.text("/tenants/initech").await;
    assert!(
        page.contains("Initech &#60;b&#62;&#38;&#60;/b&#62;"),
        "{page}"
    );
    assert!(!page.contains("<b>&</b>"), "{page}");
    assert!(!page.contains("Acme"), "{page}");

    // Not public, or unknown: 404.
    for path in ["/tenants/globex", "/tenants/nobody", "/tenants/acme.app"] {
        problem(app.get(path, None).await, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn a_tenants_service_is_under_maintenance_during_its_slot_only() {
    let (app, _, _) = start().await;
    let under = "Acme Corp workspace</span>";
    let status_of = |page: &str| {
        let at = page.find(under).expect("acme's component");
        let rest = &page[at..];
        let label = rest.find("class=\"status s-").unwrap();
        rest[label..].split('"').nth(1).unwrap().to_owned()
    };
    // 22:05: acme's slot.
    let page = app.text("/tenants/acme").await;
    assert_eq!(status_of(&page), "status s-under_maintenance", "{page}");
    // 22:20: globex's slot; acme's service is acme's again (its incident declares it down).
    app.advance(15 * 60);
    let mut last = String::new();
    for _ in 0..60 {
        last = app.text("/tenants/acme").await;
        if status_of(&last) != "status s-under_maintenance" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status_of(&last), "status s-major_outage", "{last}");
    // The shared component is covered for the whole window.
    let db = last.find("Database</span>").unwrap();
    assert!(last[db..].contains("s-under_maintenance"), "{last}");
}
