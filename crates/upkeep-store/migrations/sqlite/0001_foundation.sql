-- Foundation: API tokens, the audit log and leases for work sharing.
-- Every instant is stored as integer milliseconds since the Unix epoch, UTC.

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,           -- 12 lowercase alphanumerics, shown in listings
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    secret_sha256 TEXT NOT NULL UNIQUE,       -- hex SHA-256 of the secret; the secret is never stored
    created_at    INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);

CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    before   TEXT,                            -- JSON, NULL when the object did not exist
    after    TEXT                             -- JSON, NULL when the object no longer exists
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,              -- what is leased, e.g. "scheduler:maintenance"
    holder     TEXT NOT NULL,                 -- the replica holding it
    expires_at INTEGER NOT NULL
);
