-- Rollouts (docs/rollouts.md). A maintenance may carry a rollout specification (JSON); once its
-- rollout starts, the rollout's state, each tenant's step and every attempt are rows here.
ALTER TABLE maintenances ADD COLUMN rollout TEXT;

-- A lease's fencing token goes up by one whenever a different holder takes it; a released lease
-- keeps its row (expired) so the token never goes back.
ALTER TABLE leases ADD COLUMN token BIGINT NOT NULL DEFAULT 0;

CREATE TABLE rollouts (
    maintenance_id TEXT PRIMARY KEY REFERENCES maintenances (id),
    state TEXT NOT NULL,
    spec TEXT NOT NULL,
    reason TEXT NOT NULL,
    fence BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE rollout_tenants (
    maintenance_id TEXT NOT NULL REFERENCES rollouts (maintenance_id),
    tenant TEXT NOT NULL,
    position BIGINT NOT NULL,
    state TEXT NOT NULL,
    slot_start BIGINT NOT NULL,
    slot_end BIGINT NOT NULL,
    since BIGINT NOT NULL,
    decision TEXT,
    evidence TEXT,
    PRIMARY KEY (maintenance_id, tenant)
);

CREATE TABLE rollout_attempts (
    maintenance_id TEXT NOT NULL REFERENCES rollouts (maintenance_id),
    tenant TEXT NOT NULL,
    step TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    runs BIGINT NOT NULL,
    finished_at BIGINT,
    outcome TEXT,
    detail TEXT,
    PRIMARY KEY (maintenance_id, tenant, step, attempt)
);

CREATE INDEX rollouts_state ON rollouts (state);
