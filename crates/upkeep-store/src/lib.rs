//! upkeep's storage: one data-access layer over SQLite (the embedded default) and PostgreSQL
//! (several replicas behind a load balancer).
//!
//! [`Store`] holds a pool for one of the two backends. Every query is written once and compiled
//! against both drivers by the [`with_pool!`] macro, so the two backends cannot drift apart; the
//! schema lives in two migration folders (`migrations/sqlite`, `migrations/postgres`) because
//! the column types differ. Conventions that make both backends behave the same:
//! - every instant is an `i64` of milliseconds since the Unix epoch, UTC;
//! - ids are `TEXT`; structured values (audit before/after) are JSON in `TEXT`;
//! - placeholders are `$1, $2, ...` (SQLite accepts them too);
//! - every change that must be audited writes its audit row in the same transaction.
//!
//! Work shared between replicas is coordinated through [`leases`]: a lease row with an expiry,
//! taken with a single conditional upsert, which is atomic on both backends.

pub mod agents;
pub mod alerts;
pub mod audit;
pub mod backups;
pub mod continuity;
mod error;
pub mod first_seen;
pub mod ids;
pub mod incidents;
pub mod inventory;
pub mod leases;
pub mod maintenance;
pub mod monitoring;
pub mod outbox;
pub mod result_runs;
pub mod retry;
pub mod rollouts;
pub mod rollup_days;
pub mod sessions;
pub mod snapshot;
pub mod subscribers;
pub mod tokens;
pub mod users;

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use error::StoreError;

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://upkeep.db";

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// How a generated statement names its bind parameters: `?` on SQLite, `$1, $2, …` on
/// PostgreSQL (which has no anonymous form). On SQLite every named or numbered parameter
/// (`$1`, `?1`) is looked up by a linear scan of the statement's parameter list, both when the
/// statement is prepared and when sqlx binds each value, so a multi-row insert of 1,024 values
/// cost half a million comparisons twice per batch; anonymous parameters are not in that list.
/// Anonymous parameters are bound in order, so a statement built with them must name each
/// value once, in the order the values are bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Params {
    Anonymous,
    Numbered,
}

impl Params {
    /// Appends the parameter `n` (counted from 1).
    pub(crate) fn push(self, sql: &mut String, n: usize) {
        match self {
            Params::Anonymous => sql.push('?'),
            Params::Numbered => {
                use std::fmt::Write as _;
                let _ = write!(sql, "${n}");
            }
        }
    }

    /// `count` parameters from `first` on, separated by commas.
    pub(crate) fn list(self, first: usize, count: usize) -> String {
        let mut sql = String::with_capacity(count * 5);
        for n in first..first + count {
            if n > first {
                sql.push_str(", ");
            }
            self.push(&mut sql, n);
        }
        sql
    }
}

/// The parameter style of a connection's or a pool's backend, for SQL built in blocks that
/// [`with_pool!`] compiles once per backend (`tx.params()`, `pool.params()`).
pub(crate) trait Dialect {
    fn params(&self) -> Params;
}

impl Dialect for sqlx::SqliteConnection {
    fn params(&self) -> Params {
        Params::Anonymous
    }
}

impl Dialect for sqlx::PgConnection {
    fn params(&self) -> Params {
        Params::Numbered
    }
}

impl Dialect for SqlitePool {
    fn params(&self) -> Params {
        Params::Anonymous
    }
}

impl Dialect for PgPool {
    fn params(&self) -> Params {
        Params::Numbered
    }
}

/// Runs the same block against whichever pool the store holds: `$pool` is bound to a
/// `&SqlitePool` or a `&PgPool`, and the block is compiled once for each. Queries inside must use
/// SQL that both backends accept.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// The one way the store opens a transaction: as a write from its first statement. On SQLite
/// that is `BEGIN IMMEDIATE`, which takes the write lock at once; a deferred `BEGIN` that reads
/// and then writes cannot wait — if another writer committed in between, its first write fails
/// at once with `database is locked` (`SQLITE_BUSY`, which the busy timeout does not cover). On
/// PostgreSQL a plain `BEGIN`: row locks and conditional updates do the rest.
///
/// SQLite has one write lock per database, and a connection that finds it taken sleeps in
/// SQLite's busy handler (1, 2, 5, 10 … ms) instead of being woken when it is free. So the
/// writers of this process first take their turn in one queue per database file
/// ([`sqlite_write_turn`], first come first served, woken at once) and hold it until their
/// transaction ends; the busy handler is left with other processes (the CLI beside a server).
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(&self) -> impl Future<Output = Result<WriteTx<Self::Db>, sqlx::Error>> + Send;
}

/// The statement that opens a write transaction on SQLite (see [`BeginWrite`]).
pub(crate) const SQLITE_BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// How long a writer waits for its turn at a SQLite database before giving up, as long as
/// SQLite's own busy timeout.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A write transaction ([`BeginWrite`]): the transaction, used as its connection, and on SQLite
/// this process's write turn, given back when the transaction ends (committed, rolled back or
/// dropped).
pub(crate) struct WriteTx<DB: sqlx::Database> {
    // Declared first: dropped before the turn is given back. A dropped transaction's
    // `ROLLBACK` is only queued on its connection, so the next writer may still meet the lock
    // briefly and wait in SQLite's busy handler, as writers of other processes do.
    tx: sqlx::Transaction<'static, DB>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<DB: sqlx::Database> WriteTx<DB> {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl<DB: sqlx::Database> std::ops::Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}

/// This process's queue for the write lock of the SQLite database `pool` opens: one per file.
fn sqlite_write_queue(pool: &SqlitePool) -> Arc<tokio::sync::Mutex<()>> {
    static QUEUES: OnceLock<std::sync::Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        OnceLock::new();
    let file = pool.connect_options().get_filename().to_path_buf();
    // One queue however the file was named (`./a.db`, `/srv/a.db`).
    let file = std::fs::canonicalize(&file).unwrap_or(file);
    let mut queues = QUEUES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(queues.entry(file).or_default())
}

/// Waits for this process's turn to write to the SQLite database `pool` opens (see
/// [`BeginWrite`]); the turn lasts until the guard is dropped.
pub(crate) async fn sqlite_write_turn(
    pool: &SqlitePool,
) -> Result<tokio::sync::OwnedMutexGuard<()>, sqlx::Error> {
    let queue = sqlite_write_queue(pool);
    tokio::time::timeout(SQLITE_BUSY_TIMEOUT, queue.lock_owned())
        .await
        .map_err(|_| {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the database is busy: another writer of this process held SQLite's write lock \
                 for the whole busy timeout (5 s)",
            ))
        })
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<WriteTx<sqlx::Sqlite>, sqlx::Error> {
        let turn = sqlite_write_turn(self).await?;
        let tx = self.begin_with(SQLITE_BEGIN_WRITE).await?;
        Ok(WriteTx {
            tx,
            _turn: Some(turn),
        })
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<WriteTx<sqlx::Postgres>, sqlx::Error> {
        Ok(WriteTx {
            tx: self.begin().await?,
            _turn: None,
        })
    }
}

/// Options for [`Store::connect`].
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long to wait for a connection before failing the request.
    pub acquire_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The data-access layer. Cheap to clone: clones share the pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Opens a pool for `url`: `sqlite://PATH` (created if missing, WAL, `synchronous=FULL` so
    /// an acknowledged write survives a crash of the process or the machine) or
    /// `postgres://...` / `postgresql://...`. Does not migrate.
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Store, StoreError> {
        let pool = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(opts)
                    .await?,
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::BadUrl(format!("{}: {e}", redact(url))))?;
            Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(opts)
                    .await?,
            )
        } else {
            return Err(StoreError::BadUrl(format!(
                "`{}` is neither a sqlite:// nor a postgres:// URL",
                redact(url)
            )));
        };
        Ok(Store { pool })
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
            Pool::Postgres(_) => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies every migration not yet applied; returns how many were applied. Safe to run from
    /// several replicas at once (PostgreSQL migrations take an advisory lock).
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let before = self.applied_migrations().await.unwrap_or_default();
        with_pool!(self, pool => self.migrator().run(pool).await)?;
        let after = self.applied_migrations().await?;
        Ok(after.len().saturating_sub(before.len()))
    }

    /// Versions of the migrations recorded as applied.
    async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let sql = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
        let versions: Vec<i64> =
            with_pool!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await)?;
        Ok(versions)
    }

    /// Readiness: the database answers and every migration this build knows is applied.
    pub async fn readiness(&self) -> Readiness {
        if let Err(e) =
            with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
        {
            return Readiness::Unreachable(e.to_string());
        }
        let applied = self.applied_migrations().await.unwrap_or_default();
        let pending: Vec<i64> = self
            .migrator()
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect();
        if pending.is_empty() {
            Readiness::Ready
        } else {
            Readiness::MigrationsPending(pending)
        }
    }

    /// Closes the pool, waiting for connections in use to be returned. For SQLite this also
    /// checkpoints the write-ahead log.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }
}

/// What [`Store::readiness`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Unreachable(String),
    MigrationsPending(Vec<i64>),
}

/// A database URL with its password replaced, fit for logs and error messages (the one
/// rule, [`upkeep_domain::config::hide_password`], that database monitors' URLs follow too).
pub fn redact(url: &str) -> String {
    upkeep_domain::config::hide_password(url)
}

/// Converts stored milliseconds back to an instant.
pub(crate) fn timestamp(ms: i64) -> Result<jiff::Timestamp, StoreError> {
    jiff::Timestamp::from_millisecond(ms)
        .map_err(|e| StoreError::Corrupt(format!("instant {ms} ms is out of range: {e}")))
}

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn generated_parameters_are_anonymous_on_sqlite_and_numbered_on_postgres() {
        assert_eq!(Params::Anonymous.list(4, 3), "?, ?, ?");
        assert_eq!(Params::Numbered.list(4, 3), "$4, $5, $6");
        assert_eq!(Params::Numbered.list(1, 0), "");
        let sql = crate::monitoring::insert_sql(Params::Numbered, "INSERT INTO t (a, b)", 2, 2, "");
        assert_eq!(sql, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) ");
        let sql =
            crate::monitoring::insert_sql(Params::Anonymous, "INSERT INTO t (a, b)", 2, 2, "");
        assert_eq!(sql, "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ");
    }

    /// SQLite binds anonymous parameters in order across a multi-row insert: every value lands
    /// in its own row and column.
    #[tokio::test]
    async fn anonymous_parameters_bind_each_value_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir, "params.db").await;
        let Pool::Sqlite(pool) = &store.pool else {
            panic!("a SQLite store");
        };
        assert_eq!(pool.params(), Params::Anonymous);
        sqlx::query("CREATE TABLE t (a INTEGER, b TEXT)")
            .execute(pool)
            .await
            .unwrap();
        let sql = crate::monitoring::insert_sql(pool.params(), "INSERT INTO t (a, b)", 2, 300, "");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for i in 0..300i64 {
            q = q.bind(i).bind(format!("row {i}"));
        }
        q.execute(pool).await.unwrap();
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT a, b FROM t ORDER BY rowid")
            .fetch_all(pool)
            .await
            .unwrap();
        let expected: Vec<(i64, String)> = (0..300).map(|i| (i, format!("row {i}"))).collect();
        assert_eq!(rows, expected);
    }

    async fn store(dir: &tempfile::TempDir, name: &str) -> Store {
        let url = format!("sqlite://{}", dir.path().join(name).display());
        let store = Store::connect(&url, &ConnectOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    fn sqlite(store: &Store) -> &SqlitePool {
        match &store.pool {
            Pool::Sqlite(pool) => pool,
            Pool::Postgres(_) => unreachable!(),
        }
    }

    #[tokio::test]
    async fn writers_of_one_sqlite_file_take_turns_in_one_queue() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, other) = (
            store(&dir, "a.db").await,
            store(&dir, "a.db").await,
            store(&dir, "b.db").await,
        );
        // One queue per file, whichever store opened it.
        assert!(Arc::ptr_eq(
            &sqlite_write_queue(sqlite(&a)),
            &sqlite_write_queue(sqlite(&b))
        ));
        assert!(!Arc::ptr_eq(
            &sqlite_write_queue(sqlite(&a)),
            &sqlite_write_queue(sqlite(&other))
        ));

        // While `a` writes, `b` waits for its turn (it does not reach `BEGIN IMMEDIATE` and
        // SQLite's busy handler); another file's writer does not wait.
        let first = sqlite(&a).begin_write().await.unwrap();
        let pool_b = sqlite(&b).clone();
        let second = tokio::spawn(async move { pool_b.begin_write().await.unwrap() });
        sqlite(&other)
            .begin_write()
            .await
            .unwrap()
            .commit()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !second.is_finished(),
            "the second writer did not wait for its turn"
        );
        first.commit().await.unwrap();
        second.await.unwrap().commit().await.unwrap();

        // A turn held too long is an error after the busy timeout, not a wait forever.
        let held = sqlite(&a).begin_write().await.unwrap();
        let err = tokio::time::timeout(Duration::from_secs(10), sqlite(&b).begin_write())
            .await
            .expect("gave up within the busy timeout")
            .err()
            .expect("no turn while another writer holds it");
        assert!(
            matches!(&err, sqlx::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut)
                && err.to_string().contains("the database is busy"),
            "{err:?}"
        );
        held.commit().await.unwrap();
    }
}
