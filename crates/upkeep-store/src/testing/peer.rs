//! The real peers some tests talk to — PostgreSQL, MariaDB, Redis, Mosquitto, headless Chromium, Prometheus Alertmanager,
//! `promtool`, nginx, net-snmp's `snmpd`, Dovecot, OpenSSH's `sshd`, `pg_dump`, Python packages — and what a test does when one is missing.
//!
//! A test asks for its peer first ([`postgres_url`], [`python`], [`chromium`], ...) and returns early
//! on `None`. A missing peer is never silent:
//! - by default the test is skipped loudly: one line naming the test, the peer and how to get it
//!   goes to stderr past the test harness's output capture, and to the skip list (see
//!   [`skip_list`]) that `scripts/test.sh` prints at the end of the run;
//! - with `UPKEEP_REQUIRE_PEERS=1` (continuous integration) the test fails instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Set to `1` to make a missing peer fail the test instead of skipping it.
pub const REQUIRE_ENV: &str = "UPKEEP_REQUIRE_PEERS";
/// The file the skips are appended to; defaults to `upkeep-test-skips.txt` in the target
/// directory of the running test binary (e.g. `target/debug/`).
pub const SKIP_LIST_ENV: &str = "UPKEEP_SKIP_LIST";
/// The Python interpreter for the Python peers; defaults to the project's `.venv` when it
/// exists (`scripts/test.sh` makes it), else `python3` on `PATH`.
pub const PYTHON_ENV: &str = "UPKEEP_TEST_PYTHON";
/// The environment variable naming the PostgreSQL server the tests may use.
pub const POSTGRES_ENV: &str = "UPKEEP_TEST_POSTGRES_URL";

/// The environment variable naming the MariaDB (or MySQL) server the tests may use.
pub const MARIADB_ENV: &str = "UPKEEP_TEST_MARIADB_URL";
/// The environment variable naming the Redis server the tests may use.
pub const REDIS_ENV: &str = "UPKEEP_TEST_REDIS_URL";
/// The environment variable naming the MQTT broker (Mosquitto) the tests may use.
pub const MQTT_ENV: &str = "UPKEEP_TEST_MQTT_URL";

/// The MariaDB URL for tests from [`MARIADB_ENV`], or `None` after skipping the running test.
pub fn mariadb_url() -> Option<String> {
    server_url(
        MARIADB_ENV,
        "MariaDB",
        "mysql://root@127.0.0.1:3306/test",
        "mariadb-server",
    )
}

/// The Redis URL for tests from [`REDIS_ENV`], or `None` after skipping the running test.
pub fn redis_url() -> Option<String> {
    server_url(REDIS_ENV, "Redis", "redis://127.0.0.1:6379", "redis-server")
}

/// The MQTT broker URL for tests from [`MQTT_ENV`], or `None` after skipping the running test.
pub fn mqtt_url() -> Option<String> {
    server_url(MQTT_ENV, "Mosquitto", "mqtt://127.0.0.1:1883", "mosquitto")
}

/// The URL of a server peer from the environment variable `env`, or `None` after skipping the
/// running test.
fn server_url(env: &str, peer: &str, example: &str, package: &str) -> Option<String> {
    match std::env::var(env) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip(
                peer,
                &format!(
                    "set {env}={example} (scripts/test.sh sets it when the server answers there; \
                     the Debian package `{package}` provides one)"
                ),
            );
            None
        }
    }
}

/// The PostgreSQL URL for tests from [`POSTGRES_ENV`], or `None` after skipping `test`'s
/// PostgreSQL half.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip_as(
                test,
                "PostgreSQL",
                &format!(
                    "set {POSTGRES_ENV}=postgres://USER@HOST:PORT/DB (scripts/test.sh uses \
                     127.0.0.1:5432 when it answers)"
                ),
            );
            None
        }
    }
}

/// Prometheus Alertmanager (`prometheus-alertmanager` on `PATH`).
pub fn alertmanager() -> Option<PathBuf> {
    program("prometheus-alertmanager", "prometheus-alertmanager")
}

/// Headless Chromium (`chromium` on `PATH`).
pub fn chromium() -> Option<PathBuf> {
    program("chromium", "chromium")
}

/// nginx (`nginx` on `PATH` or in `/usr/sbin`, from the Debian package `nginx-light`).
pub fn nginx() -> Option<PathBuf> {
    system_program("nginx", "nginx-light")
}

/// Dovecot (`dovecot` on `PATH` or in `/usr/sbin`, from the Debian package `dovecot-imapd`).
pub fn dovecot() -> Option<PathBuf> {
    system_program("dovecot", "dovecot-imapd")
}

/// OpenSSH's server (`sshd` in `/usr/sbin` or on `PATH`, from the Debian package
/// `openssh-server`); `sshd` insists on being started by its absolute path.
pub fn sshd() -> Option<PathBuf> {
    system_program("sshd", "openssh-server")
}

/// A daemon that Debian installs in `/usr/sbin`, which may not be on `PATH`.
fn system_program(name: &str, package: &str) -> Option<PathBuf> {
    let system = Path::new("/usr/sbin").join(name);
    if find_on_path(name).is_none() && is_executable(&system) {
        return Some(system);
    }
    program(name, package)
}

/// net-snmp's agent `snmpd` (on `PATH` or in `/usr/sbin`, from the Debian package `snmpd`).
pub fn snmpd() -> Option<PathBuf> {
    let system = Path::new("/usr/sbin/snmpd");
    if find_on_path("snmpd").is_none() && is_executable(system) {
        return Some(system.to_path_buf());
    }
    program("snmpd", "snmpd")
}

/// Prometheus's `promtool` (on `PATH`).
pub fn promtool() -> Option<PathBuf> {
    program("promtool", "prometheus")
}

/// PostgreSQL's client programs `pg_dump`, `pg_restore` and `psql` (on `PATH`).
pub fn postgres_client() -> bool {
    ["pg_dump", "pg_restore", "psql"]
        .iter()
        .all(|name| program(name, "postgresql-client").is_some())
}

/// The path of the program `name` on `PATH`, or `None` after skipping the running test;
/// `package` is the Debian package that installs it.
pub fn program(name: &str, package: &str) -> Option<PathBuf> {
    let found = find_on_path(name);
    if found.is_none() {
        skip(
            &format!("the program `{name}`"),
            &format!(
                "install the Debian package `{package}` (as root, `bash scripts/test-deps.sh` \
                 installs every such peer)"
            ),
        );
    }
    found
}

/// The Python interpreter (see [`PYTHON_ENV`]) when it imports every module in `modules`, or
/// `None` after skipping the running test.
pub fn python(modules: &[&str]) -> Option<PathBuf> {
    let interpreter = python_interpreter();
    let imports = format!("import {}", modules.join(", "));
    let ok = Command::new(&interpreter)
        .args(["-c", &imports])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(interpreter);
    }
    skip(
        &format!(
            "Python module(s) {} for {}",
            modules.join(", "),
            interpreter.display()
        ),
        &format!(
            "run `bash scripts/test.sh` (it makes .venv with scripts/test-requirements.txt), \
             or set {PYTHON_ENV} to a python that has them"
        ),
    );
    None
}

/// The interpreter [`python`] checks: [`PYTHON_ENV`], else the project's `.venv`, else
/// `python3`.
pub fn python_interpreter() -> PathBuf {
    if let Ok(p) = std::env::var(PYTHON_ENV)
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python3");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// Skips the running test (named after its thread, as the test harness names it) because
/// `peer` is missing, or fails it under [`REQUIRE_ENV`]. `how` tells how to get the peer.
pub fn skip(peer: &str, how: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>").to_owned();
    skip_as(&test, peer, how);
}

/// [`skip`] for a test named explicitly.
pub fn skip_as(test: &str, peer: &str, how: &str) {
    if required() {
        panic!("{test}: {peer} is missing and {REQUIRE_ENV}=1 requires it; {how}");
    }
    let line = format!("{test}\t{peer}\t{how}\n");
    // Straight to the process's stderr: the test harness captures `eprintln!`, not this.
    let _ = std::io::stderr()
        .write_all(format!("SKIPPED {test}: {peer} is missing; {how}\n").as_bytes());
    let path = skip_list();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // One short append per skip: concurrent tests do not interleave within a line.
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// Whether missing peers fail tests ([`REQUIRE_ENV`] is `1`).
pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// The skip list: [`SKIP_LIST_ENV`], else `upkeep-test-skips.txt` beside the `deps/` directory
/// holding the running test binary. One line per skip: test, peer and how to get it, separated
/// by tabs. It grows across runs until deleted; `scripts/test.sh` starts each run with a new one.
pub fn skip_list() -> PathBuf {
    if let Ok(p) = std::env::var(SKIP_LIST_ENV)
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let profile = exe
        .parent()
        .filter(|deps| deps.ends_with("deps"))
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    profile.join("upkeep-test-skips.txt")
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
