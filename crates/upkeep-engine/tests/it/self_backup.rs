//! The scheduled self-backup: files written every `every`, pruned to `keep`, runs recorded as
//! pings under the backup set's push key, only on the lease holder; and its configuration.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_engine::clock::{ManualClock, SharedClock};
use upkeep_engine::config::{ConfigHandle, ConfigSource, load};
use upkeep_engine::self_backup::{self, SelfBackupSettings};
use upkeep_store::monitoring::PingKind;
use upkeep_store::snapshot::verify_sqlite_snapshot;
use upkeep_store::testing::TestDatabase;

const KEY: &str = "upkeep-self-key";

fn config_text(self_backup: &str) -> String {
    format!(
        r#"page:
  name: Test Cloud
  url: http://127.0.0.1:8080
  timezone: UTC
backups:
  upkeep-self: {{ rpo: 26h, rto: 1h, push_key: {KEY} }}
{self_backup}"#
    )
}

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("upkeep.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn backups_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn writes_every_period_prunes_to_keep_and_records_pings() {
    let db = TestDatabase::sqlite();
    let store = db.store().await;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("backups");
    let text = config_text(&format!(
        "self_backup:\n  every: 1h\n  dir: {}\n  keep: 2\n  backup_set: upkeep-self\n",
        out.display()
    ));
    let path = write_config(tmp.path(), &text);
    let start: Timestamp = "2026-09-21T14:00:00Z".parse().unwrap();
    let config = ConfigHandle::new(load(&ConfigSource::File(path), start).unwrap());
    let manual = ManualClock::new(start);
    let clock: SharedClock = Arc::new(manual.clone());
    let (active_tx, active) = watch::channel(false);
    let stop = CancellationToken::new();
    let task = tokio::spawn(self_backup::run(
        store.clone(),
        db.url.clone(),
        config.subscribe(),
        clock,
        SelfBackupSettings {
            poll_every: Duration::from_millis(20),
        },
        active,
        stop.clone(),
    ));

    // Not the lease holder: nothing happens.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(backups_in(&out).is_empty(), "{:?}", backups_in(&out));

    active_tx.send_replace(true);
    // (A backup being written shows as a hidden `.partial` file first.)
    wait_for("the first backup", || {
        backups_in(&out) == ["upkeep-20260921T140000Z.db"]
    })
    .await;
    // Not due again until an hour has passed.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(backups_in(&out).len(), 1);

    for (hour, expected) in [
        (
            1,
            vec!["upkeep-20260921T140000Z.db", "upkeep-20260921T150000Z.db"],
        ),
        (
            2,
            vec!["upkeep-20260921T150000Z.db", "upkeep-20260921T160000Z.db"],
        ),
        (
            3,
            vec!["upkeep-20260921T160000Z.db", "upkeep-20260921T170000Z.db"],
        ),
    ] {
        manual.set(start.checked_add(SignedDuration::from_hours(hour)).unwrap());
        wait_for("the next backup", || backups_in(&out) == expected).await;
    }
    stop.cancel();
    task.await.unwrap();

    for name in backups_in(&out) {
        let info = verify_sqlite_snapshot(&out.join(&name)).await.unwrap();
        assert!(info.bytes > 0);
    }

    // Each run is a start and a success with the same run id, under the set's push key.
    let pings = store.recent_pings(KEY, 100).await.unwrap();
    let starts: Vec<_> = pings.iter().filter(|p| p.kind == PingKind::Start).collect();
    let successes: Vec<_> = pings
        .iter()
        .filter(|p| p.kind == PingKind::Success)
        .collect();
    assert_eq!(starts.len(), 4, "{pings:?}");
    assert_eq!(successes.len(), 4, "{pings:?}");
    for success in &successes {
        let rid = success.rid.as_deref().unwrap();
        assert_eq!(rid.len(), 36, "{rid}");
        assert!(starts.iter().any(|s| s.rid.as_deref() == Some(rid)));
        assert!(success.body.contains("bytes"), "{}", success.body);
        assert_eq!(success.exit_code, Some(0));
    }
    let last = store.last_ping(KEY).await.unwrap().unwrap();
    assert_eq!(last.kind, PingKind::Success);
    store.close().await;
}

#[tokio::test]
async fn a_failed_run_is_a_fail_ping_with_the_reason() {
    let db = TestDatabase::sqlite();
    let store = db.store().await;
    let tmp = tempfile::tempdir().unwrap();
    // `dir` is a file: the backup cannot be written there.
    let blocker = tmp.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let text = config_text(&format!(
        "self_backup:\n  every: 24h\n  dir: {}\n  backup_set: upkeep-self\n",
        blocker.display()
    ));
    let path = write_config(tmp.path(), &text);
    let now = Timestamp::now();
    let loaded = load(&ConfigSource::File(path), now).unwrap();
    let plan = loaded.config.self_backup.clone().unwrap();
    assert_eq!(plan.keep, 7, "keep defaults to 7");
    let e = self_backup::run_once(&store, &db.url, &loaded.config, &plan, now)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot create"), "{e}");
    let last = store.last_ping(KEY).await.unwrap().unwrap();
    assert_eq!(last.kind, PingKind::Fail);
    assert!(last.body.contains("cannot create"), "{}", last.body);
    store.close().await;
}

#[test]
fn configuration_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "self_backup:\n  every: 24h\n  dir: /tmp/x\n  backup_set: upkeep-slef\n",
            "10:15",
            "unknown backup set `upkeep-slef`; did you mean `upkeep-self`?",
        ),
        (
            "self_backup:\n  every: 0s\n  dir: /tmp/x\n",
            "8:10",
            "must be greater than zero",
        ),
        (
            "self_backup:\n  every: 24h\n  dir: /tmp/x\n  keep: 0\n",
            "10:9",
            "must be greater than zero",
        ),
        (
            "self_backup:\n  every: 24h\n",
            "8:3",
            "missing required key `dir`",
        ),
    ];
    for (section, at, message) in cases {
        let path = write_config(tmp.path(), &config_text(section));
        let e = load(&ConfigSource::File(path), Timestamp::now()).unwrap_err();
        let lines = e.lines();
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!(":{at}:")) && l.contains(message)),
            "{section}: {lines:?}"
        );
    }
    let path = write_config(
        tmp.path(),
        &config_text("self_backup: { every: 12h, dir: /var/backups/upkeep, keep: 3 }\n"),
    );
    let loaded = load(&ConfigSource::File(path), Timestamp::now()).unwrap();
    let plan = loaded.config.self_backup.unwrap();
    assert_eq!(plan.every, Duration::from_secs(12 * 3600));
    assert_eq!(plan.keep, 3);
    assert_eq!(plan.backup_set, None);
    assert!(
        load(
            &ConfigSource::File(write_config(tmp.path(), &config_text(""))),
            Timestamp::now()
        )
        .unwrap()
        .config
        .self_backup
        .is_none()
    );
}
