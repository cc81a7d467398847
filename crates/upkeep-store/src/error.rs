//! The one error type of the storage layer.

/// A storage failure. `Conflict` is an answer a caller can act on (try again); the others are
/// faults of the database or its configuration. Absent objects are `Ok(None)`, not errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("bad database URL: {0}")]
    BadUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
}
