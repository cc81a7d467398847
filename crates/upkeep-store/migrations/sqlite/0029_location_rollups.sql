-- Hourly rollups of each location's results of monitors probed from several locations: one
-- row per monitor, location and UTC hour, upserted in the transaction that writes the results
-- (check_rollups counts only what a monitor was judged on, its rounds). What per-location
-- latency is read from; pruned with `monitoring.retention`, like the raw results they sum.
CREATE TABLE check_location_rollups (
    monitor_id      TEXT NOT NULL,
    location        TEXT NOT NULL,
    bucket          INTEGER NOT NULL,         -- the UTC hour's start
    checks          INTEGER NOT NULL,
    failures        INTEGER NOT NULL,
    latency_sum_ms  INTEGER NOT NULL,
    latency_max_ms  INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, bucket, location)   -- a monitor's hours in a range, at one seek
) WITHOUT ROWID;
-- Pruning past retention.
CREATE INDEX check_location_rollups_bucket ON check_location_rollups (bucket);
