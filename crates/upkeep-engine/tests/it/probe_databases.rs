//! `postgres`, `mysql` and `redis` probes against the real servers named by
//! `UPKEEP_TEST_POSTGRES_URL`, `UPKEEP_TEST_MARIADB_URL` and `UPKEEP_TEST_REDIS_URL` (see
//! `upkeep_store::testing::peer`): a healthy login, a query answer tested by conditions both
//! ways, and refused ports, silent listeners and bad credentials explained in words, with the
//! password never in the words.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};
use upkeep_store::testing::peer;

use crate::probe_support::{SECRET, closed_port, failure, monitor, silent_listener};

fn assert_ok(outcome: &ProbeOutcome) {
    assert!(outcome.ok, "expected success, got {outcome:?}");
}

async fn probe(kind: &str, fields: &str) -> ProbeOutcome {
    let m = monitor(&format!(
        "{{ component: c, {kind}: {{ {fields} }}, timeout: 5s }}"
    ));
    Prober::new().unwrap().probe(&m).await
}

async fn probe_with(kind: &str, fields: &str, rest: &str) -> ProbeOutcome {
    let m = monitor(&format!(
        "{{ component: c, {kind}: {{ {fields} }}, {rest} }}"
    ));
    Prober::new().unwrap().probe(&m).await
}

/// `url` with its host and port replaced by `addr`.
fn at(url: &str, addr: SocketAddr) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_port(Some(addr.port())).unwrap();
    parsed.to_string()
}

/// `url` with another user and password.
fn as_user(url: &str, user: &str, password: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_username(user).unwrap();
    parsed.set_password(Some(password)).unwrap();
    parsed.to_string()
}

/// The common failures of a kind: refused port, silent listener (timeout).
async fn refused_and_silent(kind: &str, url: &str, name: &str) {
    let closed = closed_port().await;
    let outcome = probe(kind, &format!(r#"url: "{}""#, at(url, closed))).await;
    assert_eq!(failure(&outcome), format!("connection refused by {closed}"));

    let silent = silent_listener().await;
    let started = Instant::now();
    let outcome = probe_with(
        kind,
        &format!(r#"url: "{}", password: "{SECRET}""#, at(url, silent)),
        "timeout: 500ms",
    )
    .await;
    let text = failure(&outcome);
    assert!(
        text.starts_with("timed out after 500 ms ")
            && text.contains(&format!("{name} at {silent}")),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
}

// ---------------------------------------------------------------- postgres

#[tokio::test]
async fn postgres_logs_in_and_tests_the_answer() {
    let Some(url) = peer::postgres_url("postgres_logs_in_and_tests_the_answer") else {
        return;
    };
    assert_ok(&probe("postgres", &format!(r#"url: "{url}""#)).await);

    let query = r#"query: "SELECT 42 AS answer, 'primary' AS role, NULL AS nothing""#;
    let outcome = probe_with(
        "postgres",
        &format!(r#"url: "{url}", {query}"#),
        r#"conditions: ["[BODY] == 42", "[BODY].role == primary", "[BODY].answer >= 40", "[RESPONSE_TIME] < 5000"]"#,
    )
    .await;
    assert_ok(&outcome);

    let outcome = probe_with(
        "postgres",
        &format!(r#"url: "{url}", {query}"#),
        r#"conditions: ["[BODY].answer > 100"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        r#"condition `[BODY].answer > 100` failed: `answer` was "42""#
    );

    let outcome = probe_with(
        "postgres",
        &format!(r#"url: "{url}", query: "SELECT 1 WHERE false""#),
        r#"conditions: ["[BODY] == 1"]"#,
    )
    .await;
    assert_eq!(failure(&outcome), "the query returned no row");
}

#[tokio::test]
async fn postgres_failures_are_explained() {
    let Some(url) = peer::postgres_url("postgres_failures_are_explained") else {
        return;
    };
    let host = url::Url::parse(&url).unwrap();
    let server = format!(
        "PostgreSQL at {}:{}",
        host.host_str().unwrap(),
        host.port().unwrap_or(5432)
    );

    let outcome = probe(
        "postgres",
        &format!(r#"url: "{url}", query: "SELECT * FROM upkeep_no_such_table""#),
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            r#"the query failed on {server}: relation "upkeep_no_such_table" does not exist (42P01)"#
        )
    );

    // Sessions are read-only: a query cannot change the database.
    let outcome = probe(
        "postgres",
        &format!(r#"url: "{url}", query: "CREATE TABLE upkeep_probe_wrote (x int)""#),
    )
    .await;
    assert!(
        failure(&outcome).contains("read-only transaction"),
        "{outcome:?}"
    );

    // Bad credentials, the password from the URL and from `password`.
    let bad = as_user(&url, "upkeep_no_such_role", SECRET);
    let outcome = probe("postgres", &format!(r#"url: "{bad}""#)).await;
    let text = failure(&outcome);
    assert!(
        text.starts_with(&format!("{server} refused the credentials: "))
            && text.contains("upkeep_no_such_role"),
        "{text}"
    );
    let bad = as_user(&url, "upkeep_no_such_role", "");
    let outcome = probe(
        "postgres",
        &format!(r#"url: "{bad}", password: "{SECRET}""#),
    )
    .await;
    assert!(
        failure(&outcome).contains("refused the credentials"),
        "{outcome:?}"
    );

    refused_and_silent("postgres", &url, "PostgreSQL").await;
}

// ---------------------------------------------------------------- mysql / mariadb

#[tokio::test]
async fn mysql_logs_in_and_tests_the_answer() {
    let Some(url) = peer::mariadb_url() else {
        return;
    };
    assert_ok(&probe("mysql", &format!(r#"url: "{url}""#)).await);
    let mariadb = url.replacen("mysql://", "mariadb://", 1);
    assert_ok(&probe("mysql", &format!(r#"url: "{mariadb}""#)).await);

    let query = r#"query: "SELECT 7 AS replicas, 'ON' AS ready, 2.5 AS lag""#;
    let outcome = probe_with(
        "mysql",
        &format!(r#"url: "{url}", {query}"#),
        r#"conditions: ["[BODY] == 7", "[BODY].ready == ON", "[BODY].lag < 3"]"#,
    )
    .await;
    assert_ok(&outcome);

    let outcome = probe_with(
        "mysql",
        &format!(r#"url: "{url}", {query}"#),
        r#"conditions: ["[BODY].lag < 1"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        r#"condition `[BODY].lag < 1` failed: `lag` was "2.5""#
    );
}

#[tokio::test]
async fn mysql_failures_are_explained() {
    let Some(url) = peer::mariadb_url() else {
        return;
    };
    let host = url::Url::parse(&url).unwrap();
    let server = format!(
        "MySQL at {}:{}",
        host.host_str().unwrap(),
        host.port().unwrap_or(3306)
    );

    let outcome = probe(
        "mysql",
        &format!(r#"url: "{url}", query: "SELECT * FROM upkeep_no_such_table""#),
    )
    .await;
    let text = failure(&outcome);
    assert!(
        text.starts_with(&format!("the query failed on {server}: "))
            && text.contains("upkeep_no_such_table"),
        "{text}"
    );

    let user = host.username().to_owned();
    let bad = as_user(&url, &user, "");
    let outcome = probe("mysql", &format!(r#"url: "{bad}", password: "{SECRET}""#)).await;
    let text = failure(&outcome);
    assert!(
        text.starts_with(&format!("{server} refused the credentials: Access denied")),
        "{text}"
    );

    refused_and_silent("mysql", &url, "MySQL").await;
}

// ---------------------------------------------------------------- redis

#[tokio::test]
async fn redis_logs_in_and_tests_the_answer() {
    let Some(url) = peer::redis_url() else {
        return;
    };
    assert_ok(&probe("redis", &format!(r#"url: "{url}""#)).await);

    let outcome = probe_with(
        "redis",
        &format!(r#"url: "{url}", command: "INFO replication""#),
        r#"conditions: ["[BODY].role == master", "[BODY].connected_slaves >= 0", "[BODY] contains role:master"]"#,
    )
    .await;
    assert_ok(&outcome);

    let outcome = probe_with(
        "redis",
        &format!(r#"url: "{url}", command: "INFO replication""#),
        r#"conditions: ["[BODY].role == slave"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        r#"condition `[BODY].role == slave` failed: `role` was "master""#
    );

    let outcome = probe_with(
        "redis",
        &format!(r#"url: "{url}", command: "ECHO 12""#),
        r#"conditions: ["[BODY] > 10"]"#,
    )
    .await;
    assert_ok(&outcome);

    let outcome = probe_with(
        "redis",
        &format!(r#"url: "{url}", command: "GET upkeep:no-such-key""#),
        r#"conditions: ["[BODY] == 1"]"#,
    )
    .await;
    assert_eq!(failure(&outcome), "the command answered nil");
}

#[tokio::test]
async fn redis_failures_are_explained() {
    let Some(url) = peer::redis_url() else {
        return;
    };
    let host = url::Url::parse(&url).unwrap();
    let server = format!(
        "Redis at {}:{}",
        host.host_str().unwrap(),
        host.port().unwrap_or(6379)
    );

    let bad = as_user(&url, "upkeep-no-such-user", SECRET);
    let outcome = probe("redis", &format!(r#"url: "{bad}""#)).await;
    let text = failure(&outcome);
    assert!(
        text == format!("{server} refused the credentials: wrong user name or password"),
        "{text}"
    );

    let outcome = probe(
        "redis",
        &format!(r#"url: "{url}", command: "NOSUCHCOMMAND x""#),
    )
    .await;
    let text = failure(&outcome);
    assert!(
        text.starts_with(&format!("the command failed on {server}: ")),
        "{text}"
    );

    refused_and_silent("redis", &url, "Redis").await;
}

#[test]
fn database_passwords_stay_out_of_debug_output() {
    let m = monitor(&format!(
        r#"{{ component: c, postgres: {{ url: "postgres://u:{SECRET}@db/app" }} }}"#
    ));
    let shown = format!("{m:?}");
    assert!(
        !shown.contains(SECRET) && shown.contains("u:***@db"),
        "{shown}"
    );
    let m = monitor(&format!(
        r#"{{ component: c, redis: {{ url: "redis://db", password: "{SECRET}" }} }}"#
    ));
    assert!(!format!("{m:?}").contains(SECRET));
}
