//! `upkeep rollout` against a real SQLite file: `show` (the plan before start as a table in the
//! tenants' zone and as the API's JSON; attempts and decisions once running) and `pause`,
//! `retry`, `skip` through the same service as the API, audited as `cli:$USER`; refusals are
//! messages and a failing exit status.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};
use support::{Workspace, failed, ok, page_config, upkeep};
use upkeep_domain::config::TenantSel;
use upkeep_domain::maintenance::{Kind, NewMaintenance};
use upkeep_domain::rollout::machine::Change;
use upkeep_domain::rollout::{Outcome, RolloutState, Step};
use upkeep_store::rollouts::{AttemptEnd, AttemptStart, Writer};
use upkeep_store::{ConnectOptions, Store};

const CONFIG: &str = page_config!(
    r#"
regions:
  eu: { timezone: Europe/Rome }
  us: { timezone: America/New_York }
tenants:
  acme: { name: Acme Corp, region: eu }
  globex: { name: Globex, region: us }
components:
  app: { name: Workspace }
maintenance:
  policy:
    planned: { min_notice: 0s }
    tenant_slot: 15m
"#
);

const SECRET: &str = "s3cr3t-webhook-signing-key";

/// A maintenance on 2030-01-15 from 21:00Z, two hours, with a rollout whose canary is globex.
async fn seed(ws: &Workspace) -> (Store, String) {
    let config = upkeep_engine::config::load(
        &upkeep_engine::config::ConfigSource::File(ws.config.clone().into()),
        Timestamp::now(),
    )
    .unwrap()
    .config;
    let spec = upkeep_domain::config::decode_rollout_json(
        &json!({
            "action": { "webhook": { "url": "https://deploy.example/hook", "secret": SECRET }, "timeout": "10m" },
            "canary": ["globex"],
        }),
        &config,
        &TenantSel::All,
    )
    .unwrap();
    let start: Timestamp = "2030-01-15T21:00:00Z".parse().unwrap();
    let mut new = NewMaintenance::new(Kind::Planned, "Workspace 4.2", start, start + 2.hours());
    new.components = vec!["app".into()];
    new.rollout = Some(spec);
    let store = Store::connect(&ws.db, &ConnectOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let m = store
        .create_maintenance(&new, "test", Timestamp::now(), None)
        .await
        .unwrap();
    (store, m.id)
}

fn rollout(ws: &Workspace, args: &[&str]) -> std::process::Output {
    let mut all = vec!["rollout"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--config", &ws.config, "--database", &ws.db]);
    upkeep(&all)
}

#[tokio::test]
async fn rollouts_are_shown_and_commanded_from_the_command_line() {
    let ws = Workspace::with_config(CONFIG);
    let (store, id) = seed(&ws).await;

    let help = ok(upkeep(&["rollout", "--help"]));
    for verb in ["show", "pause", "resume", "abort", "retry", "skip"] {
        assert!(help.contains(verb), "{help}");
    }

    // Before start: the plan, canary first, each slot in its tenant's zone.
    let table = ok(rollout(&ws, &["show", &id]));
    assert!(
        table.contains(&format!("rollout of maintenance {id}: pending")),
        "{table}"
    );
    assert!(table.contains("0 of 2 tenants updated"), "{table}");
    let lines: Vec<&str> = table.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("TENANT")).unwrap();
    assert!(lines[header].contains("SLOT") && lines[header].contains("DECISION"));
    assert!(lines[header + 1].starts_with("globex"), "{table}");
    assert!(
        lines[header + 1].contains("2030-01-15 16:00–16:15 EST"),
        "{table}"
    );
    assert!(lines[header + 2].starts_with("acme"), "{table}");
    assert!(
        lines[header + 2].contains("2030-01-15 22:15–22:30 CET"),
        "{table}"
    );

    let doc: Value =
        serde_json::from_str(&ok(rollout(&ws, &["show", &id, "--format", "json"]))).unwrap();
    assert_eq!(doc["state"], "pending");
    assert_eq!(doc["progress"], json!({"done": 0, "total": 2}));
    assert_eq!(doc["tenants"][0]["tenant"], "globex");
    assert_eq!(
        doc["tenants"][0]["slot"]["start"],
        "2030-01-15T21:00:00.000Z"
    );
    assert_eq!(
        doc["spec"]["action"]["run"]["webhook"]["secret"],
        "[redacted]"
    );
    assert!(!doc.to_string().contains(SECRET));

    // Retry before start is refused; pause stores the rollout paused, audited as cli:USER.
    let err = failed(rollout(&ws, &["retry", &id, "acme"]));
    assert!(err.contains("has not started"), "{err}");
    let err = failed(rollout(&ws, &["show", "000000000000"]));
    assert!(
        err.contains("there is no maintenance `000000000000`"),
        "{err}"
    );
    let out = ok(rollout(&ws, &["pause", &id]));
    assert!(out.contains("is paused: paused by an operator"), "{out}");
    let err = failed(rollout(&ws, &["pause", &id]));
    assert!(err.contains("the rollout is paused, not running"), "{err}");
    let audit = store.list_audit(5, None).await.unwrap();
    assert_eq!(audit[0].action, "rollout.change");
    assert!(audit[0].actor.starts_with("cli:"), "{}", audit[0].actor);
    assert_eq!(audit[1].action, "rollout.create");

    // Running: globex's action failed (as the driver stores it).
    let record = store.rollout(&id).await.unwrap().unwrap();
    let change = Change {
        rollout: Some(RolloutState::Running),
        reason: "resumed".into(),
        ..Change::default()
    };
    let driver = Writer::Driver(1);
    let now = Timestamp::now();
    let record = store
        .apply_rollout_change(&id, record.revision, driver, &change, None, &[], now)
        .await
        .unwrap();
    let start = AttemptStart {
        tenant: "globex".into(),
        step: Step::Action,
        attempt: 1,
        resumed: false,
    };
    store
        .begin_attempt(&id, record.revision, driver, &start, now)
        .await
        .unwrap();
    let revision = store.rollout(&id).await.unwrap().unwrap().revision;
    let end = AttemptEnd {
        tenant: "globex".into(),
        step: Step::Action,
        attempt: 1,
        outcome: Outcome::Failed,
        detail: Some("exit status 1".into()),
        tenant_state: upkeep_domain::rollout::machine::after_outcome(Step::Action, Outcome::Failed),
        decision: "action attempt 1 failed".into(),
    };
    store
        .finish_attempt(&id, revision, driver, &end, &[], now)
        .await
        .unwrap();
    let table = ok(rollout(&ws, &["show", &id]));
    let row = table.lines().find(|l| l.starts_with("globex")).unwrap();
    assert!(
        row.contains("failed")
            && row.contains("action#1 failed")
            && row.contains("action attempt 1 failed"),
        "{table}"
    );

    // Skip acme, then retry globex.
    let out = ok(rollout(&ws, &["skip", &id, "acme"]));
    assert!(out.contains("is running"), "{out}");
    let out = ok(rollout(&ws, &["retry", &id, "globex"]));
    assert!(out.contains("globex retried by an operator"), "{out}");
    let doc: Value =
        serde_json::from_str(&ok(rollout(&ws, &["show", &id, "--format", "json"]))).unwrap();
    assert_eq!(doc["tenants"][0]["state"], "pending");
    assert_eq!(doc["tenants"][1]["state"], "skipped");
    assert_eq!(doc["tenants"][0]["attempts"][0]["outcome"], "failed");
    let err = failed(rollout(&ws, &["skip", &id, "umbrella"]));
    assert!(
        err.contains("the rollout has no tenant `umbrella`"),
        "{err}"
    );
    store.close().await;
}
