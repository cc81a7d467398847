//! `upkeep maintenance` against a real SQLite file: schedule (notice policy, emergency reason,
//! `--force` audited, components and tenants checked against `--config`) → list → show →
//! cancel, and the result as the admin API of a real server sees it; `start --skip-checks` past
//! failing pre-flight checks, recorded in the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use jiff::{Timestamp, ToSpan};
use support::{Server, Workspace, admin_token, failed, ok, page_config, text, upkeep};

const CONFIG: &str = page_config!(
    r#"
regions:
  eu: { timezone: Europe/Rome, business_hours: "Mon-Fri 08:00-19:00" }
tenants:
  acme: { name: Acme Corp, region: eu }
components:
  api: { name: Public API }
  db: { name: Database }
maintenance:
  policy:
    planned: { min_notice: 7d }
"#
);

fn in_days(days: i64) -> String {
    (Timestamp::now() + (days * 24).hours()).to_string()
}

#[test]
fn maintenance_is_scheduled_listed_shown_and_cancelled_from_the_command_line() {
    let ws = Workspace::with_config(CONFIG);
    let (config, db) = (ws.config.as_str(), ws.db.as_str());

    let help = ok(upkeep(&["maintenance", "schedule", "--help"]));
    assert!(
        help.contains("--force") && help.contains("--duration"),
        "{help}"
    );

    let schedule = |extra: &[&str]| {
        let mut args = vec!["maintenance", "schedule", "--database", &db];
        args.extend_from_slice(extra);
        upkeep(&args)
    };
    // The configuration's policy: 7 days of notice.
    let start = in_days(3);
    let err = failed(schedule(&[
        "--title",
        "DB upgrade",
        "--start",
        &start,
        "--duration",
        "2h",
        "--component",
        "db",
        "--config",
        config,
    ]));
    assert!(
        err.contains("needs 7 days of notice: the earliest allowed start is")
            && err.contains("--force"),
        "{err}"
    );
    // `--check` gives the same answer and schedules nothing; far enough ahead it is allowed,
    // with acme's slot.
    let err = failed(schedule(&[
        "--title",
        "DB upgrade",
        "--start",
        &start,
        "--duration",
        "2h",
        "--component",
        "db",
        "--config",
        config,
        "--check",
    ]));
    assert!(err.contains("needs 7 days of notice"), "{err}");
    let answer = ok(schedule(&[
        "--title",
        "DB upgrade",
        "--start",
        &in_days(9),
        "--duration",
        "2h",
        "--component",
        "db",
        "--config",
        config,
        "--check",
    ]));
    assert!(
        answer.starts_with("allowed: a planned maintenance from"),
        "{answer}"
    );
    assert!(answer.contains("  acme (Acme Corp): "), "{answer}");
    let listed = ok(upkeep(&["maintenance", "list", "--database", db]));
    assert!(
        !listed.contains("DB upgrade"),
        "a check schedules nothing: {listed}"
    );
    // Without a configuration, the default policy: 14 days.
    let err = failed(schedule(&[
        "--title",
        "DB upgrade",
        "--start",
        &in_days(10),
        "--duration",
        "2h",
        "--component",
        "db",
    ]));
    assert!(err.contains("needs 14 days of notice"), "{err}");
    // Unknown components and tenants.
    let err = failed(schedule(&[
        "--title",
        "x",
        "--start",
        &in_days(8),
        "--duration",
        "1h",
        "--component",
        "cache",
        "--config",
        config,
    ]));
    assert!(err.contains("there is no component `cache`"), "{err}");
    let err = failed(schedule(&[
        "--title",
        "x",
        "--start",
        &in_days(8),
        "--duration",
        "1h",
        "--component",
        "db",
        "--tenant",
        "initech",
        "--config",
        config,
    ]));
    assert!(err.contains("there is no tenant `initech`"), "{err}");
    // Emergency without a reason.
    let err = failed(schedule(&[
        "--title",
        "Patch",
        "--kind",
        "emergency",
        "--start",
        &in_days(0),
        "--duration",
        "1h",
        "--component",
        "api",
    ]));
    assert!(
        err.contains("an emergency maintenance needs a reason"),
        "{err}"
    );

    let planned = ok(schedule(&[
        "--title",
        "DB upgrade",
        "--start",
        &in_days(8),
        "--duration",
        "2h",
        "--component",
        "db",
        "--component",
        "api",
        "--tenant",
        "acme",
        "--description",
        "PostgreSQL 18.",
        "--config",
        config,
    ]));
    let planned = planned.trim().to_owned();
    assert_eq!(planned.len(), 12, "{planned}");
    let out = upkeep(&[
        "maintenance",
        "schedule",
        "--database",
        db,
        "--title",
        "Hotfix",
        "--start",
        &in_days(1),
        "--end",
        &in_days(2),
        "--component",
        "api",
        "--force",
        "--json",
    ]);
    assert!(
        text(&out.stderr).contains("forced past the notice policy"),
        "{}",
        text(&out.stderr)
    );
    let forced: serde_json::Value = serde_json::from_str(&ok(out)).unwrap();
    let forced_id = forced["id"].as_str().unwrap().to_owned();
    assert_eq!(forced["status"], "scheduled");
    assert_eq!(forced["tenants"], "all");

    let list = ok(upkeep(&[
        "maintenance",
        "list",
        "--state",
        "upcoming",
        "--database",
        db,
    ]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("ID"), "{list}");
    assert!(lines[1].starts_with(&forced_id), "soonest first: {list}");
    assert!(
        lines[2].starts_with(&planned)
            && lines[2].contains("db,api")
            && lines[2].contains("DB upgrade"),
        "{list}"
    );
    let shown = ok(upkeep(&["maintenance", "show", &planned, "--database", db]));
    assert!(
        shown.contains("tenants:     acme") && shown.contains("PostgreSQL 18."),
        "{shown}"
    );

    let out = ok(upkeep(&[
        "maintenance",
        "cancel",
        &forced_id,
        "--body",
        "Not needed after all.",
        "--database",
        db,
    ]));
    assert_eq!(out.trim(), format!("maintenance {forced_id} is cancelled"));
    let err = failed(upkeep(&[
        "maintenance",
        "cancel",
        &forced_id,
        "--database",
        db,
    ]));
    assert!(
        err.contains("is cancelled and can no longer be changed"),
        "{err}"
    );
    let err = failed(upkeep(&[
        "maintenance",
        "show",
        "nosuchmaint1",
        "--database",
        db,
    ]));
    assert!(
        err.contains("there is no maintenance `nosuchmaint1`"),
        "{err}"
    );
    let json = ok(upkeep(&["maintenance", "list", "--json", "--database", db]));
    let all: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);

    // The admin API of a server on the same database sees the same, and the audit trail.
    let token = admin_token(db);
    let server = Server::start(&[], db);
    let resp = server.get(&format!("/api/v1/maintenances/{forced_id}"), Some(&token));
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let body = resp.split("\r\n\r\n").nth(1).unwrap();
    let record: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(record["status"], "cancelled");
    assert_eq!(record["sequence"], 1);
    assert_eq!(record["updates"][0]["body"], "Not needed after all.");
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    assert_eq!(record["created_by"], format!("cli:{user}"));
    let resp = server.get("/api/v1/audit", Some(&token));
    assert!(
        resp.contains("maintenance.create")
            && resp.contains("maintenance.cancel")
            && resp.contains("the earliest allowed start is"),
        "{resp}"
    );
}

#[test]
fn a_held_maintenance_is_started_from_the_command_line_only_skipping_checks() {
    let ws = Workspace::with_config(CONFIG);
    let (config, db) = (ws.config.as_str(), ws.db.as_str());
    let id = ok(upkeep(&[
        "maintenance",
        "schedule",
        "--title",
        "DB upgrade",
        "--start",
        &in_days(10),
        "--duration",
        "2h",
        "--component",
        "db",
        "--config",
        config,
        "--database",
        db,
    ]))
    .trim()
    .to_owned();
    // A window shorter than one tenant's slot (15 m) is refused, naming the tenant; --force
    // accepts it.
    let id_start = in_days(9);
    let short = |extra: &[&str]| {
        let mut args = vec![
            "maintenance",
            "schedule",
            "--title",
            "Quick fix",
            "--start",
            &id_start,
            "--duration",
            "10m",
            "--component",
            "db",
            "--config",
            config,
            "--database",
            &db,
        ];
        args.extend_from_slice(extra);
        upkeep(&args)
    };
    let err = failed(short(&[]));
    assert!(
        err.contains("the window cannot fit a 15m slot for: acme (Acme Corp)")
            && err.contains("--force"),
        "{err}"
    );
    let forced = ok(short(&["--force"]));
    assert_eq!(forced.trim().len(), 12, "{forced}");
    let reason = "backups_fresh: backup set db is 30h old (RPO 24h)";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime
        .block_on(upkeep_store::Store::connect(
            db,
            &upkeep_store::ConnectOptions::default(),
        ))
        .unwrap();
    assert!(
        runtime
            .block_on(store.set_hold_reason(&id, Some(reason), "engine", Timestamp::now()))
            .unwrap()
    );

    let help = ok(upkeep(&["maintenance", "start", "--help"]));
    assert!(help.contains("--skip-checks"), "{help}");
    let start = |extra: &[&str]| {
        let mut args = vec!["maintenance", "start", &id, "--database", &db];
        args.extend_from_slice(extra);
        upkeep(&args)
    };
    let err = failed(start(&[]));
    assert!(
        err.contains(reason) && err.contains("--skip-checks"),
        "{err}"
    );
    let out = ok(start(&[
        "--skip-checks",
        "--body",
        "Retaking the backup now.",
    ]));
    assert_eq!(out.trim(), format!("maintenance {id} is in_progress"));
    let shown = ok(upkeep(&["maintenance", "show", &id, "--database", db]));
    assert!(
        shown.contains("status:      in_progress")
            && shown.contains("Started by hand.")
            && !shown.split("Timeline").nth(1).unwrap().contains(reason),
        "{shown}"
    );
    let audit = runtime.block_on(store.list_audit(1, None)).unwrap();
    assert_eq!(audit[0].action, "maintenance.start");
    assert_eq!(audit[0].target, format!("maintenance/{id}"));
    assert!(audit[0].actor.starts_with("cli:"), "{}", audit[0].actor);
    let before = audit[0].before.as_ref().unwrap();
    assert_eq!(before["hold_reason"], reason, "{before}");
    runtime.block_on(store.close());
    // Only a scheduled maintenance starts.
    let err = failed(start(&["--skip-checks"]));
    assert!(err.contains("only a scheduled one can be started"), "{err}");
}
