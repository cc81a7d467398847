-- Probe agents (docs/agents.md): who they are and when each was last heard from, which of
-- their result batches are stored (ingest is idempotent on agent and sequence), and their
-- results waiting for the replica that judges the monitor's rounds.

CREATE TABLE agents (
    name             TEXT PRIMARY KEY,            -- the agent token's name
    location         TEXT NOT NULL,               -- the location it last reported from
    version          TEXT NOT NULL,
    first_seen_at    INTEGER NOT NULL,
    last_seen_at     INTEGER NOT NULL,
    clock_offset_ms  INTEGER NOT NULL,             -- agent clock minus server clock, last measured
    dropped          INTEGER NOT NULL DEFAULT 0    -- results its buffer dropped (its running total)
);

CREATE TABLE agent_batches (
    agent        TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    results      INTEGER NOT NULL,
    PRIMARY KEY (agent, seq)
);
CREATE INDEX agent_batches_received_at ON agent_batches (received_at);   -- pruning

-- Results from agents not yet judged: the replica that judges a monitor takes its rows, and
-- writes them as check results (with their location) in the same transaction.
CREATE TABLE agent_results (
    id           INTEGER PRIMARY KEY,
    agent        TEXT NOT NULL,
    monitor_id   TEXT NOT NULL,
    location     TEXT NOT NULL,
    at           INTEGER NOT NULL,                -- the probe's start, on the server's clock
    received_at  INTEGER NOT NULL,
    ok           INTEGER NOT NULL,
    latency_ms   INTEGER NOT NULL,
    status_code  INTEGER,
    failure      TEXT
);

-- The `agent` role: a probe agent's token, good only for its assignments and its results.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same columns.
CREATE TABLE api_tokens_new (
    id            TEXT PRIMARY KEY,           -- 12 lowercase alphanumerics, shown in listings
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin', 'hook', 'agent')),
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
