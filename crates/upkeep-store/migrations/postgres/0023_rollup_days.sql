-- Whole UTC days of rollups, one row per monitor and day (upkeep_store::rollup_days): the
-- day's totals, its 24 hours packed into `hours` and its 1,440 minutes into `minutes`
-- (upkeep_domain::rollups; NULL once the day is past `monitoring.retention`). Once a day
-- ended an hour ago its rows in check_rollups are folded into its row here; results that
-- arrive later go to check_rollups again and are folded in on a later pass. Readers add both.
CREATE TABLE check_rollup_days (
    monitor_id      TEXT NOT NULL,
    day             BIGINT NOT NULL,
    checks          BIGINT NOT NULL,
    failures        BIGINT NOT NULL,
    latency_sum_ms  BIGINT NOT NULL,
    latency_max_ms  BIGINT NOT NULL,
    down_ms         BIGINT NOT NULL,
    hours           BYTEA NOT NULL,
    minutes         BYTEA,
    PRIMARY KEY (monitor_id, day)
);
-- Reads of every monitor's days in a range (uptime pages, lists).
CREATE INDEX check_rollup_days_day ON check_rollup_days (day);
-- The days whose minutes are still kept, for pruning them past retention.
CREATE INDEX check_rollup_days_minutes ON check_rollup_days (day) WHERE minutes IS NOT NULL;
