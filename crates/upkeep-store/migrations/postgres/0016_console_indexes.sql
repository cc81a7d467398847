-- The console's failed-deliveries page reads the newest deliveries in one state
-- (`WHERE state = 'failed' ORDER BY seq DESC LIMIT 200`): one index walk, however many
-- deliveries were sent.
CREATE INDEX deliveries_state_seq ON deliveries (state, seq);
