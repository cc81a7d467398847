//! `/metrics` of a real `upkeep serve` passes Prometheus's own `promtool check metrics` after
//! requests, probes, pings, a rule, an SLO, a backup set and a configuration reload: every
//! metric has its help text and type, and follows Prometheus's naming rules.

use crate::support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Server;

/// A target that answers every request 200 with one gauge in Prometheus text format.
fn target() -> u16 {
    support::http_target("# TYPE cpu_usage gauge\ncpu_usage 50\n")
}

fn body(answer: &str) -> &str {
    answer.split("\r\n\r\n").nth(1).unwrap_or_default()
}

#[test]
fn metrics_pass_promtool_after_traffic_and_probes() {
    let Some(promtool) = upkeep_store::testing::peer::promtool() else {
        return;
    };
    let port = target();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let config = dir.path().join("upkeep.yaml");
    let yaml = format!(
        r#"
page: {{ name: Test, url: "http://127.0.0.1:8080", timezone: UTC }}
components:
  api: {{ name: Public API }}
monitors:
  api-health:
    component: api
    http: {{ url: "http://127.0.0.1:{port}/health" }}
    interval: 1s
    timeout: 1s
  nightly:
    component: api
    push: {{ key: nightly-key, period: 1h }}
rules:
  - name: HighCPUUsage
    scrape: "http://127.0.0.1:{port}/metrics"
    interval: 1s
    expr: cpu_usage > 80
    for: 0s
    severity: warning
    component: api
slos:
  api: {{ objective: 99.9 }}
backups:
  nightly-db: {{ rpo: 1d, rto: 1h, push_key: db-backup }}
"#
    );
    std::fs::write(&config, &yaml).unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()], &db);

    // Traffic: pages, the API, a miss, pings, and a reload.
    for path in ["/", "/api/v2/summary.json", "/nope", "/healthz", "/readyz"] {
        let answer = server.get(path, None);
        assert!(answer.starts_with("HTTP/1.1 "), "{path}: {answer}");
    }
    for path in [
        "/ping/nightly-key/start",
        "/ping/nightly-key",
        "/ping/db-backup",
    ] {
        let answer = server.get(path, None);
        assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
    }
    std::fs::write(&config, format!("{yaml}\n# edited\n")).unwrap();
    server.signal("HUP");

    let expected = [
        "upkeep_build_info",
        "upkeep_http_requests_total",
        "upkeep_http_request_duration_seconds",
        "upkeep_probes_total",
        "upkeep_probe_duration_seconds",
        "upkeep_probe_lag_seconds",
        "upkeep_monitor_transitions_total",
        "upkeep_rule_evaluations_total",
        "upkeep_ping_batch_size",
        "upkeep_ping_commit_seconds",
        "upkeep_config_reloads_total",
        "upkeep_slo_budget_remaining_ratio",
        "upkeep_slo_burn_alert",
        "upkeep_backup_age_seconds",
        "upkeep_backup_state",
        "upkeep_outbox_pending",
        "upkeep_outbox_oldest_age_seconds",
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let answer = server.get("/metrics", None);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let text = body(&answer).to_owned();
        let missing: Vec<_> = expected
            .iter()
            .filter(|name| !text.contains(&format!("# TYPE {name} ")))
            .collect();
        if missing.is_empty() {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "never exported: {missing:?}\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for name in expected {
        assert!(metrics.contains(&format!("# HELP {name} ")), "{name}");
    }

    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {report}\n{metrics}"
    );
}
