//! upkeep's backups of its own database: the one-off copy behind `upkeep backup` and
//! `upkeep restore`, and the scheduled self-backup configured under `self_backup:`.
//!
//! - **SQLite**: a consistent online copy with `VACUUM INTO`, taken through the store's pool
//!   while the server keeps writing, checked with `PRAGMA integrity_check` before it is kept.
//! - **PostgreSQL**: a logical dump by `pg_dump --format=custom` (the PostgreSQL client tools
//!   must be on `PATH`, the same major version as the server or newer), restored with
//!   `pg_restore --clean --if-exists --single-transaction`. The whole database named by the URL
//!   is dumped, so upkeep should have a database of its own. The password is passed to the
//!   tools through `PGPASSWORD`, never on their command line.
//!
//! Every file is written under a temporary name next to its destination, flushed, then renamed,
//! so a backup that fails half-way never looks like a finished one.
//!
//! The schedule ([`run`]) works only on the replica holding the `monitoring` lease. It writes
//! `upkeep-YYYYMMDDTHHMMSSZ.db` (SQLite) or `.dump` (PostgreSQL) into `dir` once the newest such
//! file is `every` old (so restarts do not add backups), keeps the newest `keep` files, and,
//! when `backup_set` names a backup set, records a `start` ping and then a `success` or `fail`
//! ping with the same run id under the set's push key: upkeep's own backups are tracked like
//! any other backup set.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::process::Command;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::{Config, SelfBackup};
use upkeep_store::monitoring::{Ping, PingKind, truncate_body};
use upkeep_store::{Backend, Store, snapshot};

use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::periodic::Periodic;

/// A backup or restore that did not happen, in a sentence fit for an operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(pub String);

impl BackupError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A backup that was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupWritten {
    pub path: PathBuf,
    pub bytes: u64,
    pub elapsed: Duration,
    pub backend: Backend,
}

/// The extension of backup files of `backend`: `db` (an SQLite database) or `dump`
/// (a `pg_dump` custom-format archive).
pub fn extension(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "db",
        Backend::Postgres => "dump",
    }
}

/// Writes a backup of the database behind `store` (reached at `database_url`) to `out`.
/// An existing `out` is replaced only when `overwrite`.
pub async fn write_backup(
    store: &Store,
    database_url: &str,
    out: &Path,
    overwrite: bool,
) -> Result<BackupWritten, BackupError> {
    let started = Instant::now();
    if !overwrite && out.exists() {
        return Err(BackupError::new(format!(
            "{} already exists; choose another file or pass --force to replace it",
            out.display()
        )));
    }
    let temp = temp_next_to(out, "partial");
    let _ = std::fs::remove_file(&temp);
    let written = match store.backend() {
        Backend::Sqlite => sqlite_backup(store, &temp).await,
        Backend::Postgres => pg_dump(database_url, &temp).await,
    };
    let finished = written.and_then(|()| {
        sync_file(&temp)?;
        std::fs::rename(&temp, out).map_err(|e| {
            BackupError::new(format!(
                "cannot move the backup into {}: {e}",
                out.display()
            ))
        })?;
        sync_dir(out);
        std::fs::metadata(out)
            .map(|m| m.len())
            .map_err(|e| BackupError::new(format!("cannot read {}: {e}", out.display())))
    });
    match finished {
        Ok(bytes) => Ok(BackupWritten {
            path: out.to_path_buf(),
            bytes,
            elapsed: started.elapsed(),
            backend: store.backend(),
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

async fn sqlite_backup(store: &Store, temp: &Path) -> Result<(), BackupError> {
    store
        .sqlite_snapshot(temp)
        .await
        .map_err(|e| BackupError::new(format!("cannot copy the SQLite database: {e}")))?;
    snapshot::verify_sqlite_snapshot(temp)
        .await
        .map_err(|e| BackupError::new(format!("the copy failed its check: {e}")))?;
    Ok(())
}

/// A sibling of `path` named `.NAME.WHAT-PID`.
fn temp_next_to(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upkeep-backup".into());
    path.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| BackupError::new(format!("cannot flush {} to disk: {e}", path.display())))
}

/// Flushes the directory holding `path` (best effort: not every platform allows it).
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Splits the password off a PostgreSQL URL, so it can travel in `PGPASSWORD` rather than on
/// a command line other users can read.
fn pg_url_and_password(url: &str) -> Result<(String, Option<String>), BackupError> {
    let mut parsed = reqwest::Url::parse(url).map_err(|e| {
        BackupError::new(format!(
            "{} is not a valid PostgreSQL URL: {e}",
            upkeep_store::redact(url)
        ))
    })?;
    let password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    if password.is_some() {
        let _ = parsed.set_password(None);
    }
    Ok((parsed.to_string(), password))
}

/// Runs a PostgreSQL client tool with `args`, the connection in `--dbname`.
async fn pg_tool(tool: &str, url: &str, args: &[&std::ffi::OsStr]) -> Result<(), BackupError> {
    let (url, password) = pg_url_and_password(url)?;
    let mut cmd = Command::new(tool);
    cmd.args(args).arg("--dbname").arg(&url);
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    cmd.stdin(std::process::Stdio::null());
    let output = cmd.output().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BackupError::new(format!(
                "`{tool}` is not on PATH: install the PostgreSQL client tools (the server's major \
                 version or newer) to back up or restore a PostgreSQL database"
            ))
        } else {
            BackupError::new(format!("cannot run `{tool}`: {e}"))
        }
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    truncate_body(&mut detail);
    Err(BackupError::new(format!(
        "`{tool}` failed ({}){}{}",
        output.status,
        if detail.is_empty() { "" } else { ": " },
        detail
    )))
}

async fn pg_dump(url: &str, out: &Path) -> Result<(), BackupError> {
    pg_tool(
        "pg_dump",
        url,
        &[
            "--format=custom".as_ref(),
            "--no-owner".as_ref(),
            "--no-privileges".as_ref(),
            "--file".as_ref(),
            out.as_os_str(),
        ],
    )
    .await
}

/// Whether `path` starts like a `pg_dump` custom-format archive.
pub fn is_pg_dump_file(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut head = [0_u8; 5];
    let mut file = std::fs::File::open(path)?;
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read == head.len() && &head == b"PGDMP")
}

/// Restores a `pg_dump` custom-format archive into the PostgreSQL database at `url`, in one
/// transaction, replacing the objects it contains.
pub async fn pg_restore(url: &str, from: &Path) -> Result<(), BackupError> {
    match is_pg_dump_file(from) {
        Ok(true) => {}
        Ok(false) => {
            return Err(BackupError::new(format!(
                "{} is not a PostgreSQL custom-format dump (an SQLite copy restores only into \
                 SQLite)",
                from.display()
            )));
        }
        Err(e) => {
            return Err(BackupError::new(format!(
                "cannot read {}: {e}",
                from.display()
            )));
        }
    }
    pg_tool(
        "pg_restore",
        url,
        &[
            "--clean".as_ref(),
            "--if-exists".as_ref(),
            "--no-owner".as_ref(),
            "--no-privileges".as_ref(),
            "--single-transaction".as_ref(),
            "--exit-on-error".as_ref(),
            from.as_os_str(),
        ],
    )
    .await
}

/// Settings of the scheduled self-backup.
#[derive(Debug, Clone)]
pub struct SelfBackupSettings {
    /// How often the schedule is looked at.
    pub poll_every: Duration,
}

impl Default for SelfBackupSettings {
    fn default() -> Self {
        Self {
            poll_every: Duration::from_secs(30),
        }
    }
}

/// The name of the backup file written at `at`.
pub fn file_name(at: Timestamp, backend: Backend) -> String {
    format!(
        "upkeep-{}.{}",
        at.strftime("%Y%m%dT%H%M%SZ"),
        extension(backend)
    )
}

/// When the backup named `name` was written, if it is one of ours.
fn written_at(name: &str, backend: Backend) -> Option<Timestamp> {
    let stamp = name
        .strip_prefix("upkeep-")?
        .strip_suffix(extension(backend))?
        .strip_suffix('.')?;
    let civil = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", stamp).ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// The backups in `dir`, oldest first.
fn existing(dir: &Path, backend: Backend) -> Vec<(Timestamp, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(Timestamp, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let at = written_at(name.to_str()?, backend)?;
            Some((at, e.path()))
        })
        .collect();
    found.sort();
    found
}

/// Deletes the oldest backups in `dir` beyond the newest `keep`; returns those deleted.
fn prune(dir: &Path, backend: Backend, keep: u32) -> Vec<PathBuf> {
    let all = existing(dir, backend);
    let keep = usize::try_from(keep.max(1)).unwrap_or(usize::MAX);
    let excess = all.len().saturating_sub(keep);
    let mut deleted = Vec::new();
    for (_, path) in all.into_iter().take(excess) {
        match std::fs::remove_file(&path) {
            Ok(()) => deleted.push(path),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "self-backup: cannot delete an old backup");
            }
        }
    }
    deleted
}

/// Runs the scheduled self-backup until `stop`, while `active`.
pub async fn run(
    store: Store,
    database_url: String,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    settings: SelfBackupSettings,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    // The schedule is looked at on every tick, and at once when this replica takes the lease.
    let mut ticks = Periodic::while_held("self-backup", settings.poll_every, active).start(stop);
    while ticks.next().await.is_some() {
        pass(&store, &database_url, &config, &clock).await;
    }
}

/// One look at the schedule: a backup if one is due.
async fn pass(
    store: &Store,
    database_url: &str,
    config: &watch::Receiver<Arc<LoadedConfig>>,
    clock: &SharedClock,
) {
    let cfg = Arc::clone(&config.borrow());
    let Some(plan) = cfg.config.self_backup.clone() else {
        return;
    };
    let now = clock.now();
    let backend = store.backend();
    let due = match existing(&plan.dir, backend).last() {
        None => true,
        Some((last, _)) => {
            let every =
                jiff::SignedDuration::try_from(plan.every).unwrap_or(jiff::SignedDuration::MAX);
            last.checked_add(every).is_ok_and(|next| next <= now)
        }
    };
    if !due {
        return;
    }
    // Errors are logged and recorded as `fail` pings inside; the next poll tries again.
    let _ = run_once(store, database_url, &cfg.config, &plan, now).await;
}

/// Writes one scheduled backup at `now`, prunes old ones, and records the run's pings when a
/// backup set is named. Returns the backup written.
pub async fn run_once(
    store: &Store,
    database_url: &str,
    config: &Config,
    plan: &SelfBackup,
    now: Timestamp,
) -> Result<BackupWritten, BackupError> {
    let key = plan
        .backup_set
        .as_ref()
        .and_then(|id| config.backups.get(id))
        .map(|set| set.push_key.clone());
    let rid = upkeep_store::ids::new_uuid();
    let started = Instant::now();
    if let Some(key) = &key {
        record(store, key, now, PingKind::Start, &rid, String::new()).await;
    }
    let backend = store.backend();
    let result = async {
        std::fs::create_dir_all(&plan.dir)
            .map_err(|e| BackupError::new(format!("cannot create {}: {e}", plan.dir.display())))?;
        let out = plan.dir.join(file_name(now, backend));
        write_backup(store, database_url, &out, false).await
    }
    .await;
    let end = jiff::SignedDuration::try_from(started.elapsed())
        .ok()
        .and_then(|took| now.checked_add(took).ok())
        .unwrap_or(now);
    match &result {
        Ok(written) => {
            let deleted = prune(&plan.dir, backend, plan.keep);
            tracing::info!(
                path = %written.path.display(),
                bytes = written.bytes,
                duration_ms = written.elapsed.as_millis() as u64,
                deleted = deleted.len(),
                "self-backup written"
            );
            if let Some(key) = &key {
                let body = format!(
                    "wrote {} ({} bytes) in {} ms; size={}",
                    written.path.display(),
                    written.bytes,
                    written.elapsed.as_millis(),
                    written.bytes
                );
                record(store, key, end, PingKind::Success, &rid, body).await;
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "self-backup failed");
            if let Some(key) = &key {
                record(store, key, end, PingKind::Fail, &rid, e.to_string()).await;
            }
        }
    }
    result
}

async fn record(
    store: &Store,
    key: &str,
    at: Timestamp,
    kind: PingKind,
    rid: &str,
    mut body: String,
) {
    truncate_body(&mut body);
    let ping = Ping {
        key: key.to_owned(),
        at,
        kind,
        exit_code: match kind {
            PingKind::Success => Some(0),
            PingKind::Fail => Some(1),
            _ => None,
        },
        rid: Some(rid.to_owned()),
        body,
    };
    if let Err(e) = store.record_pings(&[ping]).await {
        tracing::warn!(key, error = %e, "self-backup: cannot record the run's ping");
    }
}

#[cfg(test)]
mod tests {
    use super::pg_url_and_password;

    #[test]
    fn the_password_leaves_the_url_decoded() {
        let Ok((url, password)) =
            pg_url_and_password("postgres://ann:p%40ss%2Fw%C3%B6rd@db.example:5432/upkeep")
        else {
            panic!("a valid URL");
        };
        assert_eq!(url, "postgres://ann@db.example:5432/upkeep");
        assert_eq!(password.as_deref(), Some("p@ss/wörd"));
        let Ok((url, password)) = pg_url_and_password("postgres://ann@db.example/upkeep") else {
            panic!("a valid URL");
        };
        assert_eq!(url, "postgres://ann@db.example/upkeep");
        assert_eq!(password, None);
    }
}
