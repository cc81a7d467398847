-- The transaction that wrote each operator event, so that followers of the event log read only
-- events whose writers have all finished. Ids come from a sequence and two writers may commit
-- out of id order; an event is read once no transaction below its writer's is still in flight,
-- in (xid, id) order, which is final by then (docs/notifications.md, "The event log").
-- Events written before this migration keep xid 0 and come first, in id order.
ALTER TABLE monitor_events ADD COLUMN xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE monitor_events ALTER COLUMN xid SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX monitor_events_order ON monitor_events (xid, id);

-- A follower's position is an (xid, id) pair; cursors stored before keep xid 0.
ALTER TABLE cursors ADD COLUMN xid BIGINT NOT NULL DEFAULT 0;
