//! `upkeep backup` and `upkeep restore`: upkeep's own database, copied out and put back.
//!
//! - `backup --out FILE`: SQLite → a consistent copy taken with `VACUUM INTO` while the server
//!   keeps running; PostgreSQL → `pg_dump --format=custom`. An existing FILE is replaced only
//!   with `--force`.
//! - `restore --from FILE`: SQLite → the file must be an SQLite database with upkeep's schema
//!   that passes `PRAGMA integrity_check`; it is then put in place atomically. PostgreSQL →
//!   `pg_restore --clean --if-exists --single-transaction`. Restoring is refused while a server
//!   holds the `monitoring` lease on the target (stop upkeep first; `--force` does not override
//!   this), and over a database that holds upkeep data unless `--force` is given. Leases copied
//!   with the backup are cleared after the restore.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use upkeep_engine::self_backup::{self, BackupWritten};
use upkeep_store::snapshot::{self, LiveState};
use upkeep_store::{Backend, redact};

use super::open;
use crate::cli::DatabaseArgs;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// File to write: an SQLite database (SQLite) or a `pg_dump` custom-format archive
    /// (PostgreSQL).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file written by `upkeep backup` (or the scheduled self-backup).
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Replace a database that already holds upkeep data. Never overrides the check for a
    /// running server.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let url = &args.db.database;
    if let Some(path) = snapshot::sqlite_path(url)
        && !path.exists()
    {
        bail!(
            "there is no database at {}: pass the server's --database (or UPKEEP_DATABASE_URL)",
            path.display()
        );
    }
    let store = open(url).await?;
    let state = store.live_state(jiff::Timestamp::now()).await;
    let result = match state {
        Ok(LiveState {
            has_schema: false, ..
        }) => Err(anyhow::anyhow!(
            "{} is not an upkeep database (its schema is missing)",
            redact(url)
        )),
        Ok(_) => self_backup::write_backup(&store, url, &args.out, args.force)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(anyhow::Error::from(e).context("reading the database")),
    };
    store.close().await;
    let written = result?;
    println!("{}", describe(&written));
    Ok(ExitCode::SUCCESS)
}

fn describe(w: &BackupWritten) -> String {
    let kind = match w.backend {
        Backend::Sqlite => "SQLite copy",
        Backend::Postgres => "pg_dump custom-format archive",
    };
    format!(
        "wrote {} ({}, {} bytes) in {} ms",
        w.path.display(),
        kind,
        w.bytes,
        w.elapsed.as_millis()
    )
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let url = &args.db.database;
    if !args.from.is_file() {
        bail!("{} does not exist or is not a file", args.from.display());
    }
    if let Some(target) = snapshot::sqlite_path(url) {
        restore_sqlite(&args, url, &target).await?;
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        restore_postgres(&args, url).await?;
    } else {
        bail!(
            "`{}` is neither a sqlite://FILE nor a postgres:// URL",
            redact(url)
        );
    }
    println!(
        "restored {} into {} in {} ms; start upkeep on it",
        args.from.display(),
        redact(url),
        started.elapsed().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

async fn restore_sqlite(args: &RestoreArgs, url: &str, target: &Path) -> anyhow::Result<()> {
    let info = snapshot::verify_sqlite_snapshot(&args.from)
        .await
        .map_err(|e| anyhow::anyhow!("cannot restore from {}: {e}", args.from.display()))?;
    let occupied = std::fs::metadata(target).is_ok_and(|m| m.len() > 0);
    if occupied {
        if !snapshot::is_sqlite_file(target).unwrap_or(false) {
            if !args.force {
                bail!(
                    "{} exists and is not an SQLite database; pass --force to replace it",
                    target.display()
                );
            }
        } else {
            refuse_live(url, args.force).await?;
        }
    }
    snapshot::install_sqlite_file(&args.from, target).with_context(|| {
        format!(
            "cannot put {} in place of {}",
            args.from.display(),
            target.display()
        )
    })?;
    clear_copied_leases(url).await?;
    eprintln!(
        "{}: {} bytes, schema version {}",
        args.from.display(),
        info.bytes,
        info.schema_version
    );
    Ok(())
}

/// Refuses to replace the database at `url` while upkeep looks alive on it (see
/// [`check_live`]), unless `force`.
async fn refuse_live(url: &str, force: bool) -> anyhow::Result<()> {
    let store = open(url).await?;
    let state = store.live_state(jiff::Timestamp::now()).await;
    store.close().await;
    check_live(
        &state.context("reading the database to be replaced")?,
        url,
        force,
    )
}

/// Clears the leases a restored backup brought with it.
async fn clear_copied_leases(url: &str) -> anyhow::Result<()> {
    let store = open(url).await?;
    let cleared = store.clear_leases().await;
    store.close().await;
    cleared.context("clearing the leases copied with the backup")?;
    Ok(())
}

async fn restore_postgres(args: &RestoreArgs, url: &str) -> anyhow::Result<()> {
    refuse_live(url, args.force).await?;
    self_backup::pg_restore(url, &args.from).await?;
    clear_copied_leases(url).await?;
    Ok(())
}

/// Refuses to replace a database a server is using, or (without `force`) one with data.
fn check_live(state: &LiveState, url: &str, force: bool) -> anyhow::Result<()> {
    if let Some(holder) = &state.lease_holder {
        bail!(
            "a running upkeep server (lease holder {holder}) is using {}: stop upkeep first (its \
             lease is released on a clean stop, or expires within 15 seconds), then restore; \
             --force does not override this",
            redact(url)
        );
    }
    if state.has_data && !force {
        bail!(
            "{} already holds upkeep data (tokens, incidents, maintenance, results or pings); \
             restoring would replace it: pass --force to do so, or restore into a new database",
            redact(url)
        );
    }
    Ok(())
}
