-- When upkeep first watched each monitor: the origin of a push monitor's first deadline, kept
-- across restarts and state changes.
CREATE TABLE monitor_first_seen (
    monitor_id TEXT PRIMARY KEY,
    at         BIGINT NOT NULL
);
