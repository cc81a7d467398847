-- Automatic incidents: where followers of append-only tables stopped, and which failing
-- sources (a monitor, a rule, an Alertmanager alert) hold an automatic incident open.

CREATE TABLE cursors (
    name      TEXT PRIMARY KEY,               -- e.g. 'auto-incidents:monitor_events'
    position  BIGINT NOT NULL,               -- last processed id
    updated_at BIGINT NOT NULL
);

CREATE TABLE incident_sources (
    source       TEXT PRIMARY KEY,            -- 'monitor:ID' | 'rule:NAME' | 'alertmanager:FINGERPRINT'
    incident_id  TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    component_id TEXT NOT NULL,
    status       TEXT NOT NULL,               -- the component status this source asks for
    label        TEXT NOT NULL,               -- how the source is named in updates
    since        BIGINT NOT NULL
);
CREATE INDEX incident_sources_incident ON incident_sources (incident_id);
