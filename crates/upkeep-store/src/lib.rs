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
pub mod sessions;
pub mod snapshot;
pub mod subscribers;
pub mod tokens;
pub mod users;

use std::str::FromStr;
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
/// that is `BEGIN IMMEDIATE`, which takes the write lock at once (waiting up to the busy
/// timeout for it); a deferred `BEGIN` that reads and then writes cannot wait — if another
/// writer committed in between, its first write fails at once with `database is locked`
/// (`SQLITE_BUSY`, which the busy timeout does not cover). On PostgreSQL a plain `BEGIN`:
/// row locks and conditional updates do the rest.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

/// The statement that opens a write transaction on SQLite (see [`BeginWrite`]).
pub(crate) const SQLITE_BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send
    {
        self.begin_with(SQLITE_BEGIN_WRITE)
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send
    {
        self.begin()
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
