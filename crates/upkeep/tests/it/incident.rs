//! `upkeep incident` against a real SQLite file: open → list → update → resolve, component
//! checks against `--config`, and the result as the admin API of a real server sees it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use support::{Server, Workspace, admin_token, failed, ok, page_config, upkeep};

const CONFIG: &str = page_config!(
    r#"
components:
  api: { name: Public API }
  web: { name: Website }
"#
);

#[test]
fn incidents_open_update_resolve_and_list_from_the_command_line() {
    let ws = Workspace::with_config(CONFIG);
    let (config, db) = (ws.config.as_str(), ws.db.as_str());

    let help = ok(upkeep(&["incident", "open", "--help"]));
    assert!(help.contains("--component") && help.contains("only when a configuration is given"));

    // Open, with components checked against the configuration.
    let err = failed(upkeep(&[
        "incident",
        "open",
        "--title",
        "DB down",
        "--component",
        "db=major_outage",
        "--config",
        config,
        "--database",
        db,
    ]));
    assert!(
        err.contains("`db`") && err.contains("`api`, `web`"),
        "{err}"
    );
    let err = failed(upkeep(&[
        "incident",
        "open",
        "--title",
        "x",
        "--component",
        "api=down",
        "--database",
        db,
    ]));
    assert!(err.contains("unknown component status `down`"), "{err}");
    let err = failed(upkeep(&[
        "incident",
        "open",
        "--title",
        " ",
        "--database",
        db,
    ]));
    assert!(err.contains("title"), "{err}");

    let out = ok(upkeep(&[
        "incident",
        "open",
        "--title",
        "API errors",
        "--component",
        "api=major_outage",
        "--component",
        "web=degraded_performance",
        "--body",
        "Looking into it.",
        "--config",
        config,
        "--database",
        db,
    ]));
    let id = out.trim().to_owned();
    assert_eq!(id.len(), 12, "{out}");

    // Without a configuration, any component id is accepted.
    let other = ok(upkeep(&[
        "incident",
        "open",
        "--title",
        "Batch jobs late",
        "--component",
        "jobs=partial_outage",
        "--impact",
        "minor",
        "--status",
        "identified",
        "--database",
        db,
    ]));
    let other = other.trim().to_owned();

    let list = ok(upkeep(&["incident", "list", "--database", db]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("ID"), "{list}");
    assert!(lines[1].starts_with(&other), "newest first: {list}");
    assert!(
        lines[1].contains("identified") && lines[1].contains("minor"),
        "{list}"
    );
    assert!(lines[2].starts_with(&id), "{list}");
    assert!(
        lines[2].contains("investigating")
            && lines[2].contains("critical")
            && lines[2].contains("api=major_outage,web=degraded_performance")
            && lines[2].contains("API errors"),
        "{list}"
    );

    // Update.
    let err = failed(upkeep(&["incident", "update", &id, "--database", db]));
    assert!(err.contains("at least one of"), "{err}");
    let err = failed(upkeep(&[
        "incident",
        "update",
        "nosuchincid1",
        "--body",
        "x",
        "--database",
        db,
    ]));
    assert!(err.contains("there is no incident `nosuchincid1`"), "{err}");
    let out = ok(upkeep(&[
        "incident",
        "update",
        &id,
        "--status",
        "monitoring",
        "--body",
        "Fix deployed.",
        "--component",
        "web=operational",
        "--config",
        config,
        "--database",
        db,
    ]));
    assert!(out.contains("is monitoring"), "{out}");

    // Resolve.
    let out = ok(upkeep(&[
        "incident",
        "resolve",
        &id,
        "--body",
        "All good.",
        "--database",
        db,
    ]));
    assert!(out.contains("is resolved"), "{out}");
    let err = failed(upkeep(&[
        "incident",
        "resolve",
        "nosuchincid1",
        "--database",
        db,
    ]));
    assert!(err.contains("there is no incident"), "{err}");

    let open = ok(upkeep(&[
        "incident",
        "list",
        "--unresolved",
        "--database",
        db,
    ]));
    let lines: Vec<&str> = open.lines().collect();
    assert_eq!(lines.len(), 2, "{open}");
    assert!(lines[1].starts_with(&other), "{open}");
    let all = ok(upkeep(&["incident", "list", "--database", db]));
    let line = all.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(
        line.contains("resolved") && line.contains("api=operational,web=operational"),
        "{all}"
    );

    // The admin API of a server on the same database sees the same timeline and audit trail.
    let token = admin_token(db);
    let server = Server::start(&[], db);
    let resp = server.get(&format!("/api/v1/incidents/{id}"), Some(&token));
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let body = resp.split("\r\n\r\n").nth(1).unwrap();
    let incident: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(incident["status"], "resolved");
    let updates = incident["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 3);
    assert_eq!(updates[0]["body"], "All good.");
    assert_eq!(updates[1]["body"], "Fix deployed.");
    assert_eq!(updates[2]["body"], "Looking into it.");
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    assert_eq!(incident["created_by"], format!("cli:{user}"));
    assert_eq!(updates[0]["created_by"], format!("cli:{user}"));
    let resp = server.get("/api/v1/audit", Some(&token));
    assert!(
        resp.contains("incident.create") && resp.contains("incident.update"),
        "{resp}"
    );
}
