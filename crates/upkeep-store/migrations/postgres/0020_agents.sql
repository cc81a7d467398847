-- Probe agents (docs/agents.md): who they are and when each was last heard from, which of
-- their result batches are stored (ingest is idempotent on agent and sequence), and their
-- results waiting for the replica that judges the monitor's rounds.

CREATE TABLE agents (
    name             TEXT PRIMARY KEY,            -- the agent token's name
    location         TEXT NOT NULL,               -- the location it last reported from
    version          TEXT NOT NULL,
    first_seen_at    BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL,
    clock_offset_ms  BIGINT NOT NULL,              -- agent clock minus server clock, last measured
    dropped          BIGINT NOT NULL DEFAULT 0     -- results its buffer dropped (its running total)
);

CREATE TABLE agent_batches (
    agent        TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    results      BIGINT NOT NULL,
    PRIMARY KEY (agent, seq)
);
CREATE INDEX agent_batches_received_at ON agent_batches (received_at);   -- pruning

-- Results from agents not yet judged: the replica that judges a monitor takes its rows, and
-- writes them as check results (with their location) in the same transaction.
CREATE TABLE agent_results (
    id           BIGSERIAL PRIMARY KEY,
    agent        TEXT NOT NULL,
    monitor_id   TEXT NOT NULL,
    location     TEXT NOT NULL,
    at           BIGINT NOT NULL,                -- the probe's start, on the server's clock
    received_at  BIGINT NOT NULL,
    ok           BOOLEAN NOT NULL,
    latency_ms   BIGINT NOT NULL,
    status_code  BIGINT,
    failure      TEXT
);

-- The `agent` role: a probe agent's token, good only for its assignments and its results.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('viewer', 'editor', 'admin', 'hook', 'agent'));
