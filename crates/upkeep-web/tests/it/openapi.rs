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
