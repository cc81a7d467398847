//! Throw-away databases for tests: a SQLite file in a temporary directory, and a fresh schema
//! in the PostgreSQL named by `UPKEEP_TEST_POSTGRES_URL`.
//!
//! Tests that need PostgreSQL call [`postgres_url`] (or [`databases`]): without the variable
//! their PostgreSQL half is skipped loudly, or fails under `UPKEEP_REQUIRE_PEERS=1`, like every
//! other missing peer (see [`peer`]).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use crate::BeginWrite;
use std::str::FromStr;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::monitoring::MonitorEvent;
use crate::{ConnectOptions, Store, StoreError, ids};

pub mod hosts;
pub mod peer;

pub use peer::{POSTGRES_ENV, postgres_url};

/// A database that disappears with this value.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDatabase {
    /// A new SQLite file.
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("upkeep.db").display());
        TestDatabase {
            url,
            _dir: Some(dir),
            pg: None,
        }
    }

    /// A new, empty schema in the PostgreSQL at `base_url`; the returned URL selects it through
    /// `search_path`.
    pub async fn postgres(base_url: &str) -> TestDatabase {
        let schema = format!("upkeep_test_{}", ids::new_id());
        let opts = PgConnectOptions::from_str(base_url).expect("PostgreSQL URL");
        let mut conn = PgConnection::connect_with(&opts)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .expect("create schema");
        let sep = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{sep}options=-c%20search_path%3D{schema}");
        TestDatabase {
            url,
            _dir: None,
            pg: Some((base_url.to_owned(), schema)),
        }
    }

    /// A migrated store over this database.
    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url, &ConnectOptions::default())
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        store
    }

    /// A store over this database migrated up to `version` only: the database as an older
    /// upkeep left it ([`Store::migrate`] brings it up to date).
    pub async fn store_at_version(&self, version: i64) -> Store {
        let store = Store::connect(&self.url, &ConnectOptions::default())
            .await
            .expect("connect");
        with_pool!(store, pool => store.migrator().run_to(version, pool).await).expect("migrate");
        store
    }

    /// Drops the PostgreSQL schema (SQLite files go with their directory).
    pub async fn cleanup(self) {
        let Some((base, schema)) = &self.pg else {
            return;
        };
        let Ok(opts) = PgConnectOptions::from_str(base) else {
            return;
        };
        if let Ok(mut conn) = PgConnection::connect_with(&opts).await {
            let drop = format!("DROP SCHEMA {schema} CASCADE");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut conn)
                .await;
        }
    }
}

/// The databases a contract test runs on: always SQLite, and PostgreSQL when configured.
pub async fn databases(test: &str) -> Vec<TestDatabase> {
    let mut all = vec![TestDatabase::sqlite()];
    if let Some(url) = postgres_url(test) {
        all.push(TestDatabase::postgres(&url).await);
    }
    all
}

/// Operator events written in a PostgreSQL transaction that stays open until [`commit`]: a
/// writer that commits late, for testing the followers of the event log.
///
/// [`commit`]: OpenEventWrite::commit
pub struct OpenEventWrite(crate::WriteTx<sqlx::Postgres>);

impl OpenEventWrite {
    /// Begins a transaction on `store` and writes `events` in it, as the store's writers do.
    /// `None` on SQLite, whose writers are serialised (an open write would block every other).
    pub async fn begin(store: &Store, events: &[MonitorEvent]) -> Option<OpenEventWrite> {
        let crate::Pool::Postgres(pool) = &store.pool else {
            return None;
        };
        let mut tx = pool.begin_write().await.expect("begin");
        crate::monitoring::write_events!(tx, events).expect("write events");
        Some(OpenEventWrite(tx))
    }

    /// Commits the events.
    pub async fn commit(self) {
        self.0.commit().await.expect("commit");
    }
}

/// Runs one SQL statement as it is, for tests that write what upkeep itself never would
/// (rows of an older schema, corrupt values) or break the schema on purpose.
pub async fn execute(store: &Store, sql: &str) -> Result<(), StoreError> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    with_pool!(store, pool => sqlx::query(sql).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Every stored probe result from `since` on (UTC milliseconds) as `(monitor_id, at)`, for
/// tests that count results per monitor and round.
pub async fn result_instants(store: &Store, since: i64) -> Result<Vec<(String, i64)>, StoreError> {
    let sql = "SELECT monitor_id, at FROM check_results WHERE at >= $1";
    let rows = with_pool!(store, pool => sqlx::query_as(sql).bind(since).fetch_all(pool).await)?;
    Ok(rows)
}

/// How many pings wait in the ping inbox (not yet moved into `pings`).
pub async fn ping_inbox_len(store: &Store) -> Result<i64, StoreError> {
    let sql = "SELECT COUNT(*) FROM pings_inbox";
    let n = with_pool!(store, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
    Ok(n)
}
