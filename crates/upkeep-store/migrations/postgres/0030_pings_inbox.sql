-- Pings are written to `pings_inbox` first and moved into `pings` by the ping writers about
-- once a second, sorted by key (`DELETE … RETURNING` feeding the `INSERT`: one statement). The
-- inbox has no index per key (only the small partial index of open starts, which start pings
-- alone pay for), so a commit of many keys' pings does not touch one page of each `(key, at)`
-- index per key; the move writes each key's index pages once a second. Readers read both
-- tables.
--
-- Ids stay unique across both tables: both take them from the one sequence of `pings`, rows
-- keep theirs when moved, and nothing else inserts into `pings`.
CREATE TABLE pings_inbox (
    id           BIGINT PRIMARY KEY DEFAULT nextval('pings_id_seq'),
    key          TEXT NOT NULL,
    at           BIGINT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('success', 'start', 'fail', 'log')),
    exit_code    BIGINT,
    rid          TEXT,
    body         TEXT NOT NULL,
    duration_ms  BIGINT,
    ended_at     BIGINT,
    size_bytes   BIGINT
);
CREATE INDEX pings_inbox_open_starts ON pings_inbox (key, at)
    WHERE kind = 'start' AND ended_at IS NULL;
-- Every row is deleted within seconds of its insert: vacuum by a fixed count of dead rows,
-- not a share of a table that is nearly empty.
ALTER TABLE pings_inbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);
