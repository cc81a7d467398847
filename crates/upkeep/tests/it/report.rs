//! `upkeep report availability` from the command line: an outage opened and resolved with
//! `upkeep incident` shows in the table, JSON, CSV and HTML outputs; bad questions exit 1 with
//! a sentence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use support::{Workspace, ok, page_config, text, upkeep};

const CONFIG: &str = page_config!(
    r#"
components:
  api: { name: Public API }
  web: { name: Website }
slos:
  api: { objective: 99.9 }
"#
);

#[test]
fn reports_come_in_every_format_and_count_the_outage() {
    let ws = Workspace::with_config(CONFIG);
    let (config, db) = (ws.config.as_str(), ws.db.as_str());
    let id = ok(upkeep(&[
        "incident",
        "open",
        "--title",
        "API down",
        "--component",
        "api=major_outage",
        "--config",
        config,
        "--database",
        db,
    ]));
    std::thread::sleep(std::time::Duration::from_millis(1200));
    ok(upkeep(&[
        "incident",
        "resolve",
        id.trim(),
        "--database",
        db,
    ]));

    let report = |format: &str| {
        upkeep(&[
            "report",
            "availability",
            "--format",
            format,
            "--config",
            config,
            "--database",
            db,
        ])
    };
    let table = ok(report("table"));
    assert!(table.starts_with("Availability "), "{table}");
    assert!(
        table.contains("Public API") && table.contains("overall"),
        "{table}"
    );
    assert!(table.contains("api: objective 99.9000%"), "{table}");
    assert!(
        table.contains("COVERAGE") && table.contains("no data"),
        "{table}"
    );

    let json: serde_json::Value = serde_json::from_str(&ok(upkeep(&[
        "report",
        "availability",
        "--format",
        "json",
        "--daily",
        "--config",
        config,
        "--database",
        db,
    ])))
    .unwrap();
    let api = &json["components"][0];
    assert_eq!(api["id"], "api");
    let major = api["figures"]["major_ms"].as_i64().unwrap();
    assert!((1_000..60_000).contains(&major), "{major}");
    // Nothing watches the website: no figure, never 100 %.
    assert_eq!(
        json["components"][1]["figures"]["sla_ppm"],
        serde_json::Value::Null
    );
    assert_eq!(json["components"][1]["figures"]["coverage_ppm"], 0);
    assert!(!api["daily"].as_array().unwrap().is_empty());

    let csv = ok(report("csv"));
    assert_eq!(csv.lines().count(), 4, "{csv}");

    let out = ws.path().join("report.html");
    let written = upkeep(&[
        "report",
        "availability",
        "--format",
        "html",
        "--out",
        out.to_str().unwrap(),
        "--config",
        config,
        "--database",
        db,
    ]);
    assert!(written.status.success(), "{}", text(&written.stderr));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        html.starts_with("<!doctype html>") && html.contains("<svg") && !html.contains("<script")
    );

    // A past year measured whole: a leap year has 366 days and nothing happened.
    let json: serde_json::Value = serde_json::from_str(&ok(upkeep(&[
        "report",
        "availability",
        "--year",
        "2024",
        "--format",
        "json",
        "--component",
        "web",
        "--config",
        config,
        "--database",
        db,
    ])))
    .unwrap();
    assert_eq!(json["period"]["year_days"], 366);
    assert_eq!(json["components"].as_array().unwrap().len(), 1);
    assert_eq!(
        json["overall"]["figures"]["sla_ppm"],
        serde_json::Value::Null
    );
    assert_eq!(
        json["overall"]["figures"]["unobserved_ms"],
        366 * 86_400_000_i64
    );

    for (args, message) in [
        (vec!["--component", "nope"], "unknown component `nope`"),
        (
            vec!["--from", "2026-02-01", "--to", "2026-01-01"],
            "the period is empty",
        ),
        (vec!["--partial-weight", "1.5"], "not a ratio"),
    ] {
        let mut all = vec![
            "report",
            "availability",
            "--config",
            config,
            "--database",
            &db,
        ];
        all.extend(args);
        let out = upkeep(&all);
        assert_eq!(out.status.code(), Some(1), "{all:?}");
        assert!(text(&out.stderr).contains(message), "{}", text(&out.stderr));
    }
}
