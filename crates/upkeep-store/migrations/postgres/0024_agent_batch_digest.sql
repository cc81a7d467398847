-- Probe agents (docs/agents.md). Each stored batch keeps a digest of its content, so a batch
-- posted again (the same digest) is told apart from another batch with the same number (an
-- agent whose data directory was lost): that one is refused with the next free number. Rows
-- stored before have none and count as the same batch.
ALTER TABLE agent_batches ADD COLUMN digest TEXT;

-- The round a queued result was probed for, when its agent said so and the claim held
-- (milliseconds); else the result is judged in the round its instant falls in.
ALTER TABLE agent_results ADD COLUMN round_start BIGINT;

-- Queued results older than the ingest window are pruned.
CREATE INDEX agent_results_at ON agent_results (at);
