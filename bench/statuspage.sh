#!/usr/bin/env bash
# The public status page under load, against nginx serving the same bytes in the same run.
#
# Two pages: "small" (3 components, 3 monitors) and "large" (200 components in 10 groups, one
# monitor each, with 90 days of day rollups so every bar is drawn). For each page upkeep runs
# twice, with the per-client rate limit on (a quota of 1,000,000 requests/s, so it refuses
# nothing yet does its work on every request) and off. Each run: `wrk -t2 -c64 -d10s --latency`
# on `/` and `/api/v2/summary.json`, without `Accept-Encoding` (identity bodies) and with
# `Accept-Encoding: br` (what browsers get), against upkeep and against nginx right after it.
# nginx serves the bytes upkeep served: the identity bodies as files, and the brotli bodies as
# files on a second port with `Content-Encoding: br`.
# Targets: upkeep >= 1.0 x nginx's requests per second, p99 < 5 ms.
#
# Before the wrk runs, with valgrind present (INSTRUCTIONS=0 skips it), each page's upkeep runs
# under callgrind and the instructions it executes per request are counted for the same
# routes and encodings (N=1000 requests over one connection, less the same time idle); the
# large page's monitors are then push monitors nobody pings, so no result rebuilds its
# snapshot during the count (a rebuild of the 1.9 MB page under callgrind takes seconds).
# PROBING=1 adds the earlier phase: the small page while the same process checks 1,000 HTTP
# monitors at 10 s (~100 probes/s) against a second upkeep serving /healthz.
#
# Each run also records the share of CPU time stolen by the hypervisor (/proc/stat), upkeep's
# snapshot builds in it (count and seconds, from /metrics) and, on stderr, the CPU seconds of
# upkeep's busiest threads: what else took the machine while wrk ran.
# Before each wrk run the 1-minute load is read from /proc/loadavg; above LOAD_MAX (default
# 1.0) the script waits, polling up to LOAD_WAIT seconds (default 180), and records the load the
# run started under either way.
# Usage: bench/statuspage.sh [ROUNDS]    (default 1)
# DURATION (default 10s) shortens the wrk runs for a smoke test; PAGES (default "small large")
# and LIMITS (default "on off") choose the phases.
# SETTLE (default 5) is the seconds upkeep runs under callgrind before its idle rate is
# sampled (the large page's start-up work takes longer under callgrind).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:-1}
load_max=${LOAD_MAX:-1.0}
load_wait=${LOAD_WAIT:-180}
wrk_args=(-t2 -c64 -d"${DURATION:-10s}" --latency)
bin=${BIN:-target/release/upkeep}
nginx=${NGINX:-/usr/sbin/nginx}
pages=${PAGES-small large}
limits=${LIMITS-on off}
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
target_port=18382
port=18383
nginx_port=18384
nginx_br_port=18385
endpoints=(/ /api/v2/summary.json)

# The probe target: a second upkeep serving /healthz.
start_probe_target "$target_port"

# write_config PAGE LIMIT [EXTRA]: the configuration of PAGE (small | large) with the rate
# limit on or off, and EXTRA more HTTP monitors at 10 s.
write_config() {
  local page=$1 limit=$2 extra=${3:-0} i g
  {
    echo "page: { name: Acme Cloud, url: \"http://127.0.0.1:$port\", timezone: UTC }"
    if [ "$limit" = on ]; then
      echo "server: { rate_limit: { per_second: 1000000, burst: 1000000 }, max_connections: 8192 }"
    else
      echo "server: { rate_limit: { per_second: 0 }, max_connections: 8192 }"
    fi
    echo "components:"
    if [ "$page" = small ]; then
      for c in api web db; do echo "  $c: { name: \"${c^} service\", description: \"The $c service\" }"; done
    else
      for i in $(seq 1 200); do
        g=$(( (i - 1) / 20 + 1 ))
        echo "  c$i: { name: \"Service $i\", group: \"Region $g\", description: \"Service $i of region $g\" }"
      done
    fi
    echo "monitors:"
    if [ "$page" = small ]; then
      for c in api web db; do
        echo "  $c-health: { component: $c, http: { url: \"http://127.0.0.1:$target_port/healthz\" }, interval: 30s, timeout: 5s }"
      done
    else
      for i in $(seq 1 200); do
        if [ "${QUIET_MONITORS:-0}" = 1 ]; then
          # Push monitors nobody pings: no result changes today's bars, so the snapshot is
          # not rebuilt while instructions are counted.
          echo "  m$i: { component: c$i, push: { key: bench-key-$i, period: 1d, grace: 1h } }"
        else
          echo "  m$i: { component: c$i, http: { url: \"http://127.0.0.1:$target_port/healthz\" }, interval: 60s, timeout: 5s }"
        fi
      done
    fi
    for i in $(seq 1 "$extra"); do
      echo "  x$i: { component: api, http: { url: \"http://127.0.0.1:$target_port/healthz\" }, interval: 10s, timeout: 5s }"
    done
  } > "$dir/$page.yaml"
}

# seed_history DB: 90 days of day rollups for the large page's 200 monitors (1,440 checks a
# day; on average one day in 15 with 1–30 minutes down), so each of its bars is drawn.
seed_history() {
  python3 - "$1" <<'PY'
import random, sqlite3, sys, time
con = sqlite3.connect(sys.argv[1])
random.seed(7)
day = 86_400_000
today = int(time.time() * 1000) // day * day
rows = []
for m in range(1, 201):
    for d in range(1, 90):
        down = random.randint(1, 30) * 60_000 if random.random() < 1 / 15 else 0
        failures = down // 60_000
        rows.append((f"m{m}", day, today - d * day, 1440, failures, 1440 * 12, 80, down))
con.executemany("INSERT INTO check_rollups (monitor_id, resolution, bucket, checks, failures, "
                "latency_sum_ms, latency_max_ms, down_ms) VALUES (?,?,?,?,?,?,?,?)", rows)
con.commit()
PY
}

# start_upkeep PAGE [WRAPPER...]: upkeep on PAGE's configuration and database.
start_upkeep() {
  local page=$1
  shift
  "$@" "$bin" serve --config "$dir/$page.yaml" --listen 127.0.0.1:$port \
    --database "sqlite://$dir/$page.db" >/dev/null 2>>"$dir/log" &
  upkeep_pid=$!
  pids+=($upkeep_pid)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 200 ]; do sleep 0.1; done
}

stop_upkeep() {
  kill "$upkeep_pid"
  wait "$upkeep_pid" 2>/dev/null || true
}

# nginx: the identity bodies under $dir/www on one port, the brotli bodies under $dir/www-br
# on another with `Content-Encoding: br` (upkeep's answer to `Accept-Encoding: br`).
mkdir -p "$dir/www/api/v2" "$dir/www-br/api/v2" "$dir/nginx"
chmod 755 "$dir"   # nginx's workers run as an unprivileged user when started as root
cat > "$dir/nginx.conf" <<CONF
worker_processes auto;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 4096; }
http {
  types { text/html html; application/json json; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_temp_path $dir/nginx/body;
  proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi;
  uwsgi_temp_path $dir/nginx/uwsgi;
  scgi_temp_path $dir/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $dir/www;
    index index.html;
  }
  server {
    listen 127.0.0.1:$nginx_br_port;
    root $dir/www-br;
    index index.html;
    add_header Content-Encoding br;
    add_header Vary Accept-Encoding;
  }
}
CONF
"$nginx" -c "$dir/nginx.conf" -p "$dir/nginx" -g 'daemon off;' &
pids+=($!)

# Copies upkeep's current bytes, identity and brotli, to nginx's roots.
snapshot_bytes() {
  local ep file
  for ep in "${endpoints[@]}"; do
    file=$ep
    [ "$ep" = / ] && file=/index.html
    curl -fs "http://127.0.0.1:$port$ep" -o "$dir/www$file"
    curl -fs -H 'Accept-Encoding: br' "http://127.0.0.1:$port$ep" -o "$dir/www-br$file"
  done
}

# Latency in wrk's notation (123.45us, 1.23ms, 1.20s) to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

results="$dir/results"
: > "$results"
# run PHASE ENDPOINT ENCODING SERVER ROUND URL
run() {
  local phase=$1 endpoint=$2 enc=$3 server=$4 round=$5 url=$6 load out rps p50 p99 errs
  local headers=()
  [ "$enc" = br ] && headers=(-H 'Accept-Encoding: br')
  load=$(wait_for_quiet)
  local cpu0 cpu1 builds0 builds1 steal builds
  local threads0 threads1
  cpu0=$(head -1 /proc/stat)
  builds0=$(snapshot_builds "$server")
  threads0=$(thread_ticks "$server")
  out=$(wrk "${wrk_args[@]}" "${headers[@]}" "$url")
  cpu1=$(head -1 /proc/stat)
  threads1=$(thread_ticks "$server")
  builds1=$(snapshot_builds "$server")
  # The share of the machine's CPU time the hypervisor gave to others during the run, and the
  # snapshot builds (count, seconds) upkeep ran in it.
  steal=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); t = 0
    for (i = 2; i <= n; i++) t += y[i] - x[i]
    printf "%.1f", (t > 0 ? 100 * (y[9] - x[9]) / t : 0) }')
  builds=$(awk -v a="$builds0" -v b="$builds1" 'BEGIN {
    if (a == "") { print "-"; exit }
    split(a, x, " "); split(b, y, " "); printf "%d in %.2fs", y[1] - x[1], y[2] - x[2] }')
  rps=$(echo "$out" | awk '/^Requests\/sec:/ {printf "%.0f", $2}')
  p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
  errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s ", $0}')
  echo "$phase|$endpoint|$enc|$server|$round|$load|$rps|$p50|$p99|${errs:-none}|$steal|$builds" >> "$results"
  printf '  %-14s %-22s %-8s %-7s round %s  load %-5s %8s req/s  p50 %6s ms  p99 %6s ms  steal %4s%%  builds %s  %s\n' \
    "$phase" "$endpoint" "$enc" "$server" "$round" "$load" "$rps" "$p50" "$p99" "$steal" "$builds" "${errs}" >&2
  if [ "$server" = upkeep ]; then
    # The CPU seconds of upkeep's busiest threads during the run: whether both runtime
    # workers carried the load.
    echo "    threads: $(join -j1 <(echo "$threads0" | sort) <(echo "$threads1" | sort) \
      | awk -v hz="$(getconf CLK_TCK)" '{d = ($5 - $3) / hz; if (d >= 0.05) printf "%s %.2fs\n", $2, d}' \
      | sort -k2 -t' ' -rn | head -4 | paste -sd, -)" >&2
  fi
}

# thread_ticks SERVER: for upkeep, "TID NAME TICKS" (user + system clock ticks) of each of its
# threads.
thread_ticks() {
  [ "$1" = upkeep ] || return 0
  local t
  for t in /proc/"$upkeep_pid"/task/*; do
    # The name is in parentheses and may hold spaces; the ticks are fields 14 and 15.
    awk '{
      line = $0; lp = index(line, "("); rp = 0
      for (i = length(line); i > 0; i--) if (substr(line, i, 1) == ")") { rp = i; break }
      name = substr(line, lp + 1, rp - lp - 1); gsub(/ /, "-", name)
      split(substr(line, rp + 2), f, " ")
      print $1, name, f[12] + f[13] }' "$t/stat" 2>/dev/null || true # the thread ended
  done
}

# snapshot_builds SERVER: for upkeep, "COUNT SECONDS" of its snapshot builds so far (from
# /metrics); nothing for nginx.
snapshot_builds() {
  [ "$1" = upkeep ] || return 0
  curl -s "http://127.0.0.1:$port/metrics" | awk '
    /^upkeep_status_snapshot_builds_total / {n = $2}
    /^upkeep_status_snapshot_build_seconds_sum / {s = $2}
    END {printf "%d %s", n, s + 0}'
}

# measure PHASE: every endpoint and encoding, upkeep then nginx, ROUNDS times.
measure() {
  local phase=$1 r ep enc ng
  for r in $(seq 1 "$rounds"); do
    for ep in "${endpoints[@]}"; do
      for enc in identity br; do
        ng=$nginx_port
        [ "$enc" = br ] && ng=$nginx_br_port
        run "$phase" "$ep" "$enc" upkeep "$r" "http://127.0.0.1:$port$ep"
        run "$phase" "$ep" "$enc" nginx "$r" "http://127.0.0.1:$ng$ep"
      done
    done
  done
}

# Checks that nginx still serves exactly what upkeep serves (the snapshot may be rebuilt).
check_same() {
  local ep
  for ep in "${endpoints[@]}"; do
    if cmp -s <(curl -fs -H 'Accept-Encoding: br' "http://127.0.0.1:$port$ep") \
      <(curl -fs "http://127.0.0.1:$nginx_br_port$ep") \
      && cmp -s <(curl -fs "http://127.0.0.1:$port$ep") <(curl -fs "http://127.0.0.1:$nginx_port$ep"); then
      echo "  $ep: nginx and upkeep bodies identical" >&2
    else
      echo "  $ep: bodies differ after the runs (upkeep rebuilt its snapshot)" >&2
    fi
  done
}

# Counts upkeep's instructions per request under callgrind for PAGE.
instructions=${INSTRUCTIONS:-1}
command -v valgrind >/dev/null || instructions=0
total_of_last_dump() { # DIR PID: the instruction total of the newest callgrind dump
  local file
  file=$(ls -t "$1"/callgrind.out."$2"* | head -1)
  awk '/^summary:|^totals:/ {print $2; exit}' "$file"
}
# count SERVER PAGE PID PORT BR_PORT OUT: for each route and encoding, the fewest instructions
# the callgrind'd process PID executes in three runs of N requests (to PORT, or BR_PORT for
# br), less its idle rate (the fewest of the 2-second idle samples taken until the rate is
# steady: upkeep's once-a-second poll) over the same time, per request. Taking the fewest
# keeps a snapshot rebuild that happens to fall into a run out of the figure.
count() {
  local server=$1 page=$2 pid=$3 plain_port=$4 br_port=$5 out=$6 ep enc p trial t0 t1 busy best rate n=1000
  # The idle rate: 2-second samples until three in a row are within 25 % of the fewest seen
  # (a page's first probe results each rebuild its snapshot, which under callgrind takes
  # seconds on the large page), at most 90 samples.
  local samples=0 steady=0
  rate=
  while [ "$steady" -lt 3 ] && [ "$samples" -lt 90 ]; do
    callgrind_control -z "$pid" >/dev/null 2>&1
    sleep 2
    callgrind_control -d "$pid" >/dev/null 2>&1
    busy=$(total_of_last_dump "$out" "$pid")
    samples=$((samples + 1))
    # A new low more than 25 % under the last one starts the count again; a sample within
    # 25 % of the fewest so far (itself included) adds to it.
    if awk -v r="$rate" -v b="$busy" 'BEGIN {exit !(r == "" || b / 2 < r / 1.25)}'; then
      steady=1
    elif awk -v r="$rate" -v b="$busy" 'BEGIN {m = (b / 2 < r) ? b / 2 : r; exit !(b / 2 <= m * 1.25)}'; then
      steady=$((steady + 1))
    else
      steady=0
    fi
    rate=$(awk -v r="$rate" -v b="$busy" 'BEGIN {b /= 2; print (r == "" || b < r) ? b : r}')
  done
  echo "  idle: $server $page $(printf '%.0f' "$rate") instructions/s after $samples samples" >&2
  for ep in "${endpoints[@]}"; do
    for enc in identity br; do
      p=$plain_port
      [ "$enc" = br ] && p=$br_port
      python3 "$here/get.py" "$p" "$ep" 200 "$enc"
      best=
      for trial in 1 2 3; do
        callgrind_control -z "$pid" >/dev/null 2>&1
        t0=$(date +%s.%N)
        python3 "$here/get.py" "$p" "$ep" "$n" "$enc"
        t1=$(date +%s.%N)
        callgrind_control -d "$pid" >/dev/null 2>&1
        busy=$(total_of_last_dump "$out" "$pid")
        best=$(awk -v r="$best" -v b="$busy" -v i="$rate" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" -v n="$n" \
          'BEGIN {x = (b - i * t) / n; print (r == "" || x < r) ? x : r}')
      done
      printf '  instructions per request: %-6s %-6s %-22s %-8s %.0f\n' "$server" "$page" "$ep" "$enc" "$best" >&2
    done
  done
}

# count_instructions PAGE: upkeep under callgrind, then nginx (one process, no master) under
# callgrind serving the bytes upkeep served.
count_instructions() {
  local page=$1 out="$dir/callgrind-$page" nginx_pid
  mkdir -p "$out"
  QUIET_MONITORS=1 write_config "$page" on
  start_upkeep "$page" valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out.%p" \
    --dump-instr=no --collect-systime=no
  sleep "${SETTLE:-5}"
  count upkeep "$page" "$upkeep_pid" "$port" "$port" "$out"
  snapshot_bytes
  stop_upkeep
  sed -e 's/^worker_processes auto;/worker_processes 1; master_process off; daemon off;/' \
    -e "s/^pid .*/pid $(printf '%s' "$dir" | sed 's/[\/&]/\\&/g')\/nginx\/callgrind.pid;/" \
    -e "s/listen 127.0.0.1:$nginx_port;/listen 127.0.0.1:18386;/" \
    -e "s/listen 127.0.0.1:$nginx_br_port;/listen 127.0.0.1:18387;/" "$dir/nginx.conf" > "$dir/nginx-callgrind.conf"
  valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out.%p" --dump-instr=no \
    "$nginx" -c "$dir/nginx-callgrind.conf" -p "$dir/nginx" 2>>"$dir/log" &
  nginx_pid=$!
  until curl -fs -o /dev/null "http://127.0.0.1:18386/"; do sleep 0.2; done
  count nginx "$page" "$nginx_pid" 18386 18387 "$out"
  kill "$nginx_pid"
  wait "$nginx_pid" 2>/dev/null || true
}

until curl -fs "http://127.0.0.1:$target_port/healthz" >/dev/null; do sleep 0.05; done
until [ -s "$dir/nginx/nginx.pid" ]; do sleep 0.05; done
echo "cores: $(nproc); wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'); $("$nginx" -v 2>&1)" >&2

for page in $pages; do
  write_config "$page" on
  "$bin" migrate --database "sqlite://$dir/$page.db" >/dev/null
  [ "$page" = large ] && seed_history "$dir/$page.db"
  if [ "$instructions" = 1 ]; then count_instructions "$page"; fi
  for limit in $limits; do
    write_config "$page" "$limit"
    start_upkeep "$page"
    sleep 2
    snapshot_bytes
    echo "phase $page, rate limit $limit: / $(wc -c < "$dir/www/index.html") bytes (br $(wc -c < "$dir/www-br/index.html")), summary.json $(wc -c < "$dir/www/api/v2/summary.json") bytes (br $(wc -c < "$dir/www-br/api/v2/summary.json"))" >&2
    measure "$page/limit-$limit"
    check_same
    stop_upkeep
  done
done

if [ "${PROBING:-0}" = 1 ]; then
  write_config small off 1000
  start_upkeep small
  sleep 15
  snapshot_bytes
  probes0=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^upkeep_probes_total/ {s+=$2} END {print s+0}')
  t0=$(date +%s)
  measure "small/probing"
  probes1=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^upkeep_probes_total/ {s+=$2} END {print s+0}')
  t1=$(date +%s)
  echo "  probes per second during the probing phase: $(( (probes1 - probes0) / (t1 - t0) )) (expected ~100)" >&2
  check_same
  stop_upkeep
fi

# Table: req/s, latency, and upkeep's share of nginx's requests per second in the same round.
echo
printf '| phase | endpoint | encoding | server | round | load (1 min) | req/s | p50 | p99 | steal | snapshot builds | upkeep/nginx |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|\n'
awk -F'|' '
  function group(n,   s) { s = ""; while (n >= 1000) { s = sprintf(",%03d", n % 1000) s; n = int(n / 1000) }; return n s }
  { key = $1 "|" $2 "|" $3 "|" $5; rows[NR] = $0; if ($4 == "nginx") ng[key] = $7 }
  END {
    for (i = 1; i <= NR; i++) {
      split(rows[i], f, "|"); key = f[1] "|" f[2] "|" f[3] "|" f[5]
      ratio = (f[4] == "upkeep" && ng[key] > 0) ? sprintf("%.2f", f[7] / ng[key]) : ""
      note = (f[10] == "none") ? "" : " (" f[10] ")"
      printf "| %s | `%s` | %s | %s | %s | %s | %s | %s ms | %s ms | %s %% | %s | %s%s |\n", f[1], f[2], f[3], f[4], f[5], f[6], group(f[7]), f[8], f[9], f[11], f[12], ratio, note
    }
  }' "$results"
