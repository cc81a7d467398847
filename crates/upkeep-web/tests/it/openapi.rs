//! The OpenAPI document as its readers use it: valid OpenAPI 3.1 by a validator nobody here
//! wrote (`openapi-spec-validator`), and usable by a client generator (`openapi-python-client`)
//! whose generated client drives the API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;
use upkeep_store::testing::peer;

use crate::support::{TestApp, page_config};

const CONFIG: &str = page_config!(
    r#"
server:
  rate_limit: { per_second: 1000, burst: 1000 }
components:
  api: { name: Public API }
  db: { name: Database }
maintenance:
  policy:
    planned: { min_notice: 0s }
"#
);

async fn document(app: &TestApp) -> Value {
    let r = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation.get("responses").is_some() {
                out.push((method.clone(), path.clone(), operation));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_response_is_described_and_every_operation_named_once() {
    let app = TestApp::start(CONFIG).await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = HashSet::new();
    let operations = operations(&doc);
    assert!(operations.len() > 40, "{}", operations.len());
    for (method, path, operation) in operations {
        let id = operation["operationId"].as_str().unwrap();
        assert!(ids.insert(id.to_owned()), "{method} {path}: `{id}` twice");
        for (status, response) in operation["responses"].as_object().unwrap() {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {status}: no description"
            );
        }
        // A parameter `in: path` names a segment of the path.
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "path" {
                let name = parameter["name"].as_str().unwrap();
                assert!(
                    path.contains(&format!("{{{name}}}")),
                    "{method} {path}: {name}"
                );
            }
        }
    }
    let incidents = &doc["paths"]["/api/v1/incidents"];
    assert_eq!(incidents["post"]["operationId"], "incidents_create");
    assert_eq!(
        incidents["get"]["responses"]["401"]["description"],
        "No valid bearer token (problem+json)"
    );
}

fn write_document(dir: &Path, doc: &Value) -> std::path::PathBuf {
    let file = dir.join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    file
}

#[tokio::test]
async fn openapi_spec_validator_accepts_the_document() {
    let Some(python) = peer::python(&["openapi_spec_validator"]) else {
        return;
    };
    let app = TestApp::start(CONFIG).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_document(dir.path(), &document(&app).await);
    let out = Command::new(python)
        .arg("-c")
        .arg(
            r#"
import json, sys
from openapi_spec_validator import OpenAPIV31SpecValidator
spec = json.load(open(sys.argv[1]))
errors = [str(e).splitlines()[0] for e in OpenAPIV31SpecValidator(spec).iter_errors()]
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
"#,
        )
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator rejects the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the generated client does, as an API user would write it.
const DRIVE_WITH_THE_GENERATED_CLIENT: &str = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
from upkeep_client import AuthenticatedClient
from upkeep_client.api.incidents import incidents_add_update, incidents_create, incidents_show
from upkeep_client.api.maintenance import maintenance_create, maintenance_list, maintenance_show
from upkeep_client.models import (ComponentView, IncidentView, MaintenanceView,
    NewIncidentBody, NewMaintenanceBody, UpdateBody)

base, token, starts_at = sys.argv[2], sys.argv[3], sys.argv[4]
client = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)

opened = incidents_create.sync(client=client, body=NewIncidentBody(
    title="Database slow", body="Looking into it.",
    components=[ComponentView(id="db", status="degraded_performance")]))
assert isinstance(opened, IncidentView), opened
updated = incidents_add_update.sync(opened.id, client=client,
    body=UpdateBody(status="identified", body="A full disk."))
assert isinstance(updated, IncidentView), updated
scheduled = maintenance_create.sync(client=client, body=NewMaintenanceBody(
    title="Database upgrade", starts_at=starts_at, duration="2h", components=["db"],
    tenants="all", message="PostgreSQL 17 to 18."))
assert isinstance(scheduled, MaintenanceView), scheduled

incident = incidents_show.sync(opened.id, client=client)
maintenance = maintenance_show.sync(scheduled.id, client=client)
listed = maintenance_list.sync(client=client)
print(json.dumps({
    "incident": {"title": incident.title, "status": incident.status, "impact": incident.impact,
                 "components": [[c.id, c.status] for c in incident.components],
                 "updates": [[u.status, u.body] for u in incident.updates]},
    "maintenance": {"title": maintenance.title, "status": maintenance.status,
                    "starts_at": maintenance.starts_at, "components": maintenance.components,
                    "tenants": maintenance.tenants, "updates": [u.body for u in maintenance.updates]},
    "listed": [m.id for m in listed],
    "maintenance_id": scheduled.id,
}))
"#;

#[tokio::test]
async fn a_generated_python_client_drives_the_api() {
    let Some(python) = peer::python(&["openapi_python_client", "httpx", "attrs"]) else {
        return;
    };
    let app = TestApp::start(CONFIG).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_document(dir.path(), &document(&app).await);
    let package = dir.path().join("upkeep_client");
    let out = tokio::process::Command::new(&python)
        .args([
            "-m",
            "openapi_python_client",
            "generate",
            "--meta",
            "none",
            "--path",
        ])
        .arg(&file)
        .arg("--output-path")
        .arg(&package)
        .output()
        .await
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the generator failed:\n{said}");
    // Nothing of the document was left out (its only other warning is that no formatter ran).
    assert!(
        !said.contains("Unable to") && !said.contains("Cannot parse"),
        "the generator skipped parts of the document:\n{said}"
    );

    let starts_at =
        upkeep_web::api::instant(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48));
    let out = tokio::process::Command::new(&python)
        .arg("-c")
        .arg(DRIVE_WITH_THE_GENERATED_CLIENT)
        .arg(dir.path())
        .arg(&app.base)
        .arg(&app.editor)
        .arg(&starts_at)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "the generated client failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    let incident = &seen["incident"];
    assert_eq!(incident["title"], "Database slow");
    assert_eq!(incident["status"], "identified");
    assert_eq!(incident["impact"], "minor");
    assert_eq!(
        incident["components"],
        serde_json::json!([["db", "degraded_performance"]])
    );
    let updates = incident["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 2, "{incident}");
    assert!(
        updates
            .iter()
            .any(|u| u == &serde_json::json!(["identified", "A full disk."]))
    );
    assert!(updates.iter().any(|u| u[1] == "Looking into it."));
    let maintenance = &seen["maintenance"];
    assert_eq!(maintenance["title"], "Database upgrade");
    assert_eq!(maintenance["status"], "scheduled");
    assert_eq!(maintenance["starts_at"], starts_at.as_str());
    assert_eq!(maintenance["components"], serde_json::json!(["db"]));
    assert_eq!(maintenance["tenants"], "all");
    assert_eq!(
        maintenance["updates"],
        serde_json::json!(["PostgreSQL 17 to 18."])
    );
    assert!(
        seen["listed"]
            .as_array()
            .unwrap()
            .contains(&seen["maintenance_id"])
    );
}
