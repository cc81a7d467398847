-- The console (docs/console.md): people who sign in at /admin, their sessions, second factors
-- and the login throttle. Instants are integer milliseconds since the Unix epoch, UTC.

-- A person. `email` is stored lower-case and is the sign-in name; `password_hash` is an argon2id
-- PHC string (the password is never stored). `totp_secret` is the base32 TOTP secret: set while
-- enrolment waits for its first code (`totp_enabled_at` NULL) and once enrolled; it must be
-- read to verify a code, so it is stored as given and never shown again.
CREATE TABLE users (
    id                  TEXT PRIMARY KEY,            -- 12 lowercase alphanumerics
    email               TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    password_hash       TEXT NOT NULL,
    disabled_at         BIGINT,                      -- NULL while the user may sign in
    totp_secret         TEXT,
    totp_enabled_at     BIGINT,
    totp_last_step      BIGINT,                      -- the last accepted time step: no code is accepted twice
    created_at          BIGINT NOT NULL,
    created_by          TEXT NOT NULL,
    updated_at          BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);

-- One-time recovery codes of a user's second factor, as SHA-256 (80 random bits each).
CREATE TABLE user_recovery_codes (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_sha256 TEXT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (user_id, code_sha256)
);

-- A console session. The cookie carries a 256-bit random token; only its SHA-256 is stored.
-- `stage` is `second_factor` between a correct password and the TOTP code, `signed_in` after.
-- A session ends at `expires_at` (absolute) or `idle_timeout_ms` after `last_seen_at`.
CREATE TABLE console_sessions (
    id_sha256       TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stage           TEXT NOT NULL CHECK (stage IN ('second_factor', 'signed_in')),
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    idle_timeout_ms BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    client          TEXT NOT NULL                -- the client address at sign-in
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- Failed sign-ins per key: `account:EMAIL` (whether or not such a user exists, so the throttle
-- tells nothing) and `client:ADDRESS`. `locked_until` is when the next attempt is allowed.
CREATE TABLE login_throttle (
    key             TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until    BIGINT NOT NULL
);
CREATE INDEX login_throttle_last ON login_throttle (last_failure_at);
