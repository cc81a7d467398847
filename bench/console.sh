#!/usr/bin/env bash
# Server time of every console page over a large fleet (target: p99 under 200 ms each).
#
# One command: builds the release binary (unless UPKEEP_BIN names one), seeds a fresh SQLite
# database straight with sqlite3 (the schema `upkeep migrate` makes), starts `upkeep serve` on
# it with MONITORS HTTP monitors probed every 10 s (against a second upkeep on loopback; 5 % of
# them answer 404 and go down, so alerts fire), waits for the first probe cycle, creates an
# admin, signs in through the real form, and times REQUESTS sequential requests of each page
# (first and later pages of the long lists) on one kept-alive connection, accepting br and gzip
# as a browser does (curl's time to the first byte: the server's time, compression included;
# and the total), printing p50, p99 and the page's size (identity and br).
#
# What is seeded (see BENCHMARKS.md, "Console pages"):
#   - 200 components, MONITORS monitors spread evenly over them, their states;
#   - HOURS of raw results every 10 s for every monitor (8,640 a day each), 0.1 % failed;
#   - rollups: per minute over those HOURS, per hour over HOURLY_DAYS, per day over DAILY_DAYS;
#   - 10 state changes per monitor over DAILY_DAYS;
#   - a year of incidents (3,000, 3 updates and 2 components each, 3 still open), a year of
#     maintenance (500 past, 40 ahead), 300,000 deliveries over 30 days (6,000 failed) from
#     3,000 notices, 50,000 subscribers, 200 users, 100 API tokens, 200,000 audit entries.
#
# Usage: bench/console.sh [MONITORS] [HOURS] [REQUESTS]     (defaults 10000, 6 and 200)
# Environment: HOURLY_DAYS (30), DAILY_DAYS (90), PROBE=0 (push monitors, nothing probed),
#   KEEP=1 (keep the directory), DB_DIR (seed there instead of a temporary directory),
#   REUSE=1 (with DB_DIR: reuse a database seeded before), SEED_ONLY=1 (seed and stop),
#   UPKEEP_BIN, PAGES (paths to time, space-separated, instead of the list below).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
n=${1:-10000}
hours=${2:-6}
requests=${3:-200}
hourly_days=${HOURLY_DAYS:-30}
daily_days=${DAILY_DAYS:-90}
probe=${PROBE:-1}
port=18390
target_port=18391
bin=${UPKEEP_BIN:-target/release/upkeep}
[ -n "${UPKEEP_BIN:-}" ] || cargo build --release -p upkeep
dir=${DB_DIR:-$(mktemp -d)}
mkdir -p "$dir"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}${DB_DIR:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
db="$dir/upkeep.db"
cfg="$dir/upkeep.yaml"
components=200

{
  echo 'page: { name: Bench, url: "http://127.0.0.1:'$port'", timezone: Europe/Rome }'
  echo 'server: { rate_limit: { per_second: 0 } }'
  echo 'components:'
  for c in $(seq 1 $components); do
    echo "  c$c: { name: Component $c, group: Group $(( (c - 1) / 20 + 1 )) }"
  done
  echo 'monitors:'
  for i in $(seq 1 "$n"); do
    c=$(( (i - 1) % components + 1 ))
    if [ "$probe" = 1 ]; then
      path=healthz
      [ $(( i % 20 )) -eq 0 ] && path=missing
      echo "  m$i: { component: c$c, http: { url: \"http://127.0.0.1:$target_port/$path\" }, interval: 10s, timeout: 5s, conditions: [\"[STATUS] == 200\"] }"
    else
      echo "  m$i: { component: c$c, push: { key: bench-push-key-$i-0123456789abcdef, period: 10s, grace: 30d } }"
    fi
  done
} > "$cfg"

now_ms=$(( $(date +%s) * 1000 ))
if [ -z "${REUSE:-}" ] || [ ! -s "$db" ]; then
  rm -f "$db" "$db-wal" "$db-shm"
  "$bin" migrate --database "sqlite://$db" >/dev/null
  t0=$(date +%s)
  minute=60000 hour=3600000 day=86400000
  start_ms=$(( now_ms - hours * hour ))
  hour_from=$(( (now_ms - hourly_days * day) / hour * hour ))
  day_from=$(( (now_ms - daily_days * day) / day * day ))
  minute_from=$(( start_ms / minute * minute ))
  year_ms=$(( 365 * day ))
  # The indexes of the large tables are dropped while their rows go in and built after, as a
  # restore would.
  big="'check_results', 'monitor_events', 'deliveries', 'audit_log'"
  idx=$(sqlite3 "$db" "SELECT sql || ';' FROM sqlite_master WHERE type = 'index' AND tbl_name IN ($big) AND sql IS NOT NULL")
  drop=$(sqlite3 "$db" "SELECT 'DROP INDEX ' || name || ';' FROM sqlite_master WHERE type = 'index' AND tbl_name IN ($big) AND sql IS NOT NULL")
  sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -2000000;
$drop
CREATE TEMP TABLE mon AS
  WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $n)
  SELECT i, 'm' || i AS id, 'c' || ((i - 1) % $components + 1) AS component FROM k ORDER BY id;

-- Raw results, every 10 s, oldest first as the prober writes them.
WITH RECURSIVE t(at) AS (SELECT $start_ms UNION ALL SELECT at + 10000 FROM t WHERE at + 10000 < $now_ms)
INSERT INTO check_results (monitor_id, at, ok, latency_ms, status_code, failure, location, down_ms)
SELECT mon.id, t.at + mon.i % 10000, (t.at / 10000 * 7919 + mon.i * 104729) % 1000 <> 0,
       20 + abs(random()) % 300,
       CASE WHEN (t.at / 10000 * 7919 + mon.i * 104729) % 1000 <> 0 THEN 200 ELSE 503 END,
       CASE WHEN (t.at / 10000 * 7919 + mon.i * 104729) % 1000 <> 0 THEN NULL
            ELSE '[STATUS] (503) == 200' END, NULL, 0
FROM t CROSS JOIN mon;

-- Rollups in key order.
WITH RECURSIVE b(at) AS (SELECT $minute_from UNION ALL SELECT at + $minute FROM b WHERE at + $minute < $now_ms)
INSERT INTO check_rollups
SELECT mon.id, $minute, b.at, 6, abs(random()) % 1000 = 0, 6 * (20 + abs(random()) % 300), 320, 0
FROM mon CROSS JOIN b;
WITH RECURSIVE b(at) AS (SELECT $hour_from UNION ALL SELECT at + $hour FROM b WHERE at + $hour < $now_ms)
INSERT INTO check_rollups
SELECT mon.id, $hour, b.at, 360, abs(random()) % 3 = 0, 360 * (20 + abs(random()) % 300), 320, 0
FROM mon CROSS JOIN b;
WITH RECURSIVE b(at) AS (SELECT $day_from UNION ALL SELECT at + $day FROM b WHERE at + $day < $now_ms)
INSERT INTO check_rollups
SELECT mon.id, $day, b.at, 8640, abs(random()) % 10, 8640 * (20 + abs(random()) % 300), 320, 0
FROM mon CROSS JOIN b;

INSERT INTO monitor_states (monitor_id, status, consecutive_failures, consecutive_successes,
                            changed_at, last_check_at, paused)
SELECT id, 'up', 0, 100, $now_ms - $daily_days * $day / 10, $now_ms, 0 FROM mon;
WITH RECURSIVE e(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM e WHERE k < 9)
INSERT INTO monitor_events (source, at, from_status, to_status, reason)
SELECT mon.id, $now_ms - $daily_days * $day + (e.k * $daily_days * $day / 10) + mon.i * 1000,
       CASE WHEN e.k = 0 THEN 'pending' WHEN e.k % 2 = 1 THEN 'up' ELSE 'down' END,
       CASE WHEN e.k % 2 = 1 THEN 'down' ELSE 'up' END,
       CASE WHEN e.k % 2 = 1 THEN '3 consecutive failures: [STATUS] (503) == 200' ELSE 'recovered' END
FROM e CROSS JOIN mon ORDER BY 2;

-- A year of incidents: one every ~3 hours, the last three still open.
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 3000)
INSERT INTO incidents (id, name, status, impact, created_at, updated_at, started_at, resolved_at,
                       postmortem, auto, created_by)
SELECT printf('i%011d', i), 'Elevated error rates on Component ' || (i % $components + 1),
       CASE WHEN i > 2997 THEN 'investigating' ELSE 'resolved' END,
       CASE i % 4 WHEN 0 THEN 'none' WHEN 1 THEN 'minor' WHEN 2 THEN 'major' ELSE 'critical' END,
       $now_ms - $year_ms + i * ($year_ms / 3000), $now_ms - $year_ms + i * ($year_ms / 3000) + 3600000,
       $now_ms - $year_ms + i * ($year_ms / 3000),
       CASE WHEN i > 2997 THEN NULL ELSE $now_ms - $year_ms + i * ($year_ms / 3000) + 3600000 END,
       NULL, i % 2, 'user:bench'
FROM k;
WITH RECURSIVE u(s) AS (SELECT 1 UNION ALL SELECT s + 1 FROM u WHERE s < 3)
INSERT INTO incident_updates (id, incident_id, seq, status, body, affected_components, created_at, created_by)
SELECT printf('u%011d', substr(i.id, 2) * 3 + s), i.id, s,
       CASE s WHEN 1 THEN 'investigating' WHEN 2 THEN 'identified' ELSE i.status END,
       'We are looking into elevated error rates. Requests to the affected component may fail or time out; a fix is being rolled out.',
       '[{"id":"c' || (substr(i.id, 2) % $components + 1) || '","status":"partial_outage"}]',
       i.created_at + (s - 1) * 1200000, 'user:bench'
FROM incidents i CROSS JOIN u;
INSERT INTO incident_components (incident_id, component_id, status, position)
SELECT id, 'c' || (substr(id, 2) % $components + 1), 'partial_outage', 0 FROM incidents
UNION ALL
SELECT id, 'c' || ((substr(id, 2) + 7) % $components + 1), 'degraded_performance', 1 FROM incidents;

-- A year of maintenance: 500 completed, 40 ahead.
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 540)
INSERT INTO maintenances (id, kind, title, description, reason, starts_at, ends_at, status,
                          components, tenants, checks, counts_as_downtime, notify_subscribers,
                          scheduled_at, created_at, updated_at, created_by)
SELECT printf('w%011d', i), 'planned', 'Database upgrade ' || i, 'Rolling upgrade, one replica at a time.', NULL,
       $now_ms - $year_ms + i * ($year_ms / 500), $now_ms - $year_ms + i * ($year_ms / 500) + 7200000,
       CASE WHEN i > 500 THEN 'scheduled' ELSE 'completed' END,
       '["c' || (i % $components + 1) || '","c' || ((i + 1) % $components + 1) || '"]', '"all"', 'run', 0, 0,
       $now_ms - $year_ms + i * ($year_ms / 500) - 20 * $day, $now_ms - $year_ms + i * ($year_ms / 500) - 20 * $day,
       $now_ms - $year_ms + i * ($year_ms / 500), 'user:bench'
FROM k;
INSERT INTO maintenance_updates (id, maintenance_id, seq, status, body, created_at, created_by)
SELECT 'v' || substr(id, 2), id, 1, 'scheduled', 'Scheduled.', created_at, 'user:bench' FROM maintenances;

-- Notices and their deliveries over 30 days: 100 a notice, 2 % failed.
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 3000)
INSERT INTO notices (id, dedup_key, audience, payload, created_at, fanned_out_at)
SELECT i, 'bench:' || i, 'customers', '{"kind":"incident"}', $now_ms - 30 * $day + i * 864000,
       $now_ms - 30 * $day + i * 864000 FROM k;
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 300000)
INSERT INTO deliveries (seq, id, notice_id, event, recipient, channel, destination, order_key,
                        subject, content, state, attempts, next_attempt_at, last_error,
                        created_at, sent_at)
SELECT i, printf('d%011d', i), (i - 1) / 100 + 1, 'incident.updated', 'subscriber:s' || (i % 50000),
       CASE WHEN i % 3 = 0 THEN 'webhook' ELSE 'email' END,
       CASE WHEN i % 3 = 0 THEN 'https://hooks.example.com/s' || (i % 50000) ELSE 'person' || (i % 50000) || '@example.com' END,
       'subscriber:s' || (i % 50000),
       'incident/i' || printf('%011d', 2000 + (i - 1) / 300),
       '{"subject":"Elevated error rates","text":"We are looking into elevated error rates."}',
       CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'sent' END, CASE WHEN i % 50 = 0 THEN 8 ELSE 1 END,
       $now_ms - 30 * $day + i * 8640,
       CASE WHEN i % 50 = 0 THEN 'connection refused (os error 111)' END,
       $now_ms - 30 * $day + i * 8640,
       CASE WHEN i % 50 = 0 THEN NULL ELSE $now_ms - 30 * $day + i * 8640 + 2000 END
FROM k;

WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 49999)
INSERT INTO subscribers (id, kind, address, secret, components, tenant, confirmed_at, created_at)
SELECT 's' || i, CASE WHEN i % 3 = 0 THEN 'webhook' ELSE 'email' END,
       CASE WHEN i % 3 = 0 THEN 'https://hooks.example.com/s' || i ELSE 'person' || i || '@example.com' END,
       CASE WHEN i % 3 = 0 THEN 'whsec-' || i END,
       CASE WHEN i % 4 = 0 THEN '[]' ELSE '["c' || (i % $components + 1) || '"]' END, NULL,
       $now_ms - $year_ms + i * 600000, $now_ms - $year_ms + i * 600000
FROM k;

WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 200)
INSERT INTO users (id, email, display_name, role, password_hash, disabled_at, created_at, created_by,
                   updated_at, password_changed_at)
SELECT printf('b%011d', i), 'operator' || i || '@example.com', 'Operator ' || i,
       CASE i % 3 WHEN 0 THEN 'admin' WHEN 1 THEN 'editor' ELSE 'viewer' END,
       '\$argon2id\$v=19\$m=19456,t=2,p=1\$c2FsdHNhbHRzYWx0c2FsdA\$LlqOiFyJYxJIPQfMSwJ9b5vJkUQ4yyZ6tPzKNQrVxG0',
       CASE WHEN i % 25 = 0 THEN $now_ms END, $now_ms - $year_ms, 'cli', $now_ms - $year_ms, $now_ms - $year_ms
FROM k;
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 100)
INSERT INTO api_tokens (id, name, role, secret_sha256, created_at, created_by, last_used_at, revoked_at)
SELECT printf('t%011d', i), 'deploy pipeline ' || i, CASE i % 3 WHEN 0 THEN 'admin' WHEN 1 THEN 'editor' ELSE 'viewer' END,
       printf('%064d', i), $now_ms - $year_ms, 'cli', $now_ms - i * 60000,
       CASE WHEN i % 10 = 0 THEN $now_ms - $day END
FROM k;
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 200000)
INSERT INTO audit_log (id, at, actor, action, target, before, after)
SELECT i, $now_ms - $year_ms + i * ($year_ms / 200000), 'user:operator' || (i % 200) || '@example.com',
       CASE i % 4 WHEN 0 THEN 'incident.update' WHEN 1 THEN 'monitor.pause' WHEN 2 THEN 'monitor.resume' ELSE 'maintenance.schedule' END,
       'monitor:m' || (i % $n + 1), '{"paused":false}', '{"paused":true}'
FROM k;
$idx
ANALYZE;
SQL
  rows=$(sqlite3 "$db" "SELECT max(id) FROM check_results")
  rollups=$(sqlite3 "$db" "SELECT count(*) FROM check_rollups")
  echo "seeded $rows results and $rollups rollups for $n monitors ($hours h raw, $hourly_days d hourly, $daily_days d daily) in $(( $(date +%s) - t0 )) s; database $(( $(stat -c %s "$db") / 1024 / 1024 )) MiB"
fi

[ -z "${SEED_ONLY:-}" ] || exit 0
if [ "$probe" = 1 ]; then
  start_probe_target "$target_port"
  until curl -fs "http://127.0.0.1:$target_port/healthz" >/dev/null; do sleep 0.1; done
fi
"$bin" serve --config "$cfg" --listen 127.0.0.1:$port --database "sqlite://$db" >/dev/null 2>>"$dir/log" &
pid=$!
pids+=($pid)
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; do
  kill -0 "$pid" 2>/dev/null || { echo "upkeep serve stopped:"; tail -5 "$dir/log"; exit 1; }
  sleep 0.2
done
# The first probe cycle (and the first failures judged) and the start-up passes run before
# anything is measured.
sleep "${SETTLE:-$([ "$probe" = 1 ] && echo 40 || echo 10)}"
printf '%s\n' 'bench password 123' | "$bin" user create --email bench@example.com --role admin \
  --password-stdin --database "sqlite://$db" >/dev/null 2>&1 || true
jar="$dir/cookies"
for _ in 1 2 3 4 5; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -H "Origin: http://127.0.0.1:$port" \
    --data-urlencode email=bench@example.com --data-urlencode 'password=bench password 123' \
    "http://127.0.0.1:$port/admin/login")
  [ "$code" = 303 ] && break
  sleep 5
done
[ "$code" = 303 ] || { echo "sign-in answered $code"; exit 1; }

# time_page PATH: REQUESTS requests on one connection, each accepting br and gzip as a browser
# does; p50/p99 of the time to the first byte (the server's time, compression included) and of
# the total, and the page's size as sent plainly and with br.
time_page() {
  local path=$1 url="http://127.0.0.1:$port$1" status
  status=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" "$url")
  if [ "$status" != 200 ]; then
    printf '%-52s answered %s\n' "$path" "$status"
    return
  fi
  local plain br
  plain=$(curl -s -o /dev/null -w '%{size_download}' -b "$jar" "$url")
  br=$(curl -s -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: br, gzip' -b "$jar" "$url")
  for _ in $(seq 1 "$requests"); do
    printf 'url = "%s"\noutput = /dev/null\nheader = "Accept-Encoding: br, gzip"\n' "$url"
  done > "$dir/urls"
  curl -s -b "$jar" -K "$dir/urls" -w '%{time_starttransfer} %{time_total}\n' > "$dir/times"
  awk -v p="$path" -v plain="$plain" -v gz="$br" '{ s[NR] = $1 * 1000; t[NR] = $2 * 1000 } END {
    n = asort(s); asort(t);
    i50 = int(n * 0.50); if (i50 < 1) i50 = 1; i99 = int(n * 0.99 + 0.999); if (i99 > n) i99 = n;
    printf "%-52s p50 %6.1f ms  p99 %6.1f ms  (total p99 %6.1f)  %7.1f KiB (%5.1f KiB br)  %d requests\n",
      p, s[i50], s[i99], t[i99], plain / 1024, gz / 1024, n }' "$dir/times"
}

month=$(date +%Y-%m)
mid=m$(( n / 2 ))
# Keys of later pages, deep in each list: what "Next page" would carry there.
incident_key=$(sqlite3 "$db" "SELECT created_at || '%2F' || id FROM incidents
  ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET 1499")
delivery_key=$(sqlite3 "$db" "SELECT id FROM deliveries WHERE state = 'failed'
  ORDER BY seq DESC LIMIT 1 OFFSET 2999")
user_key=$(sqlite3 "$db" "SELECT replace(email, '@', '%40') FROM users ORDER BY email LIMIT 1 OFFSET 99")
default_pages="/admin /admin/monitors /admin/monitors?q=m99 /admin/monitors?state=down
/admin/monitors?sort=state /admin/monitors?q=component+1&state=up&sort=component
/admin/monitors?sort=component&after=c50%2Fm5049 /admin/monitors?after=%2Fm7000
/admin/monitors/$mid /admin/incidents /admin/incidents?before=$incident_key
/admin/incidents/i00000002999 /admin/maintenance /admin/maintenance?month=$month /admin/alerts
/admin/deliveries /admin/deliveries?before=$delivery_key /admin/inventory /admin/users
/admin/users?users_after=$user_key /admin/account /admin/subscribers /admin/backups
/admin/audit /admin/reports /admin/config"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
for path in ${PAGES:-$default_pages}; do
  time_page "$path"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); firing alerts: $(sqlite3 "$db" "SELECT count(*) FROM alert_states WHERE firing")"
