-- The totals of every monitor over a range (the status page's uptime of today and yesterday,
-- re-read every ten seconds; the monitors API) select rollups by resolution and bucket. The
-- primary key starts with the monitor, so without this index each read scanned every rollup
-- not yet folded into days (some 3 million rows at 1,000 monitors). New rows are one per
-- monitor and bucket; updating a bucket's sums leaves the index alone.
CREATE INDEX IF NOT EXISTS check_rollups_by_bucket ON check_rollups (resolution, bucket);
