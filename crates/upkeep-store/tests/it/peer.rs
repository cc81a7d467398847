//! A missing peer is never silent: the test that needs it skips into the skip list with one
//! line naming the test, the peer and how to get it, or fails under `UPKEEP_REQUIRE_PEERS=1`.
//! Checked by running this test binary again as a child, with the environment of each case.

use std::process::{Command, Output};

use upkeep_store::testing::peer;

const CHILD_ENV: &str = "UPKEEP_TEST_PEER_CHILD";
const TEST: &str = "peer::a_missing_peer_skips_loudly_or_fails_when_required";

/// Runs only this test in a child process, which asks for a program that does not exist.
fn child(require: Option<&str>, skip_list: &std::path::Path) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", TEST, "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .env(peer::SKIP_LIST_ENV, skip_list)
        .env_remove(peer::REQUIRE_ENV);
    if let Some(value) = require {
        cmd.env(peer::REQUIRE_ENV, value);
    }
    cmd.output().unwrap()
}

#[test]
fn a_missing_peer_skips_loudly_or_fails_when_required() {
    if std::env::var(CHILD_ENV).is_ok() {
        assert!(peer::program("upkeep-no-such-peer", "upkeep-no-such-package").is_none());
        return;
    }
    let dir = tempfile::tempdir().unwrap();

    // Skipped: the run passes, says so past the output capture, and lists the skip.
    let list = dir.path().join("skips.txt");
    let out = child(None, &list);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "SKIPPED {TEST}: the program `upkeep-no-such-peer` is missing"
        )),
        "{stderr}"
    );
    let listed = std::fs::read_to_string(&list).unwrap();
    let fields: Vec<&str> = listed.trim_end().split('\t').collect();
    assert_eq!(fields.len(), 3, "{listed}");
    assert_eq!(fields[..2], [TEST, "the program `upkeep-no-such-peer`"]);
    assert!(fields[2].contains("upkeep-no-such-package"), "{listed}");

    // Required: the same run fails, naming the peer, and lists nothing.
    let list = dir.path().join("required.txt");
    let out = child(Some("1"), &list);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("`upkeep-no-such-peer` is missing and UPKEEP_REQUIRE_PEERS=1 requires it"),
        "{stdout}"
    );
    assert!(!list.exists());

    // Any other value of the variable keeps the skip.
    let out = child(Some("0"), &dir.path().join("zero.txt"));
    assert!(out.status.success());
}
