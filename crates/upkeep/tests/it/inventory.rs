//! `upkeep inventory import|refresh|report` end to end: a local index file and an
//! endoflife.date file next to the configuration, `helm list -o json` output of two places
//! imported, a file with a release of an unknown chart refused (nothing stored), and the report
//! as a table, JSON, CSV and HTML.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use serde_json::Value;
use support::{Workspace, failed, ok, upkeep};

const CONFIG: &str = r#"page: { name: T, url: "http://127.0.0.1:8080", timezone: UTC }
components:
  edge: { name: Edge }
maintenance:
  windows:
    - id: monthly
      title: Monthly upgrades
      rrule: "FREQ=MONTHLY;BYDAY=1SA;BYHOUR=22"
      duration: 4h
      components: [edge]
inventory:
  refresh: 1h
  items:
    traefik:
      helm: { index: charts/index.yaml, chart: traefik }
      eol: { file: eol/traefik.json }
    ingress-nginx:
      helm: { index: charts/index.yaml, chart: ingress-nginx }
  policies:
    - { max_behind: minor, severity: warning }
    - { end_of_life: true, severity: critical }
"#;

const INDEX: &str = r#"apiVersion: v1
entries:
  ingress-nginx:
  - appVersion: 1.11.2
    created: "2024-08-16T10:00:00Z"
    name: ingress-nginx
    version: 4.11.2
  - appVersion: 1.10.4
    created: "2024-08-16T09:00:00Z"
    name: ingress-nginx
    version: 4.10.4
  traefik:
  - appVersion: v3.1.2
    created: "2024-08-06T10:00:00Z"
    name: traefik
    version: 30.1.0
  - appVersion: v3.0.4
    created: "2024-07-01T10:00:00Z"
    name: traefik
    version: v30.0
  - appVersion: v2.11.8
    created: "2024-01-01T10:00:00Z"
    name: traefik
    version: "26.1"
generated: "2024-08-16T10:00:00Z"
"#;

const EOL: &str = r#"[
  {"cycle": "3.1", "releaseDate": "2024-07-29", "eol": false, "latest": "3.1.2"},
  {"cycle": "3.0", "releaseDate": "2024-04-29", "eol": "2024-10-31", "latest": "3.0.4"},
  {"cycle": "2.11", "releaseDate": "2024-02-12", "eol": "2025-02-28", "latest": "2.11.8"}
]"#;

fn helm_list(releases: &[(&str, &str, &str, &str)]) -> String {
    let items: Vec<String> = releases
        .iter()
        .map(|(name, ns, chart, app)| {
            format!(r#"{{"name":"{name}","namespace":"{ns}","revision":"7","updated":"2024-08-20 09:00:00.000000001 +0000 UTC","status":"deployed","chart":"{chart}","app_version":"{app}"}}"#)
        })
        .collect();
    format!("[{}]", items.join(",\n "))
}

#[test]
fn import_refresh_and_report() {
    let ws = Workspace::with_config(CONFIG);
    std::fs::create_dir_all(ws.path().join("charts")).unwrap();
    std::fs::create_dir_all(ws.path().join("eol")).unwrap();
    std::fs::write(ws.path().join("charts/index.yaml"), INDEX).unwrap();
    std::fs::write(ws.path().join("eol/traefik.json"), EOL).unwrap();
    let eu = ws.path().join("eu.json");
    std::fs::write(
        &eu,
        helm_list(&[
            ("traefik", "traefik", "traefik-30.1.0", "v3.1.2"),
            ("ingress", "ingress-nginx", "ingress-nginx-4.10.4", "1.10.4"),
        ]),
    )
    .unwrap();
    let us = ws.path().join("us.json");
    std::fs::write(
        &us,
        helm_list(&[
            ("traefik", "kube-system", "traefik-26.1.0", "v2.11.8"),
            (
                "cert-manager",
                "cert-manager",
                "cert-manager-v1.15.3",
                "v1.15.3",
            ),
        ]),
    )
    .unwrap();
    let common = ["--config", ws.config.as_str(), "--database", ws.db.as_str()];
    let with = |head: &[&str]| -> Vec<String> {
        head.iter()
            .chain(common.iter())
            .map(|s| (*s).to_owned())
            .collect()
    };
    let run = |args: Vec<String>| upkeep(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let out = ok(run(with(&["inventory", "refresh"])));
    assert!(out.contains("charts/index.yaml: fresh"), "{out}");
    let out = ok(run(with(&[
        "inventory",
        "import",
        "--from",
        eu.to_str().unwrap(),
        "--place",
        "prod-eu",
    ])));
    assert!(
        out.contains("traefik at prod-eu: 30.1.0")
            && out.contains("ingress-nginx at prod-eu: 4.10.4"),
        "{out}"
    );
    let err = failed(run(with(&[
        "inventory",
        "import",
        "--from",
        us.to_str().unwrap(),
        "--place",
        "prod-us",
    ])));
    assert!(
        err.contains("cert-manager/cert-manager (cert-manager-v1.15.3)")
            && err.contains("nothing was imported"),
        "{err}"
    );
    ok(run(with(&[
        "inventory",
        "import",
        "--from",
        us.to_str().unwrap(),
        "--place",
        "prod-us",
        "--skip-unknown",
    ])));

    let json: Value =
        serde_json::from_str(&ok(run(with(&["inventory", "report", "--format", "json"])))).unwrap();
    let state = |item: &str, place: &str| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|r| r["item"] == item && r["place"] == place)
            .map(|r| r["state"].clone())
            .unwrap_or_else(|| panic!("{json:#}"))
    };
    assert_eq!(state("traefik", "prod-eu"), "current");
    assert_eq!(state("ingress-nginx", "prod-eu"), "behind_minor");
    // 2.11's end of life (2025-02-28) has passed by the time the test runs.
    assert_eq!(state("traefik", "prod-us"), "end_of_life");

    let table = ok(run(with(&["inventory", "report"])));
    assert!(table.starts_with("ITEM"), "{table}");
    assert!(
        table.contains("behind_minor") && table.contains("4.11.2 (1 behind"),
        "{table}"
    );
    let csv = ok(run(with(&["inventory", "report", "--format", "csv"])));
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .starts_with("item,place,chart,chart_version"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 4, "a header and three rows: {csv}");
    let html_path = ws.path().join("inventory.html");
    ok(run(with(&[
        "inventory",
        "report",
        "--format",
        "html",
        "--out",
        html_path.to_str().unwrap(),
    ])));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        html.contains("<td class=\"state-end_of_life\">end_of_life</td>"),
        "{html}"
    );
    assert!(!html.contains("<script"));

    let err = failed(run(with(&["inventory", "report", "--format", "pdf"])));
    assert!(err.contains("table, json, csv or html"), "{err}");

    // The maintenance plan lists the upgrades due in the next window, and only there.
    let today = jiff::Zoned::now().date();
    let (from, to) = (
        (today + jiff::Span::new().days(1)).to_string(),
        (today + jiff::Span::new().days(71)).to_string(),
    );
    let plan = |format: &str| {
        ok(upkeep(&[
            "maintenance",
            "plan",
            "--config",
            &ws.config,
            "--from",
            &from,
            "--to",
            &to,
            "--format",
            format,
            "--database",
            &ws.db,
        ]))
    };
    let json: Value = serde_json::from_str(&plan("json")).unwrap();
    let windows = json.as_array().unwrap();
    assert!(windows.len() >= 2, "{json:#}");
    let due: Vec<String> = windows[0]["upgrades"]
        .as_array()
        .unwrap_or_else(|| panic!("{json:#}"))
        .iter()
        .map(|u| {
            format!(
                "{}@{} {}->{}",
                u["item"].as_str().unwrap(),
                u["place"].as_str().unwrap(),
                u["from"].as_str().unwrap(),
                u["to"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        due,
        [
            "ingress-nginx@prod-eu 4.10.4->4.11.2",
            "traefik@prod-us 26.1.0->30.1.0"
        ]
    );
    assert!(windows[1].get("upgrades").is_none(), "{json:#}");
    let table = plan("table");
    assert!(
        table.contains("upgrade ingress-nginx at prod-eu: 4.10.4 → 4.11.2 (behind_minor)"),
        "{table}"
    );
    let without = ok(upkeep(&[
        "maintenance",
        "plan",
        "--config",
        &ws.config,
        "--from",
        &from,
        "--to",
        &to,
    ]));
    assert!(
        !without.contains(" → "),
        "no database, no upgrades: {without}"
    );
}

#[test]
fn the_offline_example_works() {
    let ws = Workspace::empty();
    let config = support::repo_file("examples/inventory/upkeep.yaml");
    let from = support::repo_file("examples/inventory/helm-list-prod-eu.json");
    let config = config.to_str().unwrap();
    let out = ok(upkeep(&[
        "inventory",
        "refresh",
        "--config",
        config,
        "--database",
        &ws.db,
    ]));
    assert!(out.contains("charts/index.yaml: fresh"), "{out}");
    ok(upkeep(&[
        "inventory",
        "import",
        "--config",
        config,
        "--database",
        &ws.db,
        "--from",
        from.to_str().unwrap(),
        "--place",
        "prod-eu",
    ]));
    let json: Value = serde_json::from_str(&ok(upkeep(&[
        "inventory",
        "report",
        "--config",
        config,
        "--database",
        &ws.db,
        "--format",
        "json",
    ])))
    .unwrap();
    let states: Vec<(String, String)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["item"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("ingress-nginx".to_owned(), "behind_minor".to_owned()),
            ("traefik".to_owned(), "end_of_life".to_owned())
        ]
    );
}
