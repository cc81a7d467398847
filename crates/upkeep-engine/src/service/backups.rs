//! Backup sets and recovery drills: the DR readiness of every set ([`readiness`]), one set with
//! its recent runs and drills ([`show`]), starting a drill ([`start_drill`]) and finishing it
//! ([`finish_drill`]). The API's `/api/v1/backups`, `/api/v1/dr-readiness` and the console's
//! backups page call these; the store audits each drill change (`drill.start`,
//! `drill.finish`) in the transaction that makes it.

use jiff::Timestamp;
use upkeep_domain::backup::DrillOutcome;
use upkeep_domain::config::{Backup, Config};
use upkeep_store::backups::{BackupRun, DrillFinish, DrillRecord};
use upkeep_store::{Store, StoreError, ids};

use super::Caller;
use crate::backups::{Assessment, assess, assess_all};

/// Longest drill notes, in characters.
pub const NOTES_MAX_CHARS: usize = 20_000;
/// Runs and drills shown with one set, newest first.
pub const RECENT: u32 = 20;

/// Why a backup request was refused.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The configuration has no such backup set.
    #[error("there is no backup set `{0}`")]
    UnknownSet(String),
    /// The set has no such drill.
    #[error("backup set `{set}` has no drill `{drill}`")]
    NoDrill { set: String, drill: String },
    /// An outcome other than `success` or `failure`.
    #[error("unknown outcome `{0}`: expected success or failure")]
    Outcome(String),
    /// Notes longer than [`NOTES_MAX_CHARS`].
    #[error("`notes` is longer than {NOTES_MAX_CHARS} characters")]
    NotesTooLong,
    /// The store failed, or refused (a drill finished already is a [`StoreError::Conflict`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The DR readiness of every backup set, in id order: whether all are ready, and each.
pub struct Readiness {
    pub ready: bool,
    pub backups: Vec<Assessment>,
}

/// One backup set with its newest runs (successes and failures) and drills, newest first.
pub struct Detail {
    pub set: Backup,
    pub assessment: Assessment,
    pub runs: Vec<BackupRun>,
    pub drills: Vec<DrillRecord>,
}

/// The configured backup set `id`.
pub fn set(config: &Config, id: &str) -> Result<Backup, BackupError> {
    config
        .backups
        .get(id)
        .cloned()
        .ok_or_else(|| BackupError::UnknownSet(id.to_owned()))
}

fn checked_notes(text: Option<String>) -> Result<Option<String>, BackupError> {
    match text {
        Some(t) if t.chars().count() > NOTES_MAX_CHARS => Err(BackupError::NotesTooLong),
        other => Ok(other),
    }
}

/// Every backup set of `config` against its RPO and RTO at `now`.
pub async fn readiness(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Readiness, StoreError> {
    let backups = assess_all(store, config, now).await?;
    Ok(Readiness {
        ready: backups.iter().all(|a| a.ready),
        backups,
    })
}

/// Backup set `id` with its newest [`RECENT`] runs and drills.
pub async fn show(
    store: &Store,
    config: &Config,
    id: &str,
    now: Timestamp,
) -> Result<Detail, BackupError> {
    let set = set(config, id)?;
    let assessment = assess(store, id, &set, now).await?;
    let runs = store.recent_backup_runs(&set.push_key, RECENT).await?;
    let drills = store.list_drills(Some(id), RECENT).await?;
    Ok(Detail {
        set,
        assessment,
        runs,
        drills,
    })
}

/// Starts a recovery drill of set `id`; its clock runs until it is finished. Returns the set
/// with the drill.
pub async fn start_drill(
    store: &Store,
    config: &Config,
    caller: &Caller,
    id: &str,
    notes: Option<String>,
    now: Timestamp,
) -> Result<(Backup, DrillRecord), BackupError> {
    let set = set(config, id)?;
    let text = checked_notes(notes)?.unwrap_or_default();
    let drill = store.start_drill(id, &text, &caller.actor, now).await?;
    Ok((set, drill))
}

/// How a drill ended, as asked.
#[derive(Debug, Clone, Default)]
pub struct Finish {
    /// `success` or `failure`.
    pub outcome: String,
    /// The restored data was checked and found good.
    pub validated: bool,
    /// Appended to the drill's notes.
    pub notes: Option<String>,
}

/// Finishes drill `drill_id` of set `id`; the recovery time counts only when it succeeded and
/// was validated. A drill is finished once: after that the store refuses with
/// [`StoreError::Conflict`].
pub async fn finish_drill(
    store: &Store,
    config: &Config,
    caller: &Caller,
    (id, drill_id): (&str, &str),
    asked: Finish,
    now: Timestamp,
) -> Result<(Backup, DrillRecord), BackupError> {
    let set = set(config, id)?;
    let missing = || BackupError::NoDrill {
        set: id.to_owned(),
        drill: drill_id.to_owned(),
    };
    if !ids::is_id(drill_id) {
        return Err(missing());
    }
    let outcome = DrillOutcome::parse(&asked.outcome).ok_or(BackupError::Outcome(asked.outcome))?;
    let finish = DrillFinish {
        outcome,
        validated: asked.validated,
        notes: checked_notes(asked.notes)?,
    };
    match store
        .finish_drill(id, drill_id, &finish, &caller.actor, now)
        .await?
    {
        Some(d) => Ok((set, d)),
        None => Err(missing()),
    }
}
