#!/usr/bin/env bash
# Server-side render time of the console's pages over a large fleet (target: under 200 ms each).
#
# Generates MONITORS push monitors (no prober traffic during the measurement) with HOURS of
# results every 10 s each (10,000 monitors for 24 hours: 86.4 million rows) straight into a
# fresh SQLite database with sqlite3 (the schema the server migrates; the indexes built after
# the rows, as a restore would), plus firing alerts, failed deliveries and a month of
# maintenance. Then starts `upkeep serve` (release build), creates an admin, signs in through
# the real form with curl, and times each page with many sequential requests, printing p50 and
# p99 of curl's total time.
# Usage: bench/console.sh [MONITORS] [HOURS] [REQUESTS]    (defaults 10000, 24 and 200)
set -euo pipefail
n=${1:-10000}
hours=${2:-24}
requests=${3:-200}
port=18390
bin=${UPKEEP_BIN:-target/release/upkeep}
[ -x "$bin" ] || cargo build --release -p upkeep
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"; }
trap cleanup EXIT
db="$dir/upkeep.db"
cfg="$dir/upkeep.yaml"
{
  echo 'page: { name: Bench, url: "http://127.0.0.1:'$port'", timezone: Europe/Rome }'
  echo 'server: { rate_limit: { per_second: 100000, burst: 100000 } }'
  echo 'components:'
  for i in $(seq 1 100); do echo "  c$i: { name: Component $i }"; done
  echo 'monitors:'
  for i in $(seq 1 "$n"); do
    echo "  m$i: { component: c$(( (i % 100) + 1 )), push: { key: bench-push-key-$i-0123456789abcdef, period: 10s, grace: 30d } }"
  done
} > "$cfg"
"$bin" migrate --database "sqlite://$db" >/dev/null

now_ms=$(( $(date +%s) * 1000 ))
start_ms=$(( now_ms - hours * 3600 * 1000 ))
t0=$(date +%s)
# The indexes of check_results are dropped while the rows go in and built after.
idx=$(sqlite3 "$db" "SELECT sql || ';' FROM sqlite_master WHERE type = 'index' AND tbl_name = 'check_results' AND sql IS NOT NULL")
sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1000000;
$(sqlite3 "$db" "SELECT 'DROP INDEX ' || name || ';' FROM sqlite_master WHERE type = 'index' AND tbl_name = 'check_results' AND sql IS NOT NULL")
WITH RECURSIVE t(at) AS (SELECT $start_ms UNION ALL SELECT at + 10000 FROM t WHERE at + 10000 < $now_ms),
     m(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM m WHERE i < $n)
INSERT INTO check_results (monitor_id, at, ok, latency_ms, status_code, failure, location, down_ms)
SELECT 'm' || m.i, t.at + (m.i % 10000), (abs(random()) % 1000) <> 0, 20 + abs(random()) % 300, NULL,
       NULL, NULL, 0
FROM t, m;
$idx
WITH RECURSIVE m(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM m WHERE i < $n)
INSERT INTO monitor_events (source, at, from_status, to_status, reason)
SELECT 'm' || i, $start_ms, 'pending', 'up', 'first result' FROM m;
SQL
rows=$(sqlite3 "$db" "SELECT max(id) FROM check_results")
echo "generated $rows results for $n monitors over $hours h in $(( $(date +%s) - t0 )) s; database $(( $(stat -c %s "$db") / 1024 / 1024 )) MiB"

"$bin" serve --config "$cfg" --listen 127.0.0.1:$port --database "sqlite://$db" >/dev/null 2>>"$dir/log" &
pid=$!
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 200 ]; do sleep 0.2; done
printf '%s\n' 'bench password 123' | "$bin" user create --email bench@example.com --role admin \
  --password-stdin --database "sqlite://$db" >/dev/null
jar="$dir/cookies"
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -H "Origin: http://127.0.0.1:$port" \
  --data-urlencode email=bench@example.com --data-urlencode 'password=bench password 123' \
  "http://127.0.0.1:$port/admin/login")
[ "$code" = 303 ] || { echo "sign-in answered $code"; exit 1; }

time_page() {
  local path=$1 out="$dir/times"
  : > "$out"
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" "http://127.0.0.1:$port$path")
  [ "$status" = 200 ] || { echo "$path answered $status"; return; }
  for _ in $(seq 1 "$requests"); do
    curl -s -o /dev/null -w '%{time_total}\n' -b "$jar" "http://127.0.0.1:$port$path" >> "$out"
  done
  sort -n "$out" | awk -v p="$path" '{ t[NR] = $1 * 1000 } END {
    i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1;
    printf "%-48s p50 %7.1f ms  p99 %7.1f ms  (%d requests)\n", p, t[i50], t[i99], NR }'
}
month=$(date +%Y-%m)
for path in /admin /admin/monitors "/admin/monitors?q=m99&sort=state" \
  "/admin/monitors?sort=component&after=c50%2Fm5049" /admin/monitors/m$(( n / 2 )) \
  /admin/alerts /admin/deliveries "/admin/maintenance?month=$month"; do
  time_page "$path"
done
echo "load $(cut -d' ' -f1 /proc/loadavg), $(nproc) cores"
