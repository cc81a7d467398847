-- The order in which followers read operator events: (xid, id). SQLite serialises writers, so
-- ids commit in order and xid stays 0 (the column keeps both schemas alike; on PostgreSQL it
-- holds the writing transaction's id).
ALTER TABLE monitor_events ADD COLUMN xid INTEGER NOT NULL DEFAULT 0;
CREATE INDEX monitor_events_order ON monitor_events (xid, id);

-- A follower's position is an (xid, id) pair.
ALTER TABLE cursors ADD COLUMN xid INTEGER NOT NULL DEFAULT 0;
