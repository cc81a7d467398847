-- Pings are written to `pings_inbox` first and moved into `pings` by the ping writer about once
-- a second, in one transaction, sorted by key. The inbox has no index per key (only the small
-- partial index of open starts, which start pings alone pay for), so a commit of many keys'
-- pings writes a few appended pages instead of one page of each `(key, at)` index per key; the
-- move writes each key's index pages once a second. Readers read both tables.
--
-- Ids stay unique across both tables and grow over time: the inbox allocates them (its
-- sequence starts after every id `pings` ever allocated) and rows keep theirs when moved;
-- nothing else inserts into `pings`.
CREATE TABLE pings_inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    key          TEXT NOT NULL,
    at           INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('success', 'start', 'fail', 'log')),
    exit_code    INTEGER,
    rid          TEXT,
    body         TEXT NOT NULL,
    duration_ms  INTEGER,
    ended_at     INTEGER,
    size_bytes   INTEGER
);
CREATE INDEX pings_inbox_open_starts ON pings_inbox (key, at)
    WHERE kind = 'start' AND ended_at IS NULL;
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'pings_inbox', MAX(n) FROM (
        SELECT seq AS n FROM sqlite_sequence WHERE name = 'pings'
        UNION ALL SELECT MAX(id) FROM pings
        UNION ALL SELECT 0
    ) AS known;
