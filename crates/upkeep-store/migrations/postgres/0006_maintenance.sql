-- Maintenance windows: the maintenance itself (one-off, or one occurrence of a recurring window
-- from the configuration) and its timeline of updates. Instants are integer milliseconds since
-- the Unix epoch, UTC.

CREATE TABLE maintenances (
    id                  TEXT PRIMARY KEY,            -- 12 lowercase alphanumerics
    kind                TEXT NOT NULL CHECK (kind IN ('planned', 'emergency')),
    title               TEXT NOT NULL,
    description         TEXT,                        -- Markdown
    reason              TEXT,                        -- why (required for emergency by policy)
    starts_at           BIGINT NOT NULL,
    ends_at             BIGINT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN
                            ('scheduled', 'in_progress', 'verifying', 'completed', 'cancelled')),
    components          TEXT NOT NULL,               -- JSON array of component ids
    tenants             TEXT NOT NULL,               -- JSON: "all" or an array of tenant ids
    checks              TEXT NOT NULL CHECK (checks IN ('run', 'skip')),
    counts_as_downtime  BOOLEAN NOT NULL,
    notify_subscribers  BOOLEAN NOT NULL,
    window_id           TEXT,                        -- the recurring window of an occurrence
    occurrence_key      TEXT UNIQUE,                 -- WINDOW_ID@LOCAL_START: idempotency key
    sequence            BIGINT NOT NULL DEFAULT 0,  -- ICS SEQUENCE: +1 per reschedule/cancel
    scheduled_at        BIGINT NOT NULL,            -- when the notice was last measured
    hold_reason         TEXT,                        -- why pre-flight checks hold the start
    silence_id          TEXT,                        -- Alertmanager silence
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    created_by          TEXT NOT NULL,
    revision            BIGINT NOT NULL DEFAULT 0   -- bumped by every change
);
CREATE INDEX maintenances_status_start ON maintenances (status, starts_at);
CREATE INDEX maintenances_start ON maintenances (starts_at);
CREATE INDEX maintenances_window ON maintenances (window_id, starts_at);

CREATE TABLE maintenance_updates (
    id              TEXT PRIMARY KEY,
    maintenance_id  TEXT NOT NULL REFERENCES maintenances (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,                -- order within the maintenance
    status          TEXT NOT NULL CHECK (status IN
                        ('scheduled', 'in_progress', 'verifying', 'completed', 'cancelled')),
    body            TEXT NOT NULL,                   -- Markdown, may be empty
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE INDEX maintenance_updates_maintenance ON maintenance_updates (maintenance_id, seq);
