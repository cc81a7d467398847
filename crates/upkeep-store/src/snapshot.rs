//! Copies of upkeep's own database: what `upkeep backup`, `upkeep restore` and the scheduled
//! self-backup build on.
//!
//! - **SQLite**: [`Store::sqlite_snapshot`] writes a consistent copy with `VACUUM INTO`, through
//!   the pool, while the server keeps writing (a read transaction sees one committed state of
//!   the WAL database). [`verify_sqlite_snapshot`] checks that a file is an SQLite database
//!   carrying upkeep's schema and passes `PRAGMA integrity_check`; [`install_sqlite_file`] puts
//!   it in place atomically (temporary file next to the target, fsync, rename).
//! - **Both backends**: [`Store::live_state`] tells whether a database holds upkeep data and
//!   whether a server holds the `monitoring` lease, which `restore` uses to refuse overwriting
//!   a database in use.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use jiff::Timestamp;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::{Pool, Store, StoreError};

/// The lease held by the server that does the work done once across replicas (probing, rules,
/// incidents, maintenance, alerts, notifications; see `upkeep_engine::runtime`). A restore
/// refuses to run while a server holds it.
pub const LEADER_LEASE: &str = "leader";

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Tables whose rows are upkeep data an operator would not want to lose.
const DATA_TABLES: [&str; 7] = [
    "api_tokens",
    "users",
    "incidents",
    "maintenances",
    "check_results",
    "pings",
    "pings_inbox",
];

/// What [`Store::live_state`] found in a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveState {
    /// upkeep's schema is present (its migrations table exists).
    pub has_schema: bool,
    /// Any row in the tables that hold upkeep data (tokens, users, incidents, maintenance, results,
    /// pings).
    pub has_data: bool,
    /// The holder of an unexpired `monitoring` lease: a server is (or was moments ago) running
    /// on this database.
    pub lease_holder: Option<String>,
}

/// What [`verify_sqlite_snapshot`] found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The newest migration recorded in the file.
    pub schema_version: i64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

impl Store {
    /// Writes a consistent copy of this SQLite database to `path` with `VACUUM INTO`. `path`
    /// must not exist. Refused on PostgreSQL (use a logical dump there).
    pub async fn sqlite_snapshot(&self, path: &Path) -> Result<(), StoreError> {
        let Pool::Sqlite(pool) = &self.pool else {
            return Err(StoreError::BadUrl(
                "a file copy is only possible for SQLite databases".into(),
            ));
        };
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::BadUrl(format!("{} is not a UTF-8 path", path.display())))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Whether this database holds upkeep data and whether a server holds its `monitoring`
    /// lease at `now`. A database without upkeep's schema has neither.
    pub async fn live_state(&self, now: Timestamp) -> Result<LiveState, StoreError> {
        let has_table = |table: &'static str| async move {
            let found: bool = match &self.pool {
                Pool::Sqlite(pool) => {
                    sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1)",
                    )
                    .bind(table)
                    .fetch_one(pool)
                    .await?
                }
                Pool::Postgres(pool) => {
                    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                        .bind(table)
                        .fetch_one(pool)
                        .await?
                }
            };
            Ok::<bool, StoreError>(found)
        };
        let has_schema = has_table("_sqlx_migrations").await?;
        let mut has_data = false;
        for table in DATA_TABLES {
            if !has_table(table).await? {
                continue;
            }
            let sql = match table {
                "api_tokens" => "SELECT EXISTS (SELECT 1 FROM api_tokens)",
                "users" => "SELECT EXISTS (SELECT 1 FROM users)",
                "incidents" => "SELECT EXISTS (SELECT 1 FROM incidents)",
                "maintenances" => "SELECT EXISTS (SELECT 1 FROM maintenances)",
                "check_results" => "SELECT EXISTS (SELECT 1 FROM check_results)",
                "pings_inbox" => "SELECT EXISTS (SELECT 1 FROM pings_inbox)",
                _ => "SELECT EXISTS (SELECT 1 FROM pings)",
            };
            let any: bool =
                crate::with_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
            if any {
                has_data = true;
                break;
            }
        }
        let lease_holder = if has_table("leases").await? {
            self.lease_holder(LEADER_LEASE, now).await?
        } else {
            None
        };
        Ok(LiveState {
            has_schema,
            has_data,
            lease_holder,
        })
    }
}

impl Store {
    /// Forgets every lease. Leases copied into a backup belonged to the server that was running
    /// when it was taken; after a restore they mean nothing, and the next server takes them
    /// fresh.
    pub async fn clear_leases(&self) -> Result<(), StoreError> {
        crate::with_pool!(self, pool => sqlx::query("DELETE FROM leases").execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}

/// Whether the file at `path` starts like an SQLite database.
pub fn is_sqlite_file(path: &Path) -> io::Result<bool> {
    use std::io::Read;
    let mut head = [0_u8; 16];
    let mut file = File::open(path)?;
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read == head.len() && &head == SQLITE_MAGIC)
}

/// Checks that `path` is an SQLite database with upkeep's schema that passes
/// `PRAGMA integrity_check`. Opens the file read-only and immutable, so it is not changed and no
/// `-wal`/`-shm` files appear next to it.
pub async fn verify_sqlite_snapshot(path: &Path) -> Result<SnapshotInfo, StoreError> {
    let bytes = fs::metadata(path)
        .map_err(|e| StoreError::Conflict(format!("cannot read {}: {e}", path.display())))?
        .len();
    match is_sqlite_file(path) {
        Ok(true) => {}
        Ok(false) => {
            return Err(StoreError::Conflict(format!(
                "{} is not an SQLite database (a PostgreSQL dump restores only into PostgreSQL)",
                path.display()
            )));
        }
        Err(e) => {
            return Err(StoreError::Conflict(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    }
    let opts = SqliteConnectOptions::from_str("sqlite://")
        .map_err(|e| StoreError::BadUrl(e.to_string()))?
        .filename(path)
        .read_only(true)
        .immutable(true);
    let mut conn = SqliteConnection::connect_with(&opts).await?;
    let result = check_snapshot(&mut conn, path, bytes).await;
    let _ = conn.close().await;
    result
}

async fn check_snapshot(
    conn: &mut SqliteConnection,
    path: &Path,
    bytes: u64,
) -> Result<SnapshotInfo, StoreError> {
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut *conn)
        .await?;
    if integrity != ["ok"] {
        return Err(StoreError::Corrupt(format!(
            "{} fails the integrity check: {}",
            path.display(),
            integrity.join("; ")
        )));
    }
    let has_migrations: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(&mut *conn)
    .await?;
    let has_leases: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'leases')",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !has_migrations || !has_leases {
        return Err(StoreError::Conflict(format!(
            "{} is an SQLite database but not an upkeep database (no upkeep schema)",
            path.display()
        )));
    }
    let version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await?;
    let Some(schema_version) = version else {
        return Err(StoreError::Corrupt(format!(
            "{} records no applied migration",
            path.display()
        )));
    };
    Ok(SnapshotInfo {
        schema_version,
        bytes,
    })
}

/// The SQLite file named by a `sqlite://` URL, or `None` for other URLs and in-memory
/// databases.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Replaces the database file `target` with a copy of `from`, atomically: the copy is written
/// to a temporary file next to `target`, flushed to disk, the target's stale `-wal` and `-shm`
/// files are removed, and the copy is renamed over `target` (then the directory is flushed).
/// No server may have the target open.
pub fn install_sqlite_file(from: &Path, target: &Path) -> io::Result<u64> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upkeep.db".into());
    let temp = dir.join(format!(".{name}.restore-{}", std::process::id()));
    let result = (|| {
        let bytes = fs::copy(from, &temp)?;
        File::open(&temp)?.sync_all()?;
        for suffix in ["-wal", "-shm", "-journal"] {
            let side = dir.join(format!("{name}{suffix}"));
            match fs::remove_file(&side) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        fs::rename(&temp, target)?;
        File::open(&dir)?.sync_all()?;
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}
