-- Rollouts (docs/rollouts.md). A maintenance may carry a rollout specification (JSON); once its
-- rollout starts, the rollout's state, each tenant's step and every attempt are rows here.
ALTER TABLE maintenances ADD COLUMN rollout TEXT;

-- A lease's fencing token goes up by one whenever a different holder takes it; a released lease
-- keeps its row (expired) so the token never goes back.
ALTER TABLE leases ADD COLUMN token INTEGER NOT NULL DEFAULT 0;

CREATE TABLE rollouts (
    maintenance_id TEXT PRIMARY KEY REFERENCES maintenances (id),
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    reason TEXT NOT NULL,
    fence INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE rollout_tenants (
    maintenance_id TEXT NOT NULL REFERENCES rollouts (maintenance_id),
    tenant TEXT NOT NULL,
    position INTEGER NOT NULL,
    state TEXT NOT NULL,
    slot_start INTEGER NOT NULL,
    slot_end INTEGER NOT NULL,
    since INTEGER NOT NULL,
    decision TEXT,
    evidence TEXT,
    PRIMARY KEY (maintenance_id, tenant)
);

CREATE TABLE rollout_attempts (
    maintenance_id TEXT NOT NULL REFERENCES rollouts (maintenance_id),
    tenant TEXT NOT NULL,
    step TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    runs INTEGER NOT NULL,
    finished_at INTEGER,
    outcome TEXT,
    detail TEXT,
    PRIMARY KEY (maintenance_id, tenant, step, attempt)
);

CREATE INDEX rollouts_state ON rollouts (state);
