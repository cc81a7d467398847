//! The `upkeep` binary as an operator uses it: real processes, real signals, real sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::support;

use support::{BIN, Server, admin_token, repo_file, text, upkeep};
use upkeep_store::testing::TestDatabase;

#[test]
fn version_and_help_describe_every_command() {
    let out = upkeep(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("upkeep {}", env!("CARGO_PKG_VERSION"))
    );
    let help = text(&upkeep(&["--help"]).stdout);
    for cmd in ["serve", "check", "migrate", "token"] {
        assert!(help.contains(cmd), "{help}");
    }
    for (args, needle) in [
        (vec!["serve", "--help"], "--listen"),
        (vec!["check", "--help"], "FILE:LINE:COLUMN"),
        (vec!["migrate", "--help"], "UPKEEP_DATABASE_URL"),
        (vec!["token", "create", "--help"], "--role"),
        (vec!["token", "--help"], "revoke"),
    ] {
        let out = upkeep(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            text(&out.stdout).contains(needle),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn check_accepts_the_contract_and_the_demo() {
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(repo_file("examples/upkeep.yaml"))
        .env("UPKEEP_HOOK_SECRET", "s3cret")
        .env("PD_KEY", "pd-routing-key")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(": ok ("),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !text(&out.stderr).contains("warning"),
        "the examples ship strong ping keys: {}",
        text(&out.stderr)
    );
    let out = upkeep(&[
        "check",
        "--config",
        repo_file("examples/demo.yaml").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn key_new_makes_strong_keys_and_check_warns_about_weak_ones() {
    let a = support::ok(upkeep(&["key", "new"])).trim().to_owned();
    let b = support::ok(upkeep(&["key", "new"])).trim().to_owned();
    assert_ne!(a, b);
    assert_eq!(a.len(), 32, "{a}");
    assert!(
        upkeep_domain::ping_key::apparent_bits(&a) >= upkeep_domain::ping_key::STRONG_KEY_BITS,
        "{a}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.yaml");
    std::fs::write(
        &file,
        format!(
            "page:\n  name: X\n  url: http://127.0.0.1:8080\n  timezone: Europe/Rome\n\
             components:\n  db: {{ name: DB }}\n\
             monitors:\n  nightly: {{ component: db, push: {{ key: {a}, period: 1d }} }}\n  \
             weekly: {{ component: db, push: {{ key: 9d1c-mongo, period: 7d }} }}\n\
             backups:\n  main: {{ rpo: 1d, rto: 1h, push_key: backup-1 }}\n"
        ),
    )
    .unwrap();
    let out = upkeep(&["check", "--config", file.to_str().unwrap()]);
    assert!(out.status.success(), "a warning is not an error");
    let warnings = text(&out.stderr);
    assert!(
        warnings.contains("warning: the ping key of monitor `weekly`")
            && warnings.contains("warning: the ping key of backup `main`")
            && warnings.contains("upkeep key new")
            && !warnings.contains("nightly"),
        "{warnings}"
    );
}

#[test]
fn check_reports_every_problem_with_its_position_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "page:\n  name: X\n  url: http://127.0.0.1:8080\n  timezone: Mars/Olympus\n\
         components:\n  api: { name: API, colour: red }\n\
         monitors:\n  m: { component: nope, tcp: { address: \"127.0.0.1:1\" }, interval: 10 }\n",
    )
    .unwrap();
    let out = upkeep(&["check", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let f = file.display().to_string();
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with(&f)).collect();
    assert!(lines.len() >= 4, "{err}");
    assert!(
        lines[0].starts_with(&format!("{f}:4:13: ")) && lines[0].contains("Mars/Olympus"),
        "{err}"
    );
    assert!(
        lines[1].starts_with(&format!("{f}:6:21: ")) && lines[1].contains("colour"),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{f}:8:19: ")) && l.contains("nope")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("bad duration `10`") && l.contains("write 10s")),
        "{err}"
    );
    // Missing environment variables are problems too.
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(repo_file("examples/upkeep.yaml"))
        .env_remove("UPKEEP_HOOK_SECRET")
        .env_remove("PD_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("PD_KEY"),
        "{}",
        text(&out.stderr)
    );
    // An unreadable file.
    let out = upkeep(&["check", "--config", "/nonexistent/upkeep.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/upkeep.yaml"));
}

/// A new SQLite file, and a new schema of the test PostgreSQL when one is configured (never its
/// shared `public` schema, which other runs may have migrated differently); each URL with the
/// database that goes away with it.
pub(crate) fn database_urls(test: &str) -> Vec<(String, TestDatabase)> {
    let sqlite = TestDatabase::sqlite();
    let mut urls = vec![(sqlite.url.clone(), sqlite)];
    if let Some(url) = upkeep_store::testing::postgres_url(test) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let pg = runtime.block_on(TestDatabase::postgres(&url));
        urls.push((pg.url.clone(), pg));
    }
    urls
}

#[test]
fn migrate_and_token_commands_work_on_both_databases() {
    for (url, _dir) in database_urls("migrate_and_token_commands_work_on_both_databases") {
        let out = upkeep(&["migrate", "--database", &url]);
        assert!(out.status.success(), "{url}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("schema is up to date"));
        let out = upkeep(&["migrate", "--database", &url]);
        assert!(
            text(&out.stdout).contains("0 migration(s) applied"),
            "{}",
            text(&out.stdout)
        );

        let name = format!("cli test {}", std::process::id());
        let out = upkeep(&[
            "token",
            "create",
            "--role",
            "viewer",
            "--name",
            &name,
            "--database",
            &url,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let secret = text(&out.stdout).trim().to_owned();
        assert!(
            secret.starts_with("upk_") && !secret.contains(' '),
            "{secret}"
        );
        assert!(text(&out.stderr).contains("not shown again"));

        let list = text(&upkeep(&["token", "list", "--database", &url]).stdout);
        let line = list
            .lines()
            .find(|l| l.ends_with(&name))
            .unwrap_or_else(|| panic!("{list}"));
        assert!(line.contains("viewer") && line.contains("active"), "{line}");
        assert!(!list.contains(&secret), "list never shows secrets");
        let id = line.split_whitespace().next().unwrap().to_owned();

        let out = upkeep(&["token", "revoke", &id, "--database", &url]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let list = text(&upkeep(&["token", "list", "--database", &url]).stdout);
        assert!(
            list.lines()
                .any(|l| l.starts_with(&id) && l.contains("revoked")),
            "{list}"
        );

        // A token for Alertmanager only.
        let out = upkeep(&[
            "token",
            "create",
            "--role",
            "hook",
            "--name",
            "alertmanager",
            "--database",
            &url,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let list = text(&upkeep(&["token", "list", "--database", &url]).stdout);
        assert!(
            list.lines()
                .any(|l| l.ends_with("alertmanager") && l.contains("hook")),
            "{list}"
        );

        let out = upkeep(&["token", "revoke", "nosuchtoken1", "--database", &url]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains("there is no token"));
        let out = upkeep(&[
            "token",
            "create",
            "--role",
            "root",
            "--name",
            "x",
            "--database",
            &url,
        ]);
        assert_eq!(out.status.code(), Some(2), "clap refuses an unknown role");
        assert!(text(&out.stderr).contains("viewer, editor, admin, hook or agent"));
    }
    let out = upkeep(&["migrate", "--database", "mysql://localhost/x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("neither a sqlite:// nor a postgres://"));
}

#[test]
fn serve_runs_the_embedded_demo_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let mut server = Server::start(&[], &db);
    assert!(server.get("/healthz", None).starts_with("HTTP/1.1 200"));
    assert!(server.get("/readyz", None).starts_with("HTTP/1.1 200"));
    let token = admin_token(&db);
    let config = server.get("/api/v1/config", Some(&token));
    assert!(config.contains("<embedded demo.yaml>"), "{config}");

    // A request in flight when SIGTERM arrives is finished, then the process exits 0.
    let body = r#"{"name":"made during shutdown","role":"viewer"}"#;
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /api/v1/tokens HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.signal("TERM");
    server.wait_log("shutting down");
    // New connections are no longer accepted once shutdown began...
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        TcpStream::connect(&server.addr).is_err(),
        "the listener is closed"
    );
    // ...but the request in flight completes.
    s.write_all(&body.as_bytes()[10..]).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(server.wait_exit(), Some(0));
    // And it was written.
    let list = text(&upkeep(&["token", "list", "--database", &db]).stdout);
    assert!(list.contains("made during shutdown"), "{list}");
}

#[test]
fn the_demo_starts_quietly_and_says_where_to_look() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let demo = repo_file("examples/demo.yaml");
    let server = Server::start(&["--config", demo.to_str().unwrap()], &db);
    // Past the first passes of every background task (probes, backups, deliveries).
    let lines = server.lines_for(Duration::from_secs(12));
    let all = lines.join("\n");
    for needle in [
        "status page: http://",
        "/api/v1/openapi.json",
        "upkeep token create --role admin",
        "push monitor `jobs-heartbeat` expects a success ping every 5m (late after 2m more)",
        "no notification channels are configured",
    ] {
        assert!(all.contains(needle), "no `{needle}` in:\n{all}");
    }
    let loud: Vec<&String> = lines
        .iter()
        .filter(|l| {
            l.contains(" WARN ")
                || l.contains(" ERROR ")
                || l.contains("\"level\":\"WARN")
                || l.contains("\"level\":\"ERROR")
        })
        .collect();
    assert!(loud.is_empty(), "the demo is not quiet: {loud:#?}");

    // The heartbeat the README tells how to send is the demo's, and upkeep takes it.
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let key = readme
        .split("curl -fsS http://127.0.0.1:8080/ping/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the README shows the demo's heartbeat");
    let yaml = std::fs::read_to_string(&demo).unwrap();
    assert!(
        yaml.contains(&format!("key: {key},")),
        "{key} is not the demo's"
    );
    assert!(
        server
            .get(&format!("/ping/{key}"), None)
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        server
            .get(&format!("/ping/{key}/fail"), None)
            .starts_with("HTTP/1.1 200")
    );
}

#[test]
fn sighup_reloads_a_valid_file_and_keeps_the_running_one_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let config = dir.path().join("upkeep.yaml");
    let valid = "page: { name: Before, url: \"http://127.0.0.1:8080\", timezone: UTC }\n";
    std::fs::write(&config, valid).unwrap();
    let token = admin_token(&db);
    let mut server = Server::start(&["--config", config.to_str().unwrap()], &db);
    assert!(
        server
            .get("/api/v1/config", Some(&token))
            .contains("\"page_name\":\"Before\"")
    );

    std::fs::write(&config, valid.replace("Before", "After")).unwrap();
    server.signal("HUP");
    server.wait_log("configuration reloaded");
    assert!(
        server
            .get("/api/v1/config", Some(&token))
            .contains("\"page_name\":\"After\"")
    );

    std::fs::write(
        &config,
        "page: { name: Broken, url: 5, timezone: Nowhere/City }\n",
    )
    .unwrap();
    server.signal("HUP");
    let line = server.wait_log("Nowhere/City");
    assert!(line.contains(&format!("{}:1:", config.display())), "{line}");
    server.wait_log("running configuration stays in force");
    assert!(
        server
            .get("/api/v1/config", Some(&token))
            .contains("\"page_name\":\"After\"")
    );
    let audit = server.get("/api/v1/audit", Some(&token));
    assert!(audit.contains("\"actor\":\"signal:SIGHUP\""), "{audit}");

    server.signal("INT");
    assert_eq!(server.wait_exit(), Some(0));
}

#[test]
fn serve_refuses_to_start_on_a_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.yaml");
    std::fs::write(&config, "page:\n\tname: tabbed\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--database")
        .arg(format!("sqlite://{}", dir.path().join("x.db").display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}:2:1: ", config.display())),
        "{err}"
    );
    assert!(err.contains("not starting"), "{err}");
}

#[test]
fn serve_works_on_postgres() {
    let Some(base) = upkeep_store::testing::postgres_url("serve_works_on_postgres") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pg = runtime.block_on(TestDatabase::postgres(&base));
    let url = pg.url.clone();
    let mut server = Server::start(&[], &url);
    assert!(server.get("/readyz", None).starts_with("HTTP/1.1 200"));
    let token = admin_token(&url);
    let me = server.get("/api/v1/whoami", Some(&token));
    assert!(me.contains("\"role\":\"admin\""), "{me}");
    server.signal("TERM");
    assert_eq!(server.wait_exit(), Some(0));
    runtime.block_on(pg.cleanup());
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let mut server = Server::start(&["--log-format", "json"], &db);
    assert!(server.get("/healthz", None).starts_with("HTTP/1.1 200"));
    server.signal("TERM");
    let line = server.wait_log("shutting down");
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["signal"], "SIGTERM", "{line}");
    assert_eq!(server.wait_exit(), Some(0));
}
