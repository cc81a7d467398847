//! `upkeep backup` and `upkeep restore` against real servers: an online copy taken while the
//! server writes, restored into a new database that a new server serves with the same incident
//! and token; restores refused over data without `--force` and under a running server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use support::{Server, Workspace, admin_token, ok, page_config, text, upkeep};

const CONFIG: &str = page_config!(
    r#"
components:
  api: { name: Public API }
"#
);

fn refused(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

fn open_incident(db: &str) -> String {
    ok(upkeep(&[
        "incident",
        "open",
        "--title",
        "Database failover",
        "--component",
        "api=partial_outage",
        "--database",
        db,
    ]))
    .trim()
    .to_owned()
}

fn stop(mut server: Server) {
    server.signal("TERM");
    assert_eq!(server.wait_exit(), Some(0));
}

/// The incident is served, and the token still authenticates.
fn assert_serves(server: &Server, token: &str, incident: &str) {
    let resp = server.get(&format!("/api/v1/incidents/{incident}"), Some(token));
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("Database failover"), "{resp}");
    let resp = server.get("/api/v1/incidents", Some("upk_not-a-real-token"));
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
}

#[test]
fn sqlite_backup_while_serving_restores_into_a_new_database() {
    let ws = Workspace::with_config(CONFIG);
    let (config, db) = (ws.config.as_str(), ws.db.as_str());

    let server = Server::start(&["--config", config], db);
    let token = admin_token(db);
    let incident = open_incident(db);
    assert_serves(&server, &token, &incident);

    // An online copy while the server runs.
    let out_file = ws.path().join("upkeep-backup.db");
    let out = out_file.to_str().unwrap();
    let printed = ok(upkeep(&["backup", "--out", out, "--database", db]));
    assert!(
        printed.contains(&format!("wrote {out} (SQLite copy, ")) && printed.contains(" bytes) in "),
        "{printed}"
    );
    assert!(std::fs::metadata(&out_file).unwrap().len() > 0);
    let err = refused(upkeep(&["backup", "--out", out, "--database", db]));
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    ok(upkeep(&[
        "backup",
        "--out",
        out,
        "--force",
        "--database",
        db,
    ]));
    let err = refused(upkeep(&[
        "backup",
        "--out",
        out,
        "--database",
        &ws.sqlite("nothing.db"),
    ]));
    assert!(err.contains("there is no database at"), "{err}");
    assert!(!ws.path().join("nothing.db").exists());

    // Restoring under the running server is refused, even with --force.
    for force in [false, true] {
        let mut args = vec!["restore", "--from", out, "--database", &db];
        if force {
            args.push("--force");
        }
        let err = refused(upkeep(&args));
        assert!(
            err.contains("running upkeep server") && err.contains("stop upkeep first"),
            "{err}"
        );
    }
    stop(server);

    // Stopped, but the database holds data: refused without --force.
    let err = refused(upkeep(&["restore", "--from", out, "--database", db]));
    assert!(
        err.contains("already holds upkeep data") && err.contains("--force"),
        "{err}"
    );

    // Files that are not upkeep backups are refused before anything is touched.
    let junk = ws.path().join("junk.db");
    std::fs::write(&junk, "not a database").unwrap();
    let fresh = ws.sqlite("fresh.db");
    let err = refused(upkeep(&[
        "restore",
        "--from",
        junk.to_str().unwrap(),
        "--database",
        &fresh,
    ]));
    assert!(err.contains("is not an SQLite database"), "{err}");
    assert!(!ws.path().join("fresh.db").exists());

    // Into a new database: a new server serves the same incident and token.
    let restored_path = ws.path().join("restored").join("upkeep.db");
    std::fs::create_dir_all(restored_path.parent().unwrap()).unwrap();
    let restored = format!("sqlite://{}", restored_path.display());
    let printed = ok(upkeep(&["restore", "--from", out, "--database", &restored]));
    assert!(printed.contains("restored"), "{printed}");
    let server = Server::start(&["--config", config], &restored);
    assert_serves(&server, &token, &incident);
    stop(server);

    // --force replaces a stopped database that holds data.
    ok(upkeep(&[
        "restore",
        "--from",
        out,
        "--force",
        "--database",
        db,
    ]));
    let server = Server::start(&["--config", config], db);
    assert_serves(&server, &token, &incident);
    stop(server);
}

fn psql(base: &str, sql: &str) {
    let status = Command::new("psql")
        .args([base, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .status()
        .unwrap();
    assert!(status.success(), "psql: {sql}");
}

/// `base` with its database name replaced by `name`.
fn with_database(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((head, query)) => (head, format!("?{query}")),
        None => (base, String::new()),
    };
    let host = head.rsplit_once('/').map_or(head, |(host, _)| host);
    format!("{host}/{name}{query}")
}

#[test]
fn postgres_backup_while_serving_restores_into_a_new_database() {
    use upkeep_store::testing::peer;
    let Some(base) =
        peer::postgres_url("postgres_backup_while_serving_restores_into_a_new_database")
    else {
        return;
    };
    if !peer::postgres_client() {
        return;
    }
    let suffix = format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    let source_name = format!("upkeep_backup_src_{suffix}");
    let target_name = format!("upkeep_backup_dst_{suffix}");
    psql(&base, &format!("CREATE DATABASE {source_name}"));
    psql(&base, &format!("CREATE DATABASE {target_name}"));
    let source = with_database(&base, &source_name);
    let target = with_database(&base, &target_name);

    let ws = Workspace::with_config(CONFIG);
    let config = ws.config.as_str();

    let server = Server::start(&["--config", config], &source);
    let token = admin_token(&source);
    let incident = open_incident(&source);
    let dump = ws.path().join("upkeep.dump");
    let dump_path = dump.to_str().unwrap();
    let printed = ok(upkeep(&[
        "backup",
        "--out",
        dump_path,
        "--database",
        &source,
    ]));
    assert!(
        printed.contains("pg_dump custom-format archive"),
        "{printed}"
    );
    assert!(std::fs::read(&dump).unwrap().starts_with(b"PGDMP"));
    let err = refused(upkeep(&[
        "restore",
        "--from",
        dump_path,
        "--force",
        "--database",
        &source,
    ]));
    assert!(err.contains("running upkeep server"), "{err}");
    stop(server);
    let err = refused(upkeep(&[
        "restore",
        "--from",
        dump_path,
        "--database",
        &source,
    ]));
    assert!(err.contains("already holds upkeep data"), "{err}");

    ok(upkeep(&[
        "restore",
        "--from",
        dump_path,
        "--database",
        &target,
    ]));
    let server = Server::start(&["--config", config], &target);
    assert_serves(&server, &token, &incident);
    stop(server);

    // The SQLite loader refuses a PostgreSQL dump with a clear sentence.
    let sqlite = ws.sqlite("x.db");
    let err = refused(upkeep(&[
        "restore",
        "--from",
        dump_path,
        "--database",
        &sqlite,
    ]));
    assert!(err.contains("restores only into PostgreSQL"), "{err}");
    assert!(!Path::new(&ws.path().join("x.db")).exists());

    psql(&base, &format!("DROP DATABASE {source_name} WITH (FORCE)"));
    psql(&base, &format!("DROP DATABASE {target_name} WITH (FORCE)"));
}

#[test]
fn serve_writes_scheduled_self_backups() {
    let ws = Workspace::empty();
    let out = ws.path().join("self-backups");
    ws.write_config(&format!(
        "{CONFIG}backups:\n  upkeep-self: {{ rpo: 26h, rto: 1h, push_key: upkeep-self-key }}\n\
             self_backup:\n  every: 24h\n  dir: {}\n  keep: 3\n  backup_set: upkeep-self\n",
        out.display()
    ));
    let server = Server::start(&["--config", &ws.config], &ws.db);
    let line = server.wait_log("self-backup written");
    assert!(line.contains("upkeep-"), "{line}");
    let files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].starts_with("upkeep-") && files[0].ends_with("Z.db"),
        "{files:?}"
    );
    stop(server);
    // The scheduled copy restores like a manual one.
    let restored = ws.sqlite("restored.db");
    ok(upkeep(&[
        "restore",
        "--from",
        out.join(&files[0]).to_str().unwrap(),
        "--database",
        &restored,
    ]));
}
