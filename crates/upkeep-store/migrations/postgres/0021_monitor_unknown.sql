-- A monitor probed from several locations is `unknown` when too few of them report for a
-- quorum (docs/agents.md).
ALTER TABLE monitor_states DROP CONSTRAINT monitor_states_status_check;
ALTER TABLE monitor_states ADD CONSTRAINT monitor_states_status_check
    CHECK (status IN ('pending', 'up', 'down', 'paused', 'unknown'));
