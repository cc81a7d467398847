-- The operator event log holds events of every source, not only monitors: monitors by id, and
-- `rule:NAME`, `slo:COMPONENT`, `backup:SET`, `drill:SET`, `preflight:MAINTENANCE`. The column
-- is named for what it holds; its text is unchanged.
ALTER TABLE monitor_events RENAME COLUMN monitor_id TO source;
