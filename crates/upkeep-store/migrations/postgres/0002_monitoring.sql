-- Monitoring: raw check results, their rollups per minute, hour and day, monitor states and
-- transitions, and push pings. Instants are integer milliseconds since the Unix epoch, UTC.

CREATE TABLE check_results (
    id           BIGSERIAL PRIMARY KEY,
    monitor_id   TEXT NOT NULL,
    at           BIGINT NOT NULL,
    ok           BOOLEAN NOT NULL,
    latency_ms   BIGINT NOT NULL,
    status_code  BIGINT,
    failure      TEXT,
    location     TEXT,
    down_ms      BIGINT NOT NULL
);
CREATE INDEX check_results_monitor_at ON check_results (monitor_id, at);
CREATE INDEX check_results_at ON check_results (at);

CREATE TABLE check_rollups (
    monitor_id      TEXT NOT NULL,
    resolution      BIGINT NOT NULL CHECK (resolution IN (60000, 3600000, 86400000)),
    bucket          BIGINT NOT NULL,
    checks          BIGINT NOT NULL,
    failures        BIGINT NOT NULL,
    latency_sum_ms  BIGINT NOT NULL,
    latency_max_ms  BIGINT NOT NULL,
    down_ms         BIGINT NOT NULL,
    PRIMARY KEY (monitor_id, resolution, bucket)
);

CREATE TABLE monitor_states (
    monitor_id             TEXT PRIMARY KEY,
    status                 TEXT NOT NULL CHECK (status IN ('pending', 'up', 'down', 'paused')),
    consecutive_failures   BIGINT NOT NULL,
    consecutive_successes  BIGINT NOT NULL,
    changed_at             BIGINT NOT NULL,
    last_check_at          BIGINT,
    paused                 BOOLEAN NOT NULL
);

CREATE TABLE monitor_events (
    id           BIGSERIAL PRIMARY KEY,
    monitor_id   TEXT NOT NULL,
    at           BIGINT NOT NULL,
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    reason       TEXT NOT NULL
);
CREATE INDEX monitor_events_monitor ON monitor_events (monitor_id, at);
CREATE INDEX monitor_events_at ON monitor_events (at);

CREATE TABLE pings (
    id           BIGSERIAL PRIMARY KEY,
    key          TEXT NOT NULL,
    at           BIGINT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('success', 'start', 'fail', 'log')),
    exit_code    BIGINT,
    rid          TEXT,
    body         TEXT NOT NULL,
    duration_ms  BIGINT,
    ended_at     BIGINT
);
CREATE INDEX pings_key_at ON pings (key, at);
CREATE INDEX pings_success ON pings (key, at) WHERE kind = 'success';
CREATE INDEX pings_open_starts ON pings (key, at) WHERE kind = 'start' AND ended_at IS NULL;
