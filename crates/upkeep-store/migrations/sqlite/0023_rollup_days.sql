-- Whole UTC days of rollups, one row per monitor and day (upkeep_store::rollup_days): the
-- day's totals, its 24 hours packed into `hours` and its 1,440 minutes into `minutes`
-- (upkeep_domain::rollups; NULL once the day is past `monitoring.retention`). Once a day
-- ended an hour ago its rows in check_rollups are folded into its row here; results that
-- arrive later go to check_rollups again and are folded in on a later pass. Readers add both.
CREATE TABLE check_rollup_days (
    monitor_id      TEXT NOT NULL,
    day             INTEGER NOT NULL,         -- midnight UTC starting the day
    checks          INTEGER NOT NULL,
    failures        INTEGER NOT NULL,
    latency_sum_ms  INTEGER NOT NULL,
    latency_max_ms  INTEGER NOT NULL,
    down_ms         INTEGER NOT NULL,
    hours           BLOB NOT NULL,
    minutes         BLOB,
    PRIMARY KEY (monitor_id, day)
) WITHOUT ROWID;
-- Reads of every monitor's days in a range (uptime pages, lists).
CREATE INDEX check_rollup_days_day ON check_rollup_days (day);
-- The days whose minutes are still kept, for pruning them past retention.
CREATE INDEX check_rollup_days_minutes ON check_rollup_days (day) WHERE minutes IS NOT NULL;
