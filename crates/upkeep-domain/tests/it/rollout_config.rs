//! `rollout:` of a window and of a one-off maintenance: what is read, the defaults, and each
//! mistake at its line and column (or, for the API's JSON, as a sentence).

use std::time::Duration;

use jiff::Timestamp;
use upkeep_domain::config::{TenantSel, decode_rollout_json, parse};
use upkeep_domain::rollout::{NoData, OnUnknown, StepRun};

const BASE: &str = r#"page: { name: Acme, url: "http://127.0.0.1:8080", timezone: Europe/Rome }
regions:
  eu: { timezone: Europe/Rome }
tenants:
  acme:   { name: Acme Corp, region: eu }
  globex: { name: Globex, region: eu }
components:
  api: { name: API }
monitors:
  api-health: { component: api, tcp: { address: "127.0.0.1:1" } }
maintenance:
  policy: { tenant_slot: 20m }
  windows:
    - id: monthly
      title: Monthly
      rrule: "FREQ=MONTHLY;BYDAY=1SA;BYHOUR=22"
      duration: 4h
      components: [api]
      rollout:
        action: { command: "./deploy.sh", timeout: 10m }
        rollback: { webhook: { url: "http://127.0.0.1:9/rollback", secret: "0123456789abcdef" } }
        settle: 2m
        gate: { monitors: [api-health], min_samples: 2, no_data: fail }
        canary: [globex]
        failure_budget: 1
        pause_timeout: 45m
        on_unknown: retry
"#;

fn now() -> Timestamp {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

fn problems(text: &str) -> Vec<String> {
    parse("c.yaml", text, &|_| None, now())
        .err()
        .map(|d| {
            d.0.iter()
                .map(|p| format!("{}:{}: {}", p.line, p.column, p.message))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_window_reads_its_rollout_with_every_key() {
    let config = parse("c.yaml", BASE, &|_| None, now()).unwrap_or_else(|d| panic!("{d}"));
    let spec = config.maintenance.windows[0].rollout.clone().unwrap();
    assert_eq!(spec.action.run, StepRun::Command("./deploy.sh".into()));
    assert_eq!(spec.action.timeout(), Duration::from_secs(600));
    let rollback = spec.rollback.clone().unwrap();
    assert!(
        matches!(rollback.run, StepRun::Webhook { ref url, .. } if url == "http://127.0.0.1:9/rollback")
    );
    assert_eq!(
        rollback.timeout(),
        Duration::from_secs(600),
        "the default timeout"
    );
    assert_eq!(spec.settle(), Duration::from_secs(120));
    assert_eq!(spec.gate.monitors, Some(vec!["api-health".to_owned()]));
    assert_eq!(spec.gate.min_samples, 2);
    assert_eq!(spec.gate.no_data, NoData::Fail);
    assert_eq!(spec.canary, vec!["globex".to_owned()]);
    assert_eq!(spec.failure_budget, 1);
    assert_eq!(spec.pause_timeout(), Duration::from_secs(45 * 60));
    assert_eq!(spec.on_unknown, OnUnknown::Retry);
}

#[test]
fn defaults_are_filled_in() {
    let text = BASE.replace(
        "        rollback: { webhook: { url: \"http://127.0.0.1:9/rollback\", secret: \"0123456789abcdef\" } }\n        settle: 2m\n        gate: { monitors: [api-health], min_samples: 2, no_data: fail }\n        canary: [globex]\n        failure_budget: 1\n        pause_timeout: 45m\n        on_unknown: retry\n",
        "",
    );
    let config = parse("c.yaml", &text, &|_| None, now()).unwrap_or_else(|d| panic!("{d}"));
    let spec = config.maintenance.windows[0].rollout.clone().unwrap();
    assert_eq!(spec.rollback, None);
    assert_eq!(spec.settle(), Duration::from_secs(300));
    assert_eq!(spec.gate.monitors, None, "the tenant's own monitors");
    assert_eq!(spec.gate.min_samples, 3);
    assert_eq!(spec.gate.no_data, NoData::Pause);
    assert_eq!(spec.failure_budget, 0);
    assert_eq!(spec.pause_timeout(), Duration::from_secs(1800));
    assert_eq!(spec.on_unknown, OnUnknown::Halt);
}

#[test]
fn mistakes_are_reported_where_they_are() {
    let text = BASE
        .replace("monitors: [api-health]", "monitors: [api-helth]")
        .replace("canary: [globex]", "canary: [initech]")
        .replace("timeout: 10m }", "timeout: 30m }")
        .replace("on_unknown: retry", "on_unknown: again");
    assert_eq!(
        problems(&text),
        vec![
            "20:43: a step's timeout (30m) is longer than a tenant slot (20m): the step could not finish inside its slot",
            "23:28: unknown monitor `api-helth` (neither a monitor nor one every covered tenant has); did you mean `api-health`?",
            "24:18: unknown tenant `initech`",
            "27:21: unknown on_unknown `again`: use halt, retry",
        ]
    );
    let uncovered = BASE.replace(
        "      components: [api]\n",
        "      components: [api]\n      tenants: [acme]\n",
    );
    assert_eq!(
        problems(&uncovered),
        vec!["25:18: canary `globex` is not a tenant this window covers"]
    );
    let no_action = BASE.replace(
        "        action: { command: \"./deploy.sh\", timeout: 10m }\n",
        "",
    );
    assert_eq!(
        problems(&no_action),
        vec!["20:9: missing required key `action`"]
    );
}

#[test]
fn the_api_reads_the_same_object_with_the_same_checks() {
    let config = parse("c.yaml", BASE, &|_| None, now()).unwrap();
    let ok = serde_json::json!({
        "action": { "command": "./deploy.sh", "timeout": "5m" },
        "settle": "1m",
        "canary": ["acme"],
    });
    let spec = decode_rollout_json(&ok, &config, &TenantSel::All).unwrap();
    assert_eq!(spec.settle(), Duration::from_secs(60));
    assert_eq!(spec.canary, vec!["acme".to_owned()]);
    let bad = serde_json::json!({
        "action": { "command": "./deploy.sh", "timeout": "1h" },
        "gate": { "monitors": ["nope"] },
        "canary": ["acme"],
    });
    let errors =
        decode_rollout_json(&bad, &config, &TenantSel::List(vec!["globex".into()])).unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("longer than a tenant slot")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("unknown monitor `nope`")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("canary `acme` is not a tenant this window covers")),
        "{errors:?}"
    );
    assert!(decode_rollout_json(&serde_json::json!([1]), &config, &TenantSel::All).is_err());
}
