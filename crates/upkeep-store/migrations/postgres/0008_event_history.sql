-- Reading a period's status history (availability reports, SLOs) walks this index alone, in
-- (monitor_id, at) order: no table lookups and no sort for a year of changes.
CREATE INDEX monitor_events_history ON monitor_events (monitor_id, at, to_status);
