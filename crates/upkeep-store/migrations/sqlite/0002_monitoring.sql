-- Monitoring: raw check results, their rollups per minute, hour and day, monitor states and
-- transitions, and push pings. Instants are integer milliseconds since the Unix epoch, UTC.

CREATE TABLE check_results (
    id           INTEGER PRIMARY KEY,         -- rowid alias: no separate key index
    monitor_id   TEXT NOT NULL,
    at           INTEGER NOT NULL,
    ok           INTEGER NOT NULL,            -- boolean 0 | 1
    latency_ms   INTEGER NOT NULL,
    status_code  INTEGER,
    failure      TEXT,
    location     TEXT,
    down_ms      INTEGER NOT NULL
);
CREATE INDEX check_results_monitor_at ON check_results (monitor_id, at);
CREATE INDEX check_results_at ON check_results (at);   -- pruning

-- One row per monitor, resolution and UTC bucket; updated incrementally with each result.
CREATE TABLE check_rollups (
    monitor_id      TEXT NOT NULL,
    resolution      INTEGER NOT NULL CHECK (resolution IN (60000, 3600000, 86400000)),
    bucket          INTEGER NOT NULL,         -- bucket start, a multiple of resolution
    checks          INTEGER NOT NULL,
    failures        INTEGER NOT NULL,
    latency_sum_ms  INTEGER NOT NULL,
    latency_max_ms  INTEGER NOT NULL,
    down_ms         INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, resolution, bucket)
) WITHOUT ROWID;

CREATE TABLE monitor_states (
    monitor_id             TEXT PRIMARY KEY,
    status                 TEXT NOT NULL CHECK (status IN ('pending', 'up', 'down', 'paused')),
    consecutive_failures   INTEGER NOT NULL,
    consecutive_successes  INTEGER NOT NULL,
    changed_at             INTEGER NOT NULL,
    last_check_at          INTEGER,
    paused                 INTEGER NOT NULL      -- 0 | 1
);

CREATE TABLE monitor_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor_id   TEXT NOT NULL,
    at           INTEGER NOT NULL,
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    reason       TEXT NOT NULL
);
CREATE INDEX monitor_events_monitor ON monitor_events (monitor_id, at);
CREATE INDEX monitor_events_at ON monitor_events (at);

CREATE TABLE pings (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    key          TEXT NOT NULL,
    at           INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('success', 'start', 'fail', 'log')),
    exit_code    INTEGER,                     -- from /ping/KEY/CODE
    rid          TEXT,                        -- run id (a UUID) pairing a start with its end
    body         TEXT NOT NULL,               -- at most 10 KB
    duration_ms  INTEGER,                     -- on an end: time since its start
    ended_at     INTEGER                      -- on a start: when its end arrived; NULL while open
);
CREATE INDEX pings_key_at ON pings (key, at);
CREATE INDEX pings_success ON pings (key, at) WHERE kind = 'success';
CREATE INDEX pings_open_starts ON pings (key, at) WHERE kind = 'start' AND ended_at IS NULL;
