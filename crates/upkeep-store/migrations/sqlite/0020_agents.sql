-- Probe agents (docs/agents.md): who they are and when each was last heard from, which of
-- their result batches are stored (ingest is idempotent on agent and sequence), and their
-- results waiting for the replica that judges the monitor's rounds.

CREATE TABLE agents (
    name             TEXT PRIMARY KEY,            -- the agent token's name
    location         TEXT NOT NULL,               -- the location it last reported from
    version          TEXT NOT NULL,
    first_seen_at    INTEGER NOT NULL,
    last_seen_at     INTEGER NOT NULL,
    clock_offset_ms  INTEGER NOT NULL                  -- agent clock minus server clock, last measured
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
