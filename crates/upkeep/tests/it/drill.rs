//! `upkeep drill` against a real SQLite file: start → list → finish (validated) → finish again
//! (refused) → list; unknown sets refused against `--config`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use support::{Workspace, failed, ok, page_config, upkeep};

const CONFIG: &str = page_config!(
    r#"
components:
  db: { name: Database }
backups:
  main-db: { rpo: 6h, rto: 24h, drill_every: 30d, push_key: main-key }
"#
);

#[test]
fn drills_start_finish_and_list_from_the_command_line() {
    let ws = Workspace::with_config(CONFIG);
    let (config, db) = (ws.config.as_str(), ws.db.as_str());
    let with = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database", db]);
        upkeep(&all)
    };

    let err = failed(with(&["drill", "start", "nope", "--config", config]));
    assert!(
        err.contains("no backup set `nope`") && err.contains("main-db"),
        "{err}"
    );

    let id = ok(with(&[
        "drill",
        "start",
        "main-db",
        "--notes",
        "restore to staging",
        "--config",
        config,
    ]))
    .trim()
    .to_owned();
    assert_eq!(id.len(), 12, "{id}");
    let list = ok(with(&["drill", "list", "main-db"]));
    assert!(list.contains(&id) && list.contains("running"), "{list}");

    let err = failed(with(&[
        "drill",
        "finish",
        "main-db",
        &id,
        "--outcome",
        "maybe",
        "--config",
        config,
    ]));
    assert!(err.contains("success or failure"), "{err}");
    let out = ok(with(&[
        "drill",
        "finish",
        "main-db",
        &id,
        "--outcome",
        "success",
        "--validated",
        "--notes",
        "checksums ok",
        "--config",
        config,
    ]));
    assert!(out.contains("meets the RTO"), "{out}");
    let err = failed(with(&[
        "drill",
        "finish",
        "main-db",
        &id,
        "--outcome",
        "failure",
        "--config",
        config,
    ]));
    assert!(err.contains("already finished"), "{err}");
    let err = failed(with(&[
        "drill",
        "finish",
        "main-db",
        "zzzzzzzzzzzz",
        "--outcome",
        "failure",
        "--config",
        config,
    ]));
    assert!(err.contains("no drill"), "{err}");

    let list = ok(with(&["drill", "list"]));
    assert!(
        list.contains(&id) && list.contains("success") && list.contains("yes"),
        "{list}"
    );
    assert!(ok(with(&["drill", "list", "other"])).contains("no drills"));
}
