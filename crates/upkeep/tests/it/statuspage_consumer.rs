//! A real consumer of Statuspage's public API, written for Atlassian's pages and nobody's here:
//! the PyPI package `statuspage-prometheus-exporter` (installed by `scripts/test.sh`), run
//! unchanged in its one-shot mode. In one run it reads two summaries real Statuspage pages
//! served (stored in `crates/upkeep-web/tests/fixtures/statuspage/`, served here over HTTP) and
//! a real `upkeep serve` with an open incident and a scheduled maintenance. It must read
//! upkeep's page as it reads the real ones: every check succeeds, and its metrics for upkeep
//! have the same series with the same kinds of label values as for the real page that has an
//! incident and a maintenance too, with upkeep's own facts in them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use jiff::{Timestamp, ToSpan};
use serde_json::Value;

use crate::support::{Server, Workspace, ok, page_config, repo_file, upkeep};

const CONFIG: &str = page_config!(
    r#"
components:
  api: { name: Public API, group: Platform }
  db: { name: Database, group: Platform }
  web: { name: Website }
"#
);

/// The real summaries, by the name the exporter is told to give each page.
const REAL: [(&str, &str); 2] = [
    ("Huobi", "huobi-2020-02-11-summary.json"),
    ("illposed", "illposed-2021-10-28-summary.json"),
];

/// Serves each `(name, body)` at `/NAME/api/v2/summary.json`; returns the port.
fn serve_summaries(pages: Vec<(String, String)>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = request.split_whitespace().nth(1).unwrap_or("").to_owned();
            let found = pages
                .iter()
                .find(|(name, _)| path == format!("/{name}/api/v2/summary.json"));
            let (code, body) = found.map_or((404, ""), |(_, body)| (200, body.as_str()));
            let _ = write!(
                stream,
                "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// One series of the exporter's textfile: metric, labels, value.
type Series = (String, BTreeMap<String, String>, f64);

/// Parses the Prometheus text format the exporter writes (`name{k="v",...} value`).
fn parse_textfile(text: &str) -> Vec<Series> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (head, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match head.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').unwrap()),
            None => (head, ""),
        };
        let mut map = BTreeMap::new();
        let mut rest = labels;
        while let Some((key, after)) = rest.split_once("=\"") {
            // Values are escaped Prometheus strings: find the closing quote.
            let mut end = 0;
            let bytes = after.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            map.insert(
                key.trim_start_matches(',').to_owned(),
                after[..end].to_owned(),
            );
            rest = after.get(end + 1..).unwrap_or("");
        }
        out.push((name.to_owned(), map, value.parse().unwrap()));
    }
    out
}

/// What kind of value a label holds, as far as a dashboard or an alert rule can tell.
fn kind_of(value: &str) -> &'static str {
    let instant =
        value.len() >= 20 && value.as_bytes()[10] == b'T' && (value.parse::<Timestamp>().is_ok());
    if value == "N/A" || value == "none" {
        "placeholder"
    } else if instant {
        "instant"
    } else if value.starts_with("http://") || value.starts_with("https://") {
        "link"
    } else if ["none", "minor", "major", "critical"].contains(&value) {
        "impact"
    } else {
        "text"
    }
}

/// The shape of one page's series: each metric with the kinds of its labels' values (the
/// page's name left out).
fn shape(series: &[Series], page: &str) -> BTreeSet<(String, Vec<(String, &'static str)>)> {
    series
        .iter()
        .filter(|(_, labels, _)| labels.get("service_name").map(String::as_str) == Some(page))
        .map(|(name, labels, _)| {
            let kinds = labels
                .iter()
                .filter(|(k, _)| *k != "service_name")
                .map(|(k, v)| (k.clone(), kind_of(v)))
                .collect();
            (name.clone(), kinds)
        })
        .collect()
}

/// The value of the one series of `metric` for `page` whose labels include `with`.
fn value(series: &[Series], metric: &str, page: &str, with: (&str, &str)) -> f64 {
    let found: Vec<f64> = series
        .iter()
        .filter(|(name, labels, _)| {
            name == metric
                && labels.get("service_name").map(String::as_str) == Some(page)
                && labels.get(with.0).map(String::as_str) == Some(with.1)
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert_eq!(found.len(), 1, "{metric} {page} {with:?}: {found:?}");
    found[0]
}

#[test]
fn a_statuspage_exporter_reads_upkeep_as_it_reads_atlassians_pages() {
    let Some(python) = upkeep_store::testing::peer::python(&[
        "statuspage_prometheus_exporter",
        "prometheus_client",
        "apscheduler",
        "requests",
    ]) else {
        return;
    };

    // upkeep: an open incident on the API and a maintenance of the database three weeks ahead.
    let ws = Workspace::with_config(CONFIG);
    let (config, db) = (ws.config.as_str(), ws.db.as_str());
    let incident = ok(upkeep(&[
        "incident",
        "open",
        "--title",
        "API errors",
        "--component",
        "api=major_outage",
        "--body",
        "Looking into it.",
        "--config",
        config,
        "--database",
        db,
    ]));
    let incident = incident.trim();
    let start = (Timestamp::now() + (21 * 24).hours()).to_string();
    let maintenance = ok(upkeep(&[
        "maintenance",
        "schedule",
        "--title",
        "Database upgrade",
        "--start",
        &start,
        "--duration",
        "2h",
        "--component",
        "db",
        "--config",
        config,
        "--database",
        db,
    ]));
    let maintenance = maintenance.trim();
    let server = Server::start(&["--config", config], db);
    let summary_url = format!("http://{}/api/v2/summary.json", server.addr);
    // The snapshot shows both (it is rebuilt in the background).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let summary = loop {
        let answer = server.get("/api/v2/summary.json", None);
        let body: Value =
            serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap_or_default();
        let n = |k: &str| body[k].as_array().map_or(0, Vec::len);
        if n("incidents") == 1 && n("scheduled_maintenances") == 1 {
            break body;
        }
        assert!(std::time::Instant::now() < deadline, "{answer}");
        std::thread::sleep(Duration::from_millis(100));
    };
    // The exporter writes instants to the second: `…T07:12:00.123+01:00` → `…T07:12:00+01:00`.
    let to_second = |v: &Value| {
        let s = v.as_str().unwrap();
        format!("{}{}", &s[..19], &s[23..])
    };

    // The real pages, served as they were captured.
    let fixtures = repo_file("crates/upkeep-web/tests/fixtures/statuspage");
    let pages = REAL
        .iter()
        .map(|(name, file)| {
            let body = std::fs::read_to_string(fixtures.join(file)).unwrap();
            ((*name).to_owned(), body)
        })
        .collect();
    let port = serve_summaries(pages);

    // The exporter's own configuration and one-shot mode: one run over the three pages.
    let dir = tempfile::tempdir().unwrap();
    let mut services = serde_json::Map::new();
    for (name, _) in REAL {
        services.insert(
            name.to_lowercase(),
            serde_json::json!({
                "url": format!("http://127.0.0.1:{port}/{name}/api/v2/summary.json"),
                "name": name,
            }),
        );
    }
    services.insert(
        "upkeep".into(),
        serde_json::json!({ "url": summary_url, "name": "upkeep" }),
    );
    let services_path = dir.path().join("services.json");
    std::fs::write(&services_path, Value::Object(services).to_string()).unwrap();
    let textfile = dir.path().join("statuspage.prom");
    let out = Command::new(&python)
        .args([
            "-c",
            "from statuspage_prometheus_exporter.status_monitoring import main; main()",
        ])
        .current_dir(dir.path())
        .env("RUN_MODE", "once")
        .env("SERVICES_JSON_PATH", &services_path)
        .env("METRICS_TEXTFILE_PATH", &textfile)
        .env("NO_PROXY", "127.0.0.1")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let text = std::fs::read_to_string(&textfile).unwrap();
    let series = parse_textfile(&text);

    // Every page was read, none from the exporter's fallback cache.
    for page in ["Huobi", "illposed", "upkeep"] {
        assert_eq!(
            value(
                &series,
                "statuspage_probe_check",
                page,
                ("service_name", page)
            ),
            1.0,
            "{text}"
        );
    }
    assert!(!log.contains("ERROR"), "{log}");

    // The same series, with the same kinds of values, for upkeep as for the real page that
    // has an open incident and a scheduled maintenance too.
    let real = shape(&series, "Huobi");
    let ours = shape(&series, "upkeep");
    assert!(!real.is_empty());
    assert_eq!(ours, real, "{text}");

    // And upkeep's own facts in them.
    assert_eq!(
        value(
            &series,
            "statuspage_service_status",
            "upkeep",
            ("service_name", "upkeep")
        ),
        0.0,
        "an open incident"
    );
    let incident_info: Vec<&Series> = series
        .iter()
        .filter(|(n, l, _)| n == "statuspage_incident_info" && l["service_name"] == "upkeep")
        .collect();
    assert_eq!(incident_info.len(), 1, "{text}");
    let (_, labels, v) = incident_info[0];
    assert_eq!(*v, 1.0);
    assert_eq!(labels["incident_id"], incident);
    assert_eq!(labels["incident_name"], "API errors");
    assert_eq!(labels["impact"], "critical");
    assert_eq!(labels["affected_components"], "Public API");
    assert_eq!(
        labels["shortlink"],
        format!("http://127.0.0.1:8080/incidents/{incident}")
    );
    assert_eq!(
        labels["started_at"],
        to_second(&summary["incidents"][0]["started_at"])
    );
    let maintenance_info: Vec<&Series> = series
        .iter()
        .filter(|(n, l, _)| n == "statuspage_maintenance_info" && l["service_name"] == "upkeep")
        .collect();
    assert_eq!(maintenance_info.len(), 1, "{text}");
    let (_, labels, v) = maintenance_info[0];
    let m = &summary["scheduled_maintenances"][0];
    assert_eq!(*v, 1.0);
    assert_eq!(labels["maintenance_id"], maintenance);
    assert_eq!(labels["maintenance_name"], "Database upgrade");
    assert_eq!(labels["affected_components"], "Database");
    assert_eq!(labels["scheduled_start"], to_second(&m["scheduled_for"]));
    assert_eq!(labels["scheduled_end"], to_second(&m["scheduled_until"]));
    assert_eq!(labels["shortlink"], m["shortlink"].as_str().unwrap());
    for (component, up) in [
        ("Platform", 0.0),
        ("Public API", 0.0),
        ("Database", 1.0),
        ("Website", 1.0),
    ] {
        assert_eq!(
            value(
                &series,
                "statuspage_component_status",
                "upkeep",
                ("component_name", component)
            ),
            up,
            "{component}"
        );
    }
}
