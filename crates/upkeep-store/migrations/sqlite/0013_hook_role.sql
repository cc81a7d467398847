-- The `hook` role: a token that may only post alerts to the Alertmanager hook. SQLite cannot
-- change a CHECK constraint in place: the table is rebuilt with the same columns.

CREATE TABLE api_tokens_new (
    id            TEXT PRIMARY KEY,           -- 12 lowercase alphanumerics, shown in listings
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin', 'hook')),
    secret_sha256 TEXT NOT NULL UNIQUE,       -- hex SHA-256 of the secret; the secret is never stored
    created_at    INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
INSERT INTO api_tokens_new (id, name, role, secret_sha256, created_at, created_by, last_used_at,
    revoked_at)
SELECT id, name, role, secret_sha256, created_at, created_by, last_used_at, revoked_at
FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
