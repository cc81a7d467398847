//! The Statuspage v2-compatible public JSON over real sockets: a server on port 0 over a real
//! SQLite file, incidents written through the store, the snapshot rebuilt in the background.
//! Covers every endpoint's shape field by field, component statuses declared by incidents, the
//! indicator, ids, timestamps in the page's zone, ETag/304 and the precompressed bodies.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::Read;
use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::Value;
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::incident::{AffectedComponent, Impact, IncidentStatus};
use upkeep_store::incidents::{IncidentChange, IncidentRecord, NewIncident};

use crate::support::TestApp;

const CONFIG: &str = r#"
page:
  name: Test Cloud
  url: http://status.example.test
  timezone: Europe/Rome
server:
  rate_limit: { per_second: 1000, burst: 1000 }
components:
  api: { name: Public API, group: Core, description: The REST API }
  db: { name: Database, group: Core }
  cdn: { name: CDN, group: Edge }
  web: { name: Website }
"#;

const ENDPOINTS: [&str; 8] = [
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
];

/// Public reads with request headers, and incidents written through the store.
impl TestApp {
    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = self.client.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    async fn public_json(&self, path: &str) -> Value {
        let r = self.get_with(path, &[]).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    /// Polls `path` until `done` holds for its JSON (the snapshot is rebuilt every second).
    async fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..60 {
            let v = self.public_json(path).await;
            if done(&v) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{path} never reached the expected state");
    }

    async fn open_incident(
        &self,
        title: &str,
        components: Vec<AffectedComponent>,
        impact: Option<Impact>,
    ) -> IncidentRecord {
        self.store
            .create_incident(
                &NewIncident {
                    title: title.to_owned(),
                    status: IncidentStatus::Investigating,
                    impact,
                    body: format!("We are looking into {title}."),
                    components,
                    started_at: None,
                    auto: false,
                },
                "test",
                jiff::Timestamp::now(),
            )
            .await
            .unwrap()
    }

    async fn update(&self, id: &str, status: IncidentStatus, components: Vec<AffectedComponent>) {
        self.store
            .add_incident_update(
                id,
                &IncidentChange {
                    status: Some(status),
                    body: Some(format!("Now {status}.")),
                    components,
                },
                "test",
                jiff::Timestamp::now(),
            )
            .await
            .unwrap()
            .unwrap();
    }
}

pub(crate) fn affected(id: &str, status: ComponentStatus) -> AffectedComponent {
    AffectedComponent {
        id: id.to_owned(),
        status,
    }
}

fn is_id(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 12
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// ISO 8601 with milliseconds and the offset Europe/Rome has at that instant.
fn assert_time(v: &Value, what: &str) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    assert_eq!(
        s.len(),
        "2026-11-22T07:12:00.123+01:00".len(),
        "{what}: {s}"
    );
    let b = s.as_bytes();
    assert_eq!(b[19], b'.', "{what} has milliseconds: {s}");
    assert!(b[20..23].iter().all(u8::is_ascii_digit), "{what}: {s}");
    let parsed: jiff::Timestamp = s
        .parse()
        .unwrap_or_else(|e| panic!("{what} `{s}` is not ISO 8601: {e}"));
    let rome = jiff::tz::TimeZone::get("Europe/Rome").unwrap();
    let offset = rome.to_offset(parsed);
    let expected = parsed.to_zoned(rome).strftime("%:z").to_string();
    assert!(
        s.ends_with(&expected),
        "{what} `{s}` carries the page zone's offset {offset}"
    );
}

fn assert_time_or_null(v: &Value, what: &str) {
    if !v.is_null() {
        assert_time(v, what);
    }
}

const COMPONENT_STATUSES: [&str; 5] = [
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
];

fn assert_page(page: &Value) {
    assert!(is_id(&page["id"]), "{page}");
    assert_eq!(page["name"], "Test Cloud");
    assert_eq!(page["url"], "http://status.example.test");
    assert_eq!(page["time_zone"], "Europe/Rome");
    assert_time(&page["updated_at"], "page.updated_at");
    assert_eq!(page.as_object().unwrap().len(), 5, "{page}");
}

fn assert_component(c: &Value, page_id: &Value) {
    assert!(is_id(&c["id"]), "{c}");
    assert!(c["name"].is_string(), "{c}");
    assert!(
        COMPONENT_STATUSES.contains(&c["status"].as_str().unwrap()),
        "{c}"
    );
    assert_time(&c["created_at"], "component.created_at");
    assert_time(&c["updated_at"], "component.updated_at");
    assert!(c["position"].is_u64() || c["position"].is_null(), "{c}");
    assert!(c["description"].is_string() || c["description"].is_null());
    assert!(c["showcase"].is_boolean());
    assert!(c["group_id"].is_null() || is_id(&c["group_id"]), "{c}");
    assert_eq!(&c["page_id"], page_id);
    assert!(c["group"].is_boolean());
    assert_eq!(c["only_show_if_degraded"], false);
    if c["group"] == true {
        assert!(c["components"].as_array().unwrap().iter().all(is_id));
        assert!(c["group_id"].is_null());
    } else {
        assert!(c.get("components").is_none(), "{c}");
    }
}

fn assert_incident(i: &Value, page_id: &Value) {
    assert!(is_id(&i["id"]), "{i}");
    assert!(i["name"].is_string());
    assert!(
        [
            "investigating",
            "identified",
            "monitoring",
            "resolved",
            "postmortem"
        ]
        .contains(&i["status"].as_str().unwrap())
    );
    assert!(["none", "minor", "major", "critical"].contains(&i["impact"].as_str().unwrap()));
    assert_time(&i["created_at"], "incident.created_at");
    assert_time(&i["updated_at"], "incident.updated_at");
    assert_time(&i["started_at"], "incident.started_at");
    assert_time_or_null(&i["monitoring_at"], "incident.monitoring_at");
    assert_time_or_null(&i["resolved_at"], "incident.resolved_at");
    assert_eq!(
        i["shortlink"].as_str().unwrap(),
        format!(
            "http://status.example.test/incidents/{}",
            i["id"].as_str().unwrap()
        )
    );
    assert_eq!(&i["page_id"], page_id);
    let updates = i["incident_updates"].as_array().unwrap();
    assert!(!updates.is_empty());
    for u in updates {
        assert!(is_id(&u["id"]), "{u}");
        assert!(u["status"].is_string());
        assert!(u["body"].is_string());
        assert_eq!(u["incident_id"], i["id"]);
        assert_time(&u["created_at"], "update.created_at");
        assert_time(&u["updated_at"], "update.updated_at");
        assert_time(&u["display_at"], "update.display_at");
        assert_eq!(u["deliver_notifications"], true);
        assert!(u["custom_tweet"].is_null());
        assert!(u["tweet_id"].is_null());
        // An update naming no component has `affected_components: null`.
        for a in u["affected_components"].as_array().into_iter().flatten() {
            assert!(is_id(&a["code"]), "{a}");
            assert!(a["name"].is_string());
            assert!(COMPONENT_STATUSES.contains(&a["old_status"].as_str().unwrap()));
            assert!(COMPONENT_STATUSES.contains(&a["new_status"].as_str().unwrap()));
        }
    }
    for c in i["components"].as_array().unwrap() {
        assert_component(c, page_id);
    }
}

/// The item of the list `components` named `name`.
pub(crate) fn by_name<'a>(components: &'a Value, name: &str) -> &'a Value {
    components
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name} in {components}"))
}

#[tokio::test]
async fn every_endpoint_has_the_statuspage_shape() {
    let app = TestApp::start(CONFIG).await;

    // Before anything happens: all operational, indicator none, no incidents.
    let quiet = app.public_json("/api/v2/status.json").await;
    assert_page(&quiet["page"]);
    assert_eq!(quiet["status"]["indicator"], "none");
    assert_eq!(quiet["status"]["description"], "All Systems Operational");

    let open = app
        .open_incident(
            "API errors",
            vec![affected("api", ComponentStatus::PartialOutage)],
            None,
        )
        .await;
    let done = app
        .open_incident(
            "CDN slow",
            vec![affected("cdn", ComponentStatus::DegradedPerformance)],
            Some(Impact::Minor),
        )
        .await;
    app.update(&done.id, IncidentStatus::Monitoring, vec![])
        .await;
    app.update(
        &done.id,
        IncidentStatus::Resolved,
        vec![affected("cdn", ComponentStatus::Operational)],
    )
    .await;

    // The page catches up with all four changes (one snapshot tells one story: the summary and
    // incidents.json are never read from lists taken at different moments).
    app.wait_for("/api/v2/incidents.json", |v| {
        v["incidents"]
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().any(|i| i["status"] == "resolved"))
    })
    .await;
    let summary = app
        .wait_for("/api/v2/summary.json", |v| {
            v["incidents"].as_array().is_some_and(|a| a.len() == 1)
        })
        .await;
    let page_id = summary["page"]["id"].clone();
    assert_page(&summary["page"]);
    let keys: Vec<&str> = summary
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "page",
        "components",
        "incidents",
        "scheduled_maintenances",
        "status",
    ] {
        assert!(keys.contains(&key), "summary has {key}");
    }
    assert_eq!(summary["scheduled_maintenances"], serde_json::json!([]));

    // Status: the open incident's declared partial outage → major.
    assert_eq!(summary["status"]["indicator"], "major");
    assert_eq!(summary["status"]["description"], "Partial System Outage");

    // Components: two group rows, children carrying their group's id, statuses from incidents.
    let components = &summary["components"];
    let rows = components.as_array().unwrap();
    assert_eq!(rows.len(), 6, "4 components and 2 groups: {components}");
    for c in rows {
        assert_component(c, &page_id);
    }
    // Positions count among siblings and the list is ordered by them (as on Statuspage): Core,
    // Edge and Website at the top, each group's children apart.
    let order: Vec<(&str, u64)> = rows
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["position"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            ("Core", 1),
            ("Public API", 1),
            ("CDN", 1),
            ("Edge", 2),
            ("Database", 2),
            ("Website", 3)
        ]
    );
    let core = by_name(components, "Core");
    assert_eq!(core["group"], true);
    assert_eq!(core["status"], "partial_outage", "worst of its children");
    let api = by_name(components, "Public API");
    let db = by_name(components, "Database");
    assert_eq!(
        core["components"],
        serde_json::json!([api["id"], db["id"]]),
        "{core}"
    );
    assert_eq!(api["group_id"], core["id"]);
    assert_eq!(db["group_id"], core["id"]);
    assert_eq!(api["group"], false);
    assert_eq!(api["showcase"], true);
    assert_eq!(api["description"], "The REST API");
    assert_eq!(
        api["status"], "partial_outage",
        "declared by the open incident"
    );
    assert_eq!(db["status"], "operational");
    let edge = by_name(components, "Edge");
    let cdn = by_name(components, "CDN");
    assert_eq!(edge["components"], serde_json::json!([cdn["id"]]));
    assert_eq!(cdn["group_id"], edge["id"]);
    assert_eq!(cdn["status"], "operational", "its incident is resolved");
    let web = by_name(components, "Website");
    assert!(web["group_id"].is_null());
    assert!(web["description"].is_null());

    // Summary: only the unresolved incident.
    let incidents = summary["incidents"].as_array().unwrap();
    assert_eq!(incidents[0]["id"], open.id.as_str());
    let i = &incidents[0];
    assert_incident(i, &page_id);
    assert_eq!(i["name"], "API errors");
    assert_eq!(i["status"], "investigating");
    assert_eq!(i["impact"], "major", "from the worst affected component");
    assert!(i["resolved_at"].is_null());
    assert!(i["monitoring_at"].is_null());
    assert_eq!(i["components"].as_array().unwrap().len(), 1);
    assert_eq!(&i["components"][0], api, "the same object as in the list");
    let update = &i["incident_updates"][0];
    assert_eq!(update["status"], "investigating");
    assert_eq!(update["body"], "We are looking into API errors.");
    assert_eq!(
        update["affected_components"],
        serde_json::json!([{
            "code": api["id"],
            "name": "Public API",
            "old_status": "operational",
            "new_status": "partial_outage",
        }])
    );

    // incidents.json: both, newest first; the resolved one with its whole timeline.
    let all = app.public_json("/api/v2/incidents.json").await;
    assert_page(&all["page"]);
    let all = all["incidents"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    for i in all {
        assert_incident(i, &page_id);
    }
    let resolved = all.iter().find(|i| i["id"] == done.id.as_str()).unwrap();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["impact"], "minor");
    assert_time(&resolved["resolved_at"], "resolved_at");
    assert_time(&resolved["monitoring_at"], "monitoring_at");
    let updates = resolved["incident_updates"].as_array().unwrap();
    assert_eq!(
        updates
            .iter()
            .map(|u| u["status"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["resolved", "monitoring", "investigating"],
        "newest first"
    );
    assert_eq!(
        updates[0]["affected_components"][0]["old_status"],
        "degraded_performance"
    );
    assert_eq!(
        updates[0]["affected_components"][0]["new_status"],
        "operational"
    );

    // unresolved.json and components.json and status.json agree with the summary.
    let unresolved = app.public_json("/api/v2/incidents/unresolved.json").await;
    assert_eq!(unresolved["incidents"], summary["incidents"]);
    assert_eq!(unresolved["page"], summary["page"]);
    let comps = app.public_json("/api/v2/components.json").await;
    assert_eq!(comps["components"], summary["components"]);
    assert_eq!(comps.as_object().unwrap().len(), 2);
    let status = app.public_json("/api/v2/status.json").await;
    assert_eq!(status["status"], summary["status"]);
    assert_eq!(status.as_object().unwrap().len(), 2);

    // Maintenance does not exist yet: empty lists with the page.
    for path in &ENDPOINTS[5..] {
        let v = app.public_json(path).await;
        assert_page(&v["page"]);
        assert_eq!(v["scheduled_maintenances"], serde_json::json!([]), "{path}");
    }
}

#[tokio::test]
async fn a_critical_incident_makes_the_indicator_critical() {
    let app = TestApp::start(CONFIG).await;
    app.open_incident(
        "Everything down",
        vec![affected("web", ComponentStatus::MajorOutage)],
        None,
    )
    .await;
    let status = app
        .wait_for("/api/v2/status.json", |v| {
            v["status"]["indicator"] != "none"
        })
        .await;
    assert_eq!(status["status"]["indicator"], "critical");
    assert_eq!(status["status"]["description"], "Major System Outage");
}

#[tokio::test]
async fn ids_are_stable_across_builds_and_servers() {
    let ids = |v: &Value| -> Vec<(String, String)> {
        v["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                assert!(is_id(&c["id"]));
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let first = TestApp::start(CONFIG).await;
    let a = first.public_json("/api/v2/components.json").await;
    first
        .open_incident(
            "x",
            vec![affected("db", ComponentStatus::MajorOutage)],
            None,
        )
        .await;
    let b = first
        .wait_for("/api/v2/components.json", |v| {
            by_name(&v["components"], "Database")["status"] == "major_outage"
        })
        .await;
    assert_eq!(ids(&a), ids(&b), "same ids after a rebuild");
    drop(first);
    let second = TestApp::start(CONFIG).await;
    let c = second.public_json("/api/v2/components.json").await;
    assert_eq!(ids(&a), ids(&c), "same ids on another server");
    assert_eq!(a["page"]["id"], c["page"]["id"]);
}

#[tokio::test]
async fn etags_answer_304_and_stay_put_while_nothing_changes() {
    let app = TestApp::start(CONFIG).await;
    let path = "/api/v2/summary.json";
    let first = app.get_with(path, &[]).await;
    assert_eq!(first.status(), StatusCode::OK);
    let h = first.headers().clone();
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["cache-control"], "public, max-age=10");
    assert_eq!(h["vary"], "Accept-Encoding");
    assert!(h.get("content-encoding").is_none());
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );
    let last_modified = h["last-modified"].to_str().unwrap().to_owned();
    assert!(last_modified.ends_with(" GMT"), "{last_modified}");
    let body = first.bytes().await.unwrap();

    let again = app.get_with(path, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());

    let listed = app
        .get_with(path, &[("if-none-match", &format!("\"nope\", {etag}"))])
        .await;
    assert_eq!(listed.status(), StatusCode::NOT_MODIFIED);
    let other = app.get_with(path, &[("if-none-match", "\"nope\"")]).await;
    assert_eq!(other.status(), StatusCode::OK);

    // Rebuilds of unchanged data keep the validators.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let later = app.get_with(path, &[]).await;
    assert_eq!(later.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(
        later.headers()["last-modified"].to_str().unwrap(),
        last_modified
    );
    assert_eq!(later.bytes().await.unwrap(), body);

    // A change moves the ETag; the old one no longer matches.
    app.open_incident(
        "x",
        vec![affected("api", ComponentStatus::MajorOutage)],
        None,
    )
    .await;
    app.wait_for(path, |v| !v["incidents"].as_array().unwrap().is_empty())
        .await;
    let changed = app.get_with(path, &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn gzip_and_brotli_bodies_decode_to_the_same_json() {
    let app = TestApp::start(CONFIG).await;
    app.open_incident(
        "Compressed",
        vec![affected("api", ComponentStatus::DegradedPerformance)],
        None,
    )
    .await;
    app.wait_for("/api/v2/summary.json", |v| {
        !v["incidents"].as_array().unwrap().is_empty()
    })
    .await;
    for path in ENDPOINTS {
        let plain = app.get_with(path, &[]).await;
        let plain_etag = plain.headers()["etag"].to_str().unwrap().to_owned();
        let plain = plain.bytes().await.unwrap();
        let expected: Value = serde_json::from_slice(&plain).unwrap();

        let gz = app
            .get_with(path, &[("accept-encoding", "gzip, deflate")])
            .await;
        assert_eq!(gz.status(), StatusCode::OK);
        assert_eq!(gz.headers()["content-encoding"], "gzip", "{path}");
        assert_eq!(gz.headers()["vary"], "Accept-Encoding");
        let gz_etag = gz.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(gz_etag, plain_etag, "each representation has its own tag");
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..])
            .read_to_end(&mut text)
            .unwrap();
        assert_eq!(text, plain, "{path}");

        let br = app
            .get_with(path, &[("accept-encoding", "gzip, deflate, br")])
            .await;
        assert_eq!(br.headers()["content-encoding"], "br", "{path}");
        let br_etag = br.headers()["etag"].to_str().unwrap().to_owned();
        let compressed = br.bytes().await.unwrap();
        let mut text = Vec::new();
        brotli::Decompressor::new(&compressed[..], 4096)
            .read_to_end(&mut text)
            .unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&text).unwrap(), expected);

        // Only the validator of the representation being sent answers 304: a cache holding the
        // plain body that now asks for brotli gets the brotli body, never a 304 for the wrong
        // encoding.
        assert_ne!(br_etag, plain_etag);
        let other = app
            .get_with(
                path,
                &[("accept-encoding", "br"), ("if-none-match", &plain_etag)],
            )
            .await;
        assert_eq!(other.status(), StatusCode::OK);
        assert_eq!(other.headers()["content-encoding"], "br");
        let cached = app
            .get_with(
                path,
                &[("accept-encoding", "br"), ("if-none-match", &br_etag)],
            )
            .await;
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(cached.headers()["etag"].to_str().unwrap(), br_etag);

        let refused = app
            .get_with(path, &[("accept-encoding", "br;q=0, gzip;q=0")])
            .await;
        assert!(refused.headers().get("content-encoding").is_none());
    }
}
