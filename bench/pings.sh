#!/usr/bin/env bash
# Heartbeat ingestion and monitoring storage cost, on SQLite (docs/decisions.md#quality-targets).
#
#   bench/pings.sh ingest [path/to/upkeep] [seconds] [connections]
#       `upkeep serve` (release build) with four push keys and rate limiting off (server.rate_limit and
#       server.ping_rate_limit at 0), loaded with
#       `wrk -t2 -cN --latency` sending GET /ping/bench-a (ROTATE=1: all four keys in rotation,
#       through a wrk Lua script). KEYS=N: N push monitors (bench-1 .. bench-N) and requests
#       spread over all N keys in turn (a wrk Lua script whose requests are precomputed).
#       DB=postgres: on PostgreSQL instead (PG_URL, default
#       postgres://postgres@127.0.0.1:5432/test; a fresh database is created next to it and
#       dropped afterwards). Reports wrk's figures,
#       the pings the server acknowledged (its own 2xx count for the ping routes, from
#       /metrics), then kills the server with SIGKILL and counts the rows in the database (both
#       ping tables: the inbox and the moved pings):
#       durable == acknowledged is the check. (wrk's own count can be a few lower: requests in
#       flight when it stops are answered by the server but not counted by wrk.)
#   bench/pings.sh instructions [path/to/upkeep]
#       Instructions the server executes per acknowledged ping, under valgrind's callgrind
#       (counts, not seconds: the same on a loaded machine): `GET /ping/bench-a` 1,000 times
#       over one keep-alive connection (bench/get.py), one at a time, so each ping is a batch
#       of its own; the fewest of three runs, less the server's idle instructions over the
#       same time.
#   bench/pings.sh storage
#       Bytes per raw check result and per monitor-year of rollups, from the real migrations:
#       rows inserted with sqlite3 into an empty database, file sizes compared after VACUUM.
#
# Needs: wrk (apt-get install -y wrk), sqlite3, curl (psql for DB=postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-ingest}
bin=${2:-target/release/upkeep}
seconds=${3:-15}
conns=${4:-64}
dir=$(mktemp -d)
pid=
pg_db=
pg_url=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  [ -n "$pid" ] && wait "$pid" 2>/dev/null
  [ -n "$pg_db" ] && psql -q "$pg_url" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
  if [ -n "${KEEP:-}" ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

migrate_sqlite() {
  cat crates/upkeep-store/migrations/sqlite/*.sql | sqlite3 "$1"
}

size_after_vacuum() {
  sqlite3 "$1" 'VACUUM;'
  stat -c %s "$1"
}

storage() {
  local db=$dir/size.db base n
  migrate_sqlite "$db"
  base=$(size_after_vacuum "$db")

  # Raw results: one monitor every 30 s, mostly successes, as the scheduler writes them.
  n=1000000
  sqlite3 "$db" "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < $n - 1)
    INSERT INTO check_results (monitor_id, at, ok, latency_ms, status_code, failure, location, down_ms)
    SELECT 'api-health', 1772323200000 + n * 30000, n % 100 != 0, 40 + n % 400,
           CASE WHEN n % 100 != 0 THEN 200 ELSE 503 END,
           CASE WHEN n % 100 != 0 THEN NULL ELSE 'status 503' END, NULL,
           CASE WHEN n % 100 != 0 THEN 0 ELSE 30000 END FROM i;"
  local raw
  raw=$(size_after_vacuum "$db")
  echo "raw results:        $(( (raw - base) / n )) bytes per result ($n results, $(( (raw - base) / 1048576 )) MiB, table + 2 indexes)"
  sqlite3 "$db" 'DELETE FROM check_results;'
  base=$(size_after_vacuum "$db")

  # One monitor-year of rollups at a 30 s interval: 525,600 minute, 8,760 hour, 365 day buckets.
  sqlite3 "$db" "WITH RECURSIVE r(res, count) AS (VALUES (60000, 525600), (3600000, 8760), (86400000, 365)),
    i(res, n, count) AS (SELECT res, 0, count FROM r UNION ALL SELECT res, n + 1, count FROM i WHERE n < count - 1)
    INSERT INTO check_rollups (monitor_id, resolution, bucket, checks, failures, latency_sum_ms, latency_max_ms, down_ms)
    SELECT 'api-health', res, 1767225600000 + n * res, 2 * res / 60000, 0, 2 * res / 60000 * 120, 380, 0 FROM i;"
  local minute hour
  minute=$(sqlite3 "$db" 'SELECT COUNT(*) FROM check_rollups WHERE resolution = 60000')
  hour=$(sqlite3 "$db" 'SELECT COUNT(*) FROM check_rollups WHERE resolution > 60000')
  local all
  all=$(size_after_vacuum "$db")
  sqlite3 "$db" 'DELETE FROM check_rollups WHERE resolution = 60000;'
  local coarse
  coarse=$(size_after_vacuum "$db")
  echo "rollups, one monitor-year: $(( (all - base) / 1024 )) KiB all resolutions ($minute minute + $hour hour/day rows, $(( (all - base) / (minute + hour) )) bytes a row)"
  echo "                           $(( (coarse - base) / 1024 )) KiB hour and day rollups alone"
}

ingest() {
  local port=18182
  if curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
    echo "port $port is taken by another server; stop it first" >&2
    exit 1
  fi
  local keys=${KEYS:-}
  cat >"$dir/bench.yaml" <<'EOF'
page: { name: Ping bench, url: "http://127.0.0.1:18182", timezone: UTC }
server:
  rate_limit: { per_second: 0 }
  ping_rate_limit: { per_second: 0 }
  max_connections: 4096
  max_connections_per_client: 0
components:
  jobs: { name: Jobs }
monitors:
  bench-a: { component: jobs, push: { key: bench-a, period: 1h, grace: 1h } }
  bench-b: { component: jobs, push: { key: bench-b, period: 1h, grace: 1h } }
  bench-c: { component: jobs, push: { key: bench-c, period: 1h, grace: 1h } }
  bench-d: { component: jobs, push: { key: bench-d, period: 1h, grace: 1h } }
EOF
  if [ -n "$keys" ]; then
    # N more push monitors, and a script that sends each connection's requests to the keys in
    # turn (each wrk thread starts at a different key). The requests are built once, in init.
    for i in $(seq 1 "$keys"); do
      echo "  bench-$i: { component: jobs, push: { key: bench-$i, period: 1h, grace: 1h } }"
    done >>"$dir/bench.yaml"
    cat >"$dir/keys.lua" <<EOF
local count = $keys
local reqs = {}
local n = 0
init = function(args)
  for i = 1, count do reqs[i] = wrk.format("GET", "/ping/bench-" .. i) end
  n = math.random(count)
end
request = function()
  n = n % count + 1
  return reqs[n]
end
EOF
  fi
  local database
  if [ "${DB:-sqlite}" = postgres ]; then
    pg_db=upkeep_pings_bench_$$
    psql -q "$pg_url" -c "CREATE DATABASE $pg_db" >/dev/null
    database=${pg_url%/*}/$pg_db
  else
    database=sqlite://$dir/upkeep.db
  fi
  cat >"$dir/pings.lua" <<'EOF'
local keys = { "bench-a", "bench-b", "bench-c", "bench-d" }
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/ping/" .. keys[n % 4 + 1])
end
EOF
  "$bin" serve --listen 127.0.0.1:$port --database "$database" \
    --config "$dir/bench.yaml" >/dev/null 2>"$dir/log" &
  pid=$!
  # Ready within 60 s, or the server's log says why not.
  waited=0
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$waited" -ge 6000 ]; then
      echo "pings: the server did not become ready in 60 s; its log:" >&2
      tail -n 40 "$dir/log" >&2
      kill -9 "$pid" 2>/dev/null
      exit 1
    fi
    sleep 0.01
    waited=$((waited + 1))
  done

  echo "$(wrk --version 2>&1 | head -1)"
  echo "database: ${DB:-sqlite}; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ -n "$keys" ]; then
    echo "wrk -t2 -c$conns -d${seconds}s --latency -s keys.lua http://127.0.0.1:$port   # $keys keys"
    wrk -t2 -c"$conns" -d"${seconds}s" --latency -s "$dir/keys.lua" "http://127.0.0.1:$port" | tee "$dir/wrk.txt"
  elif [ -n "${ROTATE:-}" ]; then
    # Four keys in rotation (a Lua request() per request costs wrk CPU the server then lacks).
    echo "wrk -t2 -c$conns -d${seconds}s --latency -s pings.lua http://127.0.0.1:$port"
    wrk -t2 -c"$conns" -d"${seconds}s" --latency -s "$dir/pings.lua" "http://127.0.0.1:$port" | tee "$dir/wrk.txt"
  else
    echo "wrk -t2 -c$conns -d${seconds}s --latency http://127.0.0.1:$port/ping/bench-a"
    wrk -t2 -c"$conns" -d"${seconds}s" --latency "http://127.0.0.1:$port/ping/bench-a" | tee "$dir/wrk.txt"
  fi

  local acked committed rows inbox wrk_ok
  sleep 1   # requests wrk abandoned at its deadline are still committed and answered
  acked=$(curl -fs "http://127.0.0.1:$port/metrics" |
    awk '/^upkeep_http_requests_total\{/ && /route="\/ping\// && /status="2xx"/ { s += $NF } END { printf "%d", s }')
  committed=$(curl -fs "http://127.0.0.1:$port/metrics" |
    awk '/^upkeep_ping_batch_size_sum/ { printf "%d", $NF }')
  curl -fs "http://127.0.0.1:$port/metrics" |
    grep -E '^upkeep_ping_(batch_size|commit_seconds|move_size|move_seconds)_(sum|count)' || true
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  if [ -n "$pg_db" ]; then
    rows=$(psql -qtA "$database" -c 'SELECT (SELECT COUNT(*) FROM pings) + (SELECT COUNT(*) FROM pings_inbox)')
    inbox=$(psql -qtA "$database" -c 'SELECT COUNT(*) FROM pings_inbox')
  else
    rows=$(sqlite3 "$dir/upkeep.db" 'SELECT (SELECT COUNT(*) FROM pings) + (SELECT COUNT(*) FROM pings_inbox)')
    inbox=$(sqlite3 "$dir/upkeep.db" 'SELECT COUNT(*) FROM pings_inbox')
  fi
  if [ -n "$keys" ]; then
    local used
    if [ -n "$pg_db" ]; then
      used=$(psql -qtA "$database" -c 'SELECT COUNT(DISTINCT key) FROM (SELECT key FROM pings UNION ALL SELECT key FROM pings_inbox) AS p')
    else
      used=$(sqlite3 "$dir/upkeep.db" 'SELECT COUNT(DISTINCT key) FROM (SELECT key FROM pings UNION ALL SELECT key FROM pings_inbox) AS p')
    fi
    echo "distinct keys in the database:         $used"
  fi
  wrk_ok=$(awk '/requests in/ { n = $1 } /Non-2xx/ { bad = $NF } END { printf "%d", n - bad }' "$dir/wrk.txt")
  echo "200 responses counted by wrk:          $wrk_ok"
  echo "200 responses sent by the server:      $acked"
  echo "pings committed (writer):              $committed"
  echo "rows in the database after kill -9:    $rows ($inbox of them in the inbox, not yet moved)"
  # Every acknowledged ping is stored, and nothing committed is lost. The server may have
  # committed a few more than it could answer: requests wrk abandoned at its deadline.
  if [ "$rows" = "$committed" ] && [ "$acked" -le "$rows" ] && [ "$wrk_ok" -le "$acked" ] &&
     [ $(( rows - acked )) -le "$conns" ]; then
    echo "durable: every acknowledged ping is in the database ($(( rows - acked )) more were committed for requests wrk abandoned when it stopped)"
  else
    echo "MISMATCH" >&2
    exit 1
  fi
}

instructions() {
  local port=18182 out=$dir/callgrind n=1000 trial t0 t1 total best= idle=
  mkdir -p "$out"
  cat >"$dir/bench.yaml" <<'EOF'
page: { name: Ping bench, url: "http://127.0.0.1:18182", timezone: UTC }
server:
  rate_limit: { per_second: 0 }
  ping_rate_limit: { per_second: 0 }
components:
  jobs: { name: Jobs }
monitors:
  bench-a: { component: jobs, push: { key: bench-a, period: 1h, grace: 1h } }
EOF
  valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out.%p" --dump-instr=no \
    "$bin" serve --config "$dir/bench.yaml" --listen 127.0.0.1:$port \
    --database "sqlite://$dir/upkeep.db" >/dev/null 2>"$dir/log" &
  pid=$!
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.2; done
  python3 bench/get.py "$port" /ping/bench-a 200
  last_total() { awk '/^summary:|^totals:/ {print $2; exit}' "$(ls -t "$out"/callgrind.out.* | head -1)"; }
  # The idle rate: the fewest instructions of three quiet seconds.
  for trial in 1 2 3; do
    callgrind_control -z "$pid" >/dev/null 2>&1
    sleep 1
    callgrind_control -d "$pid" >/dev/null 2>&1
    total=$(last_total)
    idle=$(awk -v i="$idle" -v t="$total" 'BEGIN {print (i == "" || t < i) ? t : i}')
  done
  for trial in 1 2 3; do
    callgrind_control -z "$pid" >/dev/null 2>&1
    t0=$(date +%s.%N)
    python3 bench/get.py "$port" /ping/bench-a "$n"
    t1=$(date +%s.%N)
    callgrind_control -d "$pid" >/dev/null 2>&1
    total=$(last_total)
    best=$(awk -v r="$best" -v b="$total" -v i="$idle" -v a="$t0" -v z="$t1" -v n="$n" \
      'BEGIN {x = (b - i * (z - a)) / n; print (r == "" || x < r) ? x : r}')
  done
  echo "idle: $idle instructions/s"
  printf 'instructions per ping (GET /ping/bench-a, one at a time): %.0f\n' "$best"
}

case $mode in
  ingest) ingest ;;
  instructions) instructions ;;
  storage) storage ;;
  *) echo "usage: $0 ingest|instructions|storage [upkeep binary] [seconds] [connections]" >&2; exit 2 ;;
esac
