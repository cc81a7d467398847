#!/usr/bin/env bash
# The size of a year of rollups (target: at most 1 GB for 1,000 monitors).
#
# Builds, in upkeep's own schema, what the rollups of MONITORS monitors hold at steady state
# after DAYS days: each monitor's DAYS past UTC days folded into one row of check_rollup_days
# (the day's totals, its 24 hours packed, and its 1,440 minutes packed for the last
# RETENTION_DAYS days only, the default `retention` of 14 d), plus one day of rows in
# check_rollups (the day in progress: 1,440 minutes, 24 hours, the day). It seeds the rows the
# write path leaves in check_rollups (minutes over the retention, hours and days over DAYS
# days, and the day in progress), then folds and prunes them with upkeep's own code
# (crates/upkeep-store/examples/fold_rollups.rs, as the engine's passes do), then prints the
# size of both tables with their indexes: on SQLite the pages dbstat counts after VACUUM, on
# PostgreSQL (DB=postgres, the database of UPKEEP_BENCH_POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/test, in a schema of its own that is dropped after)
# pg_total_relation_size (TOAST included) after VACUUM FULL.
#
# Monitor ids are 17 characters (`svc-0001-https-eu`), as configured names tend to be.
#
# Usage: bench/rollups.sh [MONITORS] [DAYS]          (defaults 1000 and 365)
# Environment: RETENTION_DAYS (14), DB=sqlite|postgres,
#              FOLD_BIN (else builds the fold_rollups example, release).
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-1000}
days=${2:-365}
retention=${RETENTION_DAYS:-14}
db_kind=${DB:-sqlite}
bin=${FOLD_BIN:-target/release/examples/fold_rollups}
[ -n "${FOLD_BIN:-}" ] || cargo build --release -q -p upkeep-store --example fold_rollups

minute=60000 hour=3600000 day=86400000
now_ms=$(( $(date +%s) * 1000 / day * day ))   # midnight UTC starting the day in progress
fold_at=$(( now_ms + 2 * hour ))                # every past day is due, the day in progress not
minutes=$(( retention * 1440 ))
hours=$(( days * 24 ))
expected_days=$(( n * days ))
expected_hot=$(( n * (1440 + 24 + 1) ))
echo "monitors $n, days $days, minutes kept $retention d:" \
  "$expected_days day rows and $expected_hot rows of the day in progress expected"

if [ "$db_kind" = postgres ]; then
  url=${UPKEEP_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
  schema=bench_rollups_$$
  db_url="$url?options=-csearch_path%3D$schema"
  psql -X -q "$url" -c "CREATE SCHEMA $schema"
  trap 'psql -X -q "$url" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1' EXIT
  "$bin" "$db_url" >/dev/null
  t0=$(date +%s)
  psql -X -q "$url" <<SQL
SET search_path = $schema;
INSERT INTO check_rollups
SELECT 'svc-' || lpad(m::text, 4, '0') || '-https-eu', $minute, $now_ms + b * $minute::bigint,
       6, (random() < 0.001)::int, 6 * (20 + (random() * 300)::int), 320, 0
FROM generate_series(1, $n) m CROSS JOIN generate_series(-$minutes, 1439) b;
INSERT INTO check_rollups
SELECT 'svc-' || lpad(m::text, 4, '0') || '-https-eu', $hour, $now_ms + b * $hour::bigint,
       360, (random() < 0.3)::int, 360 * (20 + (random() * 300)::int), 320, 0
FROM generate_series(1, $n) m CROSS JOIN generate_series(-$hours, 23) b;
INSERT INTO check_rollups
SELECT 'svc-' || lpad(m::text, 4, '0') || '-https-eu', $day, $now_ms + b * $day::bigint,
       8640, (random() * 10)::int, 8640 * (20 + (random() * 300)::int), 320, 0
FROM generate_series(1, $n) m CROSS JOIN generate_series(-$days, 0) b;
SQL
  t1=$(date +%s)
  "$bin" "$db_url" "$fold_at" "$retention"
  psql -X -q "$url" -c "VACUUM FULL $schema.check_rollups" -c "VACUUM FULL $schema.check_rollup_days"
  count() { psql -X -qAt "$url" -c "SELECT count(*) FROM $schema.$1"; }
  size() { psql -X -qAt "$url" -c "SELECT pg_total_relation_size('$schema.$1')"; }
  day_rows=$(count check_rollup_days) hot_rows=$(count check_rollups)
  day_bytes=$(size check_rollup_days) hot_bytes=$(size check_rollups)
  with_minutes=$(psql -X -qAt "$url" -c "SELECT count(*) FROM $schema.check_rollup_days WHERE minutes IS NOT NULL")
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  db="$dir/rollups.db"
  "$bin" "sqlite://$db" >/dev/null
  t0=$(date +%s)
  sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TEMP TABLE mon AS
  WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $n)
  SELECT 'svc-' || printf('%04d', i) || '-https-eu' AS id FROM k ORDER BY id;
WITH RECURSIVE b(k) AS (SELECT -$minutes UNION ALL SELECT k + 1 FROM b WHERE k < 1439)
INSERT INTO check_rollups
SELECT mon.id, $minute, $now_ms + b.k * $minute, 6, abs(random()) % 1000 = 0,
       6 * (20 + abs(random()) % 300), 320, 0
FROM mon CROSS JOIN b ORDER BY 1, 3;
WITH RECURSIVE b(k) AS (SELECT -$hours UNION ALL SELECT k + 1 FROM b WHERE k < 23)
INSERT INTO check_rollups
SELECT mon.id, $hour, $now_ms + b.k * $hour, 360, abs(random()) % 3 = 0,
       360 * (20 + abs(random()) % 300), 320, 0
FROM mon CROSS JOIN b ORDER BY 1, 3;
WITH RECURSIVE b(k) AS (SELECT -$days UNION ALL SELECT k + 1 FROM b WHERE k < 0)
INSERT INTO check_rollups
SELECT mon.id, $day, $now_ms + b.k * $day, 8640, abs(random()) % 10,
       8640 * (20 + abs(random()) % 300), 320, 0
FROM mon CROSS JOIN b ORDER BY 1, 3;
SQL
  t1=$(date +%s)
  "$bin" "sqlite://$db" "$fold_at" "$retention"
  sqlite3 "$db" "VACUUM"
  count() { sqlite3 "$db" "SELECT count(*) FROM $1"; }
  size() {
    sqlite3 "$db" "SELECT sum(pgsize) FROM dbstat
                   WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name = '$1')"
  }
  day_rows=$(count check_rollup_days) hot_rows=$(count check_rollups)
  day_bytes=$(size check_rollup_days) hot_bytes=$(size check_rollups)
  with_minutes=$(sqlite3 "$db" "SELECT count(*) FROM check_rollup_days WHERE minutes IS NOT NULL")
fi
bytes=$(( day_bytes + hot_bytes ))
echo "$db_kind: seeded in $(( t1 - t0 )) s, folded in $(( $(date +%s) - t1 )) s"
echo "check_rollup_days: $day_rows rows ($with_minutes with minutes), $(( day_bytes / 1024 / 1024 )) MiB," \
  "$(( day_bytes / day_rows )) bytes a row"
echo "check_rollups (the day in progress): $hot_rows rows, $(( hot_bytes / 1024 / 1024 )) MiB"
echo "both with their indexes: $(( bytes / 1024 / 1024 )) MiB, $(( bytes / n / 1024 )) KiB a monitor"
