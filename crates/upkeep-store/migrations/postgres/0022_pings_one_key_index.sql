-- Every ping row was entered in two (key, at) indexes: `pings_key_at` and the partial
-- `pings_success`. With many keys pinging at once each index entry lands on a different
-- page, so a batch of pings dirtied twice the pages (and twice the write-ahead log) it
-- needs. The last success of a key is found through `pings_key_at` alone, reading back from
-- the newest ping (BENCHMARKS.md, "Heartbeat ingestion").
DROP INDEX IF EXISTS pings_success;
