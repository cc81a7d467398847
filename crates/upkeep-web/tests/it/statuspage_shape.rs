//! upkeep's eight Statuspage v2 documents against documents real Statuspage pages served
//! (`tests/fixtures/statuspage/`, see its README): every kind of object (page, status,
//! component, group, incident, incident update, affected component, scheduled maintenance and
//! its updates) has the same field names as the real ones, each field one of the JSON types the
//! real pages send (null only where they send null), and every list is ordered the way they
//! order it. The real documents are checked against the same ordering rules, so a rule that
//! real pages break cannot stand here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value};
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::incident::{AffectedComponent, IncidentStatus};
use upkeep_domain::maintenance::{Kind, MaintenanceStatus};
use upkeep_store::incidents::{IncidentChange, IncidentEdit, NewIncident};
use upkeep_store::maintenance::NewMaintenance;

use crate::statuspage::{affected, by_name};
use crate::support::TestApp;

/// The stored real documents and the endpoint each was served from.
const REAL: [(&str, &str); 13] = [
    ("discordstatus-2022-02-15-summary.json", "summary"),
    ("discordstatus-2022-02-15-status.json", "status"),
    ("discordstatus-2022-02-15-components.json", "components"),
    ("discordstatus-2022-02-15-incidents.json", "incidents"),
    (
        "discordstatus-2022-02-15-incidents-unresolved.json",
        "incidents",
    ),
    (
        "discordstatus-2022-02-15-scheduled-maintenances.json",
        "scheduled_maintenances",
    ),
    (
        "discordstatus-2022-02-15-scheduled-maintenances-upcoming.json",
        "scheduled_maintenances",
    ),
    (
        "discordstatus-2022-02-15-scheduled-maintenances-active.json",
        "scheduled_maintenances",
    ),
    ("githubstatus-2024-09-17-components.json", "components"),
    ("githubstatus-2024-09-17-incidents.json", "incidents"),
    ("hashicorp-2021-08-06-components.json", "components"),
    ("illposed-2021-10-28-summary.json", "summary"),
    ("huobi-2020-02-11-summary.json", "summary"),
];

/// Each endpoint and its top-level fields (as the real documents above show them, and as
/// Statuspage's API documentation gives them).
const ENDPOINTS: [(&str, &str, &[&str]); 8] = [
    (
        "summary",
        "/api/v2/summary.json",
        &[
            "page",
            "components",
            "incidents",
            "scheduled_maintenances",
            "status",
        ],
    ),
    ("status", "/api/v2/status.json", &["page", "status"]),
    (
        "components",
        "/api/v2/components.json",
        &["page", "components"],
    ),
    (
        "incidents",
        "/api/v2/incidents.json",
        &["page", "incidents"],
    ),
    (
        "incidents",
        "/api/v2/incidents/unresolved.json",
        &["page", "incidents"],
    ),
    (
        "scheduled_maintenances",
        "/api/v2/scheduled-maintenances.json",
        &["page", "scheduled_maintenances"],
    ),
    (
        "scheduled_maintenances",
        "/api/v2/scheduled-maintenances/upcoming.json",
        &["page", "scheduled_maintenances"],
    ),
    (
        "scheduled_maintenances",
        "/api/v2/scheduled-maintenances/active.json",
        &["page", "scheduled_maintenances"],
    ),
];

/// The fields upkeep adds to an object kind (docs/statuspage.md): readers of Statuspage's
/// documents ignore fields they do not know.
const ADDITIONS: [(&str, &str); 2] = [
    ("incident", "postmortem_body"),
    ("maintenance", "rollout_progress"),
];

/// What a JSON value is, as far as a reader of the documents can tell: strings that are
/// dates or instants are told apart from other strings.
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(s) if s.parse::<Timestamp>().is_ok() => "instant",
        Value::String(s) if s.parse::<jiff::civil::Date>().is_ok() && s.len() == 10 => "date",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The kind of the object found at `path` (field names, `[]` for a list's items).
fn kind_of(path: &[&str], object: &Map<String, Value>) -> String {
    let last = path.last().copied().unwrap_or("");
    let root = path.first().copied().unwrap_or("");
    match last {
        "page" => "page".into(),
        "status" => "status".into(),
        "components" if object.get("group") == Some(&Value::Bool(true)) => "group".into(),
        "components" => "component".into(),
        "incidents" => "incident".into(),
        "scheduled_maintenances" => "maintenance".into(),
        "incident_updates" if root == "scheduled_maintenances" => "maintenance update".into(),
        "incident_updates" => "incident update".into(),
        "affected_components" => "affected component".into(),
        other => format!("unknown object under `{other}`"),
    }
}

/// Field name → the JSON types seen, for each kind of object.
type Shapes = BTreeMap<String, BTreeMap<String, BTreeSet<&'static str>>>;

fn collect(v: &Value, path: &mut Vec<&'static str>, shapes: &mut Shapes) {
    match v {
        Value::Object(map) => {
            if !path.is_empty() {
                let fields = shapes.entry(kind_of(path, map)).or_default();
                for (k, x) in map {
                    fields.entry(k.clone()).or_default().insert(type_of(x));
                }
            }
            for (k, x) in map {
                path.push(leak(k));
                collect(x, path, shapes);
                path.pop();
            }
        }
        Value::Array(items) => {
            for item in items {
                collect(item, path, shapes);
            }
        }
        _ => {}
    }
}

/// Field names live as long as the test; the set of names is small.
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn shapes_of<'a>(docs: impl IntoIterator<Item = &'a Value>) -> Shapes {
    let mut shapes = Shapes::new();
    for doc in docs {
        collect(doc, &mut Vec::new(), &mut shapes);
    }
    shapes
}

fn real_documents() -> Vec<(&'static str, &'static str, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/statuspage");
    REAL.iter()
        .map(|(file, endpoint)| {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            (*file, *endpoint, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

/// Every difference between upkeep's shapes and the real ones, one line each.
fn differences(ours: &Shapes, real: &Shapes) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, fields) in ours {
        let Some(reference) = real.get(kind) else {
            out.push(format!("{kind}: no real document has this kind of object"));
            continue;
        };
        for (field, types) in fields {
            let added = ADDITIONS.contains(&(kind.as_str(), field.as_str()));
            match reference.get(field) {
                None if added => {}
                None => out.push(format!("{kind}.{field}: real pages do not send it")),
                Some(real_types) => {
                    for t in types.difference(real_types) {
                        out.push(format!(
                            "{kind}.{field}: upkeep sends {t}, real pages send {real_types:?}"
                        ));
                    }
                }
            }
        }
        for field in reference.keys().filter(|f| !fields.contains_key(*f)) {
            out.push(format!("{kind}.{field}: missing (real pages send it)"));
        }
    }
    for kind in real.keys().filter(|k| !ours.contains_key(*k)) {
        out.push(format!(
            "{kind}: upkeep's documents showed none (the test must make one)"
        ));
    }
    out
}

fn instant(v: &Value) -> Timestamp {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an instant: {v}"))
}

/// The ordering rules of Statuspage's lists, checked on one document; each broken rule is a
/// line of the result.
fn ordering(doc: &Value, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |ok: bool, rule: &str| {
        if !ok {
            out.push(format!("{name}: {rule}"));
        }
    };
    if let Some(rows) = doc["components"].as_array() {
        let positions: Vec<u64> = rows
            .iter()
            .map(|c| c["position"].as_u64().unwrap())
            .collect();
        check(
            positions.windows(2).all(|w| w[0] <= w[1]),
            &format!("components are listed by position: {positions:?}"),
        );
        // Siblings (the top-level rows, or one group's children) count up in list order.
        let mut siblings: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for c in rows {
            let parent = c["group_id"].as_str().unwrap_or("").to_owned();
            siblings
                .entry(parent)
                .or_default()
                .push(c["position"].as_u64().unwrap());
        }
        for (parent, p) in &siblings {
            check(
                p.windows(2).all(|w| w[0] < w[1]),
                &format!("the children of `{parent}` count up: {p:?}"),
            );
        }
        // A group names its children in their order; each child names its group.
        let index = |id: &Value| rows.iter().position(|c| &c["id"] == id);
        for group in rows.iter().filter(|c| c["group"] == true) {
            let listed: Vec<usize> = group["components"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(index)
                .collect();
            check(
                listed.windows(2).all(|w| w[0] < w[1]),
                &format!("group {} names its children in list order", group["name"]),
            );
            for at in listed {
                check(
                    rows[at]["group_id"] == group["id"],
                    &format!("{} names its group", rows[at]["name"]),
                );
            }
        }
    }
    let newest_first = |items: &[Value], field: &str| {
        items
            .windows(2)
            .all(|w| instant(&w[0][field]) >= instant(&w[1][field]))
    };
    for list in ["incidents", "scheduled_maintenances"] {
        for item in doc[list].as_array().into_iter().flatten() {
            let updates = item["incident_updates"].as_array().unwrap();
            check(
                newest_first(updates, "created_at"),
                &format!("{list}: {}'s updates are newest first", item["name"]),
            );
            let positions: Vec<u64> = item["components"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["position"].as_u64().unwrap())
                .collect();
            check(
                positions.windows(2).all(|w| w[0] <= w[1]),
                &format!("{list}: {}'s components are by position", item["name"]),
            );
        }
    }
    if let Some(incidents) = doc["incidents"].as_array() {
        check(
            newest_first(incidents, "created_at"),
            "incidents are newest first",
        );
    }
    out
}

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
  web: { name: Website }
  cdn: { name: CDN, group: Edge }
  dns: { name: DNS, group: Edge }
  mail: { name: Mail }
"#;

/// A page with every kind of object: groups and ungrouped components, a resolved incident
/// with a timeline and a postmortem, an open one on two components, an open one naming no
/// component, a maintenance in progress, one ahead and one finished (with no component).
async fn busy_page() -> TestApp {
    TestApp::start_seeded(CONFIG, |store| async move {
        let now = Timestamp::now();
        let at = |secs: i64| now + jiff::SignedDuration::from_secs(secs);
        let incident = |title: &str, components: Vec<AffectedComponent>| NewIncident {
            title: title.to_owned(),
            status: IncidentStatus::Investigating,
            impact: None,
            body: format!("Looking into {title}."),
            components,
            started_at: None,
            auto: false,
        };
        let old = store
            .create_incident(
                &incident(
                    "CDN slow",
                    vec![affected("cdn", ComponentStatus::DegradedPerformance)],
                ),
                "test",
                at(-3600),
            )
            .await
            .unwrap();
        for (status, secs) in [
            (IncidentStatus::Monitoring, -3000),
            (IncidentStatus::Resolved, -2400),
        ] {
            let components = if status == IncidentStatus::Resolved {
                vec![affected("cdn", ComponentStatus::Operational)]
            } else {
                vec![]
            };
            store
                .add_incident_update(
                    &old.id,
                    &IncidentChange {
                        status: Some(status),
                        body: Some(format!("Now {status}.")),
                        components,
                    },
                    "test",
                    at(secs),
                )
                .await
                .unwrap()
                .unwrap();
        }
        let postmortem = IncidentEdit {
            postmortem: Some(Some("A bad cache rule.".into())),
            ..IncidentEdit::default()
        };
        store
            .edit_incident(&old.id, &postmortem, "test", at(-1800))
            .await
            .unwrap()
            .unwrap();
        store
            .create_incident(
                &incident(
                    "Errors on two services",
                    vec![
                        affected("mail", ComponentStatus::PartialOutage),
                        affected("api", ComponentStatus::MajorOutage),
                    ],
                ),
                "test",
                at(-600),
            )
            .await
            .unwrap();
        store
            .create_incident(&incident("Slow sign-in", vec![]), "test", at(-300))
            .await
            .unwrap();

        let mut ahead = NewMaintenance::new(
            Kind::Planned,
            "Storage upgrade",
            at(7 * 86_400),
            at(7 * 86_400 + 7200),
        );
        ahead.components = vec!["db".into(), "web".into()];
        ahead.description = Some("New disks.".into());
        store
            .create_maintenance(&ahead, "test", now, None)
            .await
            .unwrap();
        let mut running = NewMaintenance::new(Kind::Planned, "DNS move", at(-900), at(3600));
        running.components = vec!["dns".into()];
        let running = store
            .create_maintenance(&running, "test", at(-86_400), None)
            .await
            .unwrap();
        store
            .transition_maintenance(
                &running.id,
                MaintenanceStatus::Scheduled,
                MaintenanceStatus::InProgress,
                "test",
                at(-900),
            )
            .await
            .unwrap();
        let done = NewMaintenance::new(Kind::Planned, "Router swap", at(-7200), at(-3600));
        let done = store
            .create_maintenance(&done, "test", at(-2 * 86_400), None)
            .await
            .unwrap();
        for (from, to, secs) in [
            (
                MaintenanceStatus::Scheduled,
                MaintenanceStatus::InProgress,
                -7200,
            ),
            (
                MaintenanceStatus::InProgress,
                MaintenanceStatus::Verifying,
                -5400,
            ),
            (
                MaintenanceStatus::Verifying,
                MaintenanceStatus::Completed,
                -3600,
            ),
        ] {
            store
                .transition_maintenance(&done.id, from, to, "test", at(secs))
                .await
                .unwrap();
        }
    })
    .await
}

/// The eight documents once the snapshot shows everything the seed wrote.
async fn upkeeps_documents(app: &TestApp) -> Vec<(&'static str, &'static str, Value)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = app.json("/api/v2/summary.json", None).await;
        let n = |k: &str| s[k].as_array().map_or(0, Vec::len);
        if n("incidents") == 2 && n("scheduled_maintenances") == 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never caught up: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut docs = Vec::new();
    for (endpoint, path, _) in ENDPOINTS {
        docs.push((path, endpoint, app.json(path, None).await));
    }
    docs
}

#[tokio::test]
async fn every_object_has_the_fields_and_types_real_pages_send() {
    let real = real_documents();
    let real_shapes = shapes_of(real.iter().map(|(_, _, d)| d));
    // The real documents hold every kind of object (so nothing below is compared with
    // nothing), and a start date is a date.
    for kind in [
        "page",
        "status",
        "component",
        "group",
        "incident",
        "incident update",
        "affected component",
        "maintenance",
        "maintenance update",
    ] {
        assert!(real_shapes.contains_key(kind), "no real {kind}");
    }
    assert_eq!(
        real_shapes["component"]["start_date"],
        BTreeSet::from(["date", "null"])
    );
    assert_eq!(
        real_shapes["incident update"]["affected_components"],
        BTreeSet::from(["array", "null"])
    );

    let app = busy_page().await;
    let ours = upkeeps_documents(&app).await;
    let our_shapes = shapes_of(ours.iter().map(|(_, _, d)| d));
    let diff = differences(&our_shapes, &real_shapes);
    assert!(
        diff.is_empty(),
        "upkeep differs from real pages:\n{}",
        diff.join("\n")
    );

    // Each endpoint's top-level fields, as documented and as the real documents show them.
    let top =
        |doc: &Value| -> BTreeSet<String> { doc.as_object().unwrap().keys().cloned().collect() };
    let fields =
        |want: &[&str]| -> BTreeSet<String> { want.iter().map(|f| (*f).to_owned()).collect() };
    for (file, endpoint, doc) in &real {
        let want = ENDPOINTS.iter().find(|(e, _, _)| e == endpoint).unwrap().2;
        assert_eq!(top(doc), fields(want), "{file}");
    }
    for ((path, _, doc), (_, _, want)) in ours.iter().zip(ENDPOINTS) {
        assert_eq!(top(doc), fields(want), "{path}");
    }
}

#[tokio::test]
async fn every_list_is_ordered_as_real_pages_order_it() {
    // The rules hold for the real documents (they are the rules' source)...
    for (file, _, doc) in real_documents() {
        let broken = ordering(&doc, file);
        assert!(broken.is_empty(), "{}", broken.join("\n"));
    }
    // ... and for upkeep's.
    let app = busy_page().await;
    let ours = upkeeps_documents(&app).await;
    for (path, _, doc) in &ours {
        let broken = ordering(doc, path);
        assert!(broken.is_empty(), "{}", broken.join("\n"));
    }

    // The rows of this configuration, by name and position: the top level (Core, Edge, Mail,
    // Website) and each group's children counted apart, the list ordered by position.
    let summary = &ours[0].2;
    let rows: Vec<(String, u64)> = summary["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["position"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("Core", 1),
        ("Public API", 1),
        ("CDN", 1),
        ("Edge", 2),
        ("Database", 2),
        ("DNS", 2),
        ("Mail", 3),
        ("Website", 4),
    ];
    assert_eq!(
        rows,
        want.map(|(n, p)| (n.to_owned(), p)).to_vec(),
        "{summary}"
    );
    // An incident lists its components in the list's order, whatever order it named them in.
    let two = by_name(&summary["incidents"], "Errors on two services");
    let names: Vec<&str> = two["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Public API", "Mail"]);
    // An update naming no component has `affected_components: null`, as on real pages.
    let quiet = by_name(&summary["incidents"], "Slow sign-in");
    assert_eq!(
        quiet["incident_updates"][0]["affected_components"],
        Value::Null
    );
    // A maintenance was announced when it was created (`started_at`), verified from
    // `monitoring_at`, as Statuspage fills them.
    let all = &ours[5].2["scheduled_maintenances"];
    let swap = by_name(all, "Router swap");
    assert_eq!(swap["started_at"], swap["created_at"], "{swap}");
    assert_eq!(
        swap["monitoring_at"], swap["incident_updates"][1]["created_at"],
        "{swap}"
    );
    assert_eq!(swap["incident_updates"][1]["status"], "verifying");
}

/// Validates each `(name, schema name, document)` against the OpenAPI document's schemas with
/// a JSON Schema validator nobody here wrote (`openapi-schema-validator`, formats checked).
const VALIDATE: &str = r##"
import json, sys
from openapi_schema_validator import OAS31Validator
spec = json.load(open(sys.argv[1]))
failed = False
for name, schema, document in json.load(open(sys.argv[2])):
    root = {"$ref": "#/components/schemas/" + schema, "components": spec["components"]}
    validator = OAS31Validator(root, format_checker=OAS31Validator.FORMAT_CHECKER)
    for error in validator.iter_errors(document):
        failed = True
        print(f"{name}: {'/'.join(map(str, error.absolute_path))}: {error.message[:200]}")
sys.exit(1 if failed else 0)
"##;

#[tokio::test]
async fn upkeeps_documents_and_real_pages_match_the_openapi_schemas() {
    let Some(python) = upkeep_store::testing::peer::python(&["openapi_schema_validator"]) else {
        return;
    };
    let app = busy_page().await;
    let spec = app.json("/api/v1/openapi.json", None).await;
    let schema_of = |path: &str| -> String {
        let op = &spec["paths"][path]["get"];
        assert!(op["security"].is_null(), "{path} needs no token: {op}");
        let reference = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{path} is not in the OpenAPI document"));
        reference.rsplit('/').next().unwrap().to_owned()
    };
    let mut cases = Vec::new();
    for (path, _, doc) in upkeeps_documents(&app).await {
        cases.push(serde_json::json!([path, schema_of(path), doc]));
    }
    for (file, endpoint, doc) in real_documents() {
        let path = ENDPOINTS.iter().find(|(e, _, _)| *e == endpoint).unwrap().1;
        cases.push(serde_json::json!([file, schema_of(path), doc]));
    }
    let dir = tempfile::tempdir().unwrap();
    let spec_file = dir.path().join("openapi.json");
    let cases_file = dir.path().join("cases.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    std::fs::write(&cases_file, Value::Array(cases).to_string()).unwrap();
    let out = std::process::Command::new(python)
        .args(["-c", VALIDATE])
        .arg(&spec_file)
        .arg(&cases_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "documents the OpenAPI schemas reject:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
