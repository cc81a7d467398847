//! `upkeep drill` against a real SQLite file: start → list → finish (validated) → finish again
//! (refused) → list; unknown sets refused against `--config`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::process::Output;

use support::{text, upkeep};

const CONFIG: &str = r#"
page:
  name: Test Cloud
  url: http://127.0.0.1:8080
  timezone: Europe/Rome
components:
  db: { name: Database }
backups:
  main-db: { rpo: 6h, rto: 24h, drill_every: 30d, push_key: main-key }
"#;

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn failed(out: Output) -> String {
    assert!(!out.status.success(), "{}", text(&out.stdout));
    text(&out.stderr)
}

#[test]
fn drills_start_finish_and_list_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("upkeep.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.to_str().unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let with = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database", &db]);
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
