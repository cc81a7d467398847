-- The partial index of successes is back (0022 dropped it). A key's last success is read at
-- every judgement of a push monitor; through `pings_key_at` alone that read walks back over
-- every ping since the last success, and a job failing for days, a key that never succeeded,
-- or a stream of `/log` pings makes that walk as long as the retention.
CREATE INDEX IF NOT EXISTS pings_success ON pings (key, at) WHERE kind = 'success';
