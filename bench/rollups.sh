#!/usr/bin/env bash
# The size of a year of rollups (target: at most 1 GB for 1,000 monitors).
#
# Seeds, in upkeep's own schema (`upkeep migrate`), what check_rollups holds at steady state for
# MONITORS monitors after DAYS days: per-minute rollups over the retention (RETENTION_DAYS, the
# default `retention` of 14 d: they are pruned with the raw results), and per-hour and per-day
# rollups over the whole DAYS (kept for good). Then it prints the table's size with its index:
# on SQLite the pages dbstat counts after VACUUM, on PostgreSQL (DB=postgres, the database of
# UPKEEP_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test, in a schema of its
# own that is dropped after) pg_total_relation_size after VACUUM FULL.
#
# Monitor ids are 17 characters (`svc-0001-https-eu`), as configured names tend to be.
#
# Usage: bench/rollups.sh [MONITORS] [DAYS]          (defaults 1000 and 365)
# Environment: RETENTION_DAYS (14), DB=sqlite|postgres, UPKEEP_BIN (else builds release).
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-1000}
days=${2:-365}
retention=${RETENTION_DAYS:-14}
db_kind=${DB:-sqlite}
bin=${UPKEEP_BIN:-target/release/upkeep}
[ -n "${UPKEEP_BIN:-}" ] || cargo build --release -q -p upkeep

minute=60000 hour=3600000 day=86400000
now_ms=$(( $(date +%s) * 1000 / day * day ))
minutes=$(( retention * 1440 ))
hours=$(( days * 24 ))
expected=$(( n * (minutes + hours + days) ))
echo "monitors $n, days $days, per-minute rollups over $retention d: $expected rows expected"

if [ "$db_kind" = postgres ]; then
  url=${UPKEEP_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
  schema=bench_rollups_$$
  psql -X -q "$url" -c "CREATE SCHEMA $schema"
  trap 'psql -X -q "$url" -c "DROP SCHEMA $schema CASCADE" >/dev/null' EXIT
  "$bin" migrate --database "$url?options=-csearch_path%3D$schema" >/dev/null
  t0=$(date +%s)
  psql -X -q "$url" <<SQL
SET search_path = $schema;
INSERT INTO check_rollups
SELECT 'svc-' || lpad(m::text, 4, '0') || '-https-eu', $minute, $now_ms - b * $minute::bigint,
       6, (random() < 0.001)::int, 6 * (20 + (random() * 300)::int), 320, 0
FROM generate_series(1, $n) m CROSS JOIN generate_series(1, $minutes) b;
INSERT INTO check_rollups
SELECT 'svc-' || lpad(m::text, 4, '0') || '-https-eu', $hour, $now_ms - b * $hour::bigint,
       360, (random() < 0.3)::int, 360 * (20 + (random() * 300)::int), 320, 0
FROM generate_series(1, $n) m CROSS JOIN generate_series(1, $hours) b;
INSERT INTO check_rollups
SELECT 'svc-' || lpad(m::text, 4, '0') || '-https-eu', $day, $now_ms - b * $day::bigint,
       8640, (random() * 10)::int, 8640 * (20 + (random() * 300)::int), 320, 0
FROM generate_series(1, $n) m CROSS JOIN generate_series(1, $days) b;
VACUUM FULL check_rollups;
SQL
  rows=$(psql -X -qAt "$url" -c "SELECT count(*) FROM $schema.check_rollups")
  bytes=$(psql -X -qAt "$url" -c "SELECT pg_total_relation_size('$schema.check_rollups')")
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  db="$dir/rollups.db"
  "$bin" migrate --database "sqlite://$db" >/dev/null
  t0=$(date +%s)
  sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TEMP TABLE mon AS
  WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $n)
  SELECT 'svc-' || printf('%04d', i) || '-https-eu' AS id FROM k ORDER BY id;
WITH RECURSIVE b(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM b WHERE k < $minutes)
INSERT INTO check_rollups
SELECT mon.id, $minute, $now_ms - b.k * $minute, 6, abs(random()) % 1000 = 0,
       6 * (20 + abs(random()) % 300), 320, 0
FROM mon CROSS JOIN b ORDER BY 1, 3;
WITH RECURSIVE b(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM b WHERE k < $hours)
INSERT INTO check_rollups
SELECT mon.id, $hour, $now_ms - b.k * $hour, 360, abs(random()) % 3 = 0,
       360 * (20 + abs(random()) % 300), 320, 0
FROM mon CROSS JOIN b ORDER BY 1, 3;
WITH RECURSIVE b(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM b WHERE k < $days)
INSERT INTO check_rollups
SELECT mon.id, $day, $now_ms - b.k * $day, 8640, abs(random()) % 10,
       8640 * (20 + abs(random()) % 300), 320, 0
FROM mon CROSS JOIN b ORDER BY 1, 3;
VACUUM;
SQL
  rows=$(sqlite3 "$db" "SELECT count(*) FROM check_rollups")
  bytes=$(sqlite3 "$db" "SELECT sum(pgsize) FROM dbstat WHERE name = 'check_rollups'" 2>/dev/null \
    || stat -c %s "$db")
fi
echo "$db_kind: $rows rows seeded in $(( $(date +%s) - t0 )) s; check_rollups with its index:" \
  "$(( bytes / 1024 / 1024 )) MiB, $(( bytes / rows )) bytes a row," \
  "$(( bytes / n / 1024 )) KiB a monitor"
