-- Incidents: the incident, its timeline of updates and the components it currently affects.
-- Instants are integer milliseconds since the Unix epoch, UTC. Statuses and impacts are the
-- Atlassian Statuspage enum values.

CREATE TABLE incidents (
    id           TEXT PRIMARY KEY,            -- 12 lowercase alphanumerics
    name         TEXT NOT NULL,               -- the title
    status       TEXT NOT NULL CHECK (status IN
                     ('investigating', 'identified', 'monitoring', 'resolved', 'postmortem')),
    impact       TEXT NOT NULL CHECK (impact IN ('none', 'minor', 'major', 'critical')),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,            -- when the trouble began (defaults to created_at)
    resolved_at  BIGINT,                     -- set on resolved/postmortem, cleared on reopening
    postmortem   TEXT,                        -- Markdown
    auto         BOOLEAN NOT NULL DEFAULT FALSE, -- opened automatically
    created_by   TEXT NOT NULL,
    revision     BIGINT NOT NULL DEFAULT 0   -- bumped by every change (optimistic concurrency)
);
CREATE INDEX incidents_created ON incidents (created_at);
CREATE INDEX incidents_resolved ON incidents (resolved_at);

CREATE TABLE incident_updates (
    id                   TEXT PRIMARY KEY,
    incident_id          TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    seq                  BIGINT NOT NULL,    -- order within the incident
    status               TEXT NOT NULL CHECK (status IN
                             ('investigating', 'identified', 'monitoring', 'resolved', 'postmortem')),
    body                 TEXT NOT NULL,       -- Markdown, may be empty
    affected_components  TEXT NOT NULL,       -- JSON [{"id": ..., "status": ...}] at that time
    created_at           BIGINT NOT NULL,
    created_by           TEXT NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, seq);

CREATE TABLE incident_components (
    incident_id   TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    component_id  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('operational', 'degraded_performance',
                      'partial_outage', 'major_outage', 'under_maintenance')),
    position      BIGINT NOT NULL,           -- order in which they were added
    PRIMARY KEY (incident_id, component_id)
);
CREATE INDEX incident_components_component ON incident_components (component_id);
