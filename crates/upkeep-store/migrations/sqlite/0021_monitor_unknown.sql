-- A monitor probed from several locations is `unknown` when too few of them report for a
-- quorum (docs/agents.md). SQLite cannot change a CHECK constraint: the table is rebuilt.
CREATE TABLE monitor_states_new (
    monitor_id             TEXT PRIMARY KEY,
    status                 TEXT NOT NULL CHECK (status IN ('pending', 'up', 'down', 'paused', 'unknown')),
    consecutive_failures   INTEGER NOT NULL,
    consecutive_successes  INTEGER NOT NULL,
    changed_at             INTEGER NOT NULL,
    last_check_at          INTEGER,
    paused                 INTEGER NOT NULL      -- 0 | 1
);
INSERT INTO monitor_states_new
    SELECT monitor_id, status, consecutive_failures, consecutive_successes, changed_at,
           last_check_at, paused
    FROM monitor_states;
DROP TABLE monitor_states;
ALTER TABLE monitor_states_new RENAME TO monitor_states;
