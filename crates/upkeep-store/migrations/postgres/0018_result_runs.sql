-- Runs of identical successes (docs/monitoring.md): once a UTC hour of results is an hour
-- old, consecutive plain successes of one monitor, location and status code are folded into
-- their first row, which then stands for `checks` results from `at` to `last_at`, with
-- `latency_ms` their rounded mean. A single result keeps checks = 1 and NULLs beside it.
ALTER TABLE check_results ADD COLUMN checks BIGINT NOT NULL DEFAULT 1;
ALTER TABLE check_results ADD COLUMN last_at BIGINT;
ALTER TABLE check_results ADD COLUMN latency_min_ms BIGINT;
ALTER TABLE check_results ADD COLUMN latency_max_ms BIGINT;
ALTER TABLE check_results ADD COLUMN latency_sum_ms BIGINT;
