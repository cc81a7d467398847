//! What a probe agent is sent: each monitor of its location rendered from the server's tree
//! and decoded back by the same reader, to the same monitor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use jiff::Timestamp;
use upkeep_domain::config::assignment::{assigned, decode};
use upkeep_domain::config::{Monitor, MonitorKind, parse};

const CONFIG: &str = r#"
page: { name: Acme, url: "http://127.0.0.1:8080", timezone: UTC }
regions:
  eu: { timezone: UTC, business_hours: "Mon-Fri 08:00-18:00" }
tenants:
  acme: { name: Acme Corp, region: eu, vars: { host: "acme.example" } }
components:
  api: { name: API }
  db: { name: Database }
monitors:
  api-health:
    component: api
    http:
      url: "http://${TARGET}/health"
      headers: { Authorization: "Bearer ${API_SECRET}", X-Empty: "" }
    interval: 15s
    conditions: ["[STATUS] == 200", '[BODY].name == "a \"quoted\" \\ value"']
    locations: [server, eu-1, us-1]
    quorum: 2
  db-port:
    component: db
    tcp: { address: "127.0.0.1:5432" }
    locations: [us-1]
  only-server:
    component: db
    tcp: { address: "127.0.0.1:5433" }
tenant_services:
  components:
    app: { name: "{tenant.name} app" }
  monitors:
    app-health:
      component: app
      http: { url: "https://{tenant.vars.host}/health" }
      locations: [eu-1]
"#;

fn env(name: &str) -> Option<String> {
    match name {
        "TARGET" => Some("127.0.0.1:9000".into()),
        "API_SECRET" => Some("s3cr\u{e8}t\n\"x\"".into()),
        _ => None,
    }
}

fn now() -> Timestamp {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

fn same(a: &Monitor, b: &Monitor) {
    // The model has no PartialEq (conditions hold regexes): compare its debug form. The tenant
    // that owns a monitor is the server's to know (its pages); an agent only probes it.
    let b = Monitor {
        tenant: a.tenant.clone(),
        ..b.clone()
    };
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn each_location_gets_its_monitors_decoded_to_the_servers_own() {
    let config = parse("t.yaml", CONFIG, &env, now()).unwrap_or_else(|d| panic!("{d}"));
    let eu = assigned(&config, "eu-1");
    let ids: Vec<&str> = eu.monitors.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["acme.app-health", "api-health"]);
    assert_eq!(
        eu.components,
        BTreeSet::from(["acme.app".to_owned(), "api".to_owned()])
    );
    for (id, text) in &eu.monitors {
        let decoded = decode(id, text, &eu.components).unwrap_or_else(|d| panic!("{d}"));
        same(&decoded, &config.monitors[id]);
    }
    // Secrets arrive substituted, escapes and all.
    let api = decode("api-health", &eu.monitors[1].1, &eu.components).unwrap();
    let MonitorKind::Http(http) = &api.kind else {
        panic!("{:?}", api.kind)
    };
    assert_eq!(http.url, "http://127.0.0.1:9000/health");
    assert!(eu.monitors[1].1.contains(r#"s3cr\u00e8t"#) || eu.monitors[1].1.contains("s3crèt"));
    let us = assigned(&config, "us-1");
    let ids: Vec<&str> = us.monitors.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["api-health", "db-port"]);
    assert!(assigned(&config, "server").monitors.is_empty());
    assert!(assigned(&config, "mars").monitors.is_empty());
}

#[test]
fn a_bad_definition_is_refused_with_its_position() {
    let components = BTreeSet::from(["api".to_owned()]);
    let err = decode(
        "x",
        r#"{"component":"db","tcp":{"address":"127.0.0.1:1"},"locations":["eu-1"]}"#,
        &components,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("assignment:x:1:14: unknown component `db`"),
        "{err}"
    );
    let err = decode("x", r#"{"component":"api","telnet":{}}"#, &components).unwrap_err();
    assert!(err.to_string().contains("assignment:x:1:"), "{err}");
    assert!(decode("x", "", &components).is_err());
    assert!(decode("x", "{", &components).is_err());
}
