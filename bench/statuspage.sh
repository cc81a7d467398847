#!/usr/bin/env bash
# The public status page under load: `wrk -t2 -c64 -d10s --latency` against upkeep's `/` (HTML)
# and `/api/v2/summary.json`, and against nginx serving the same bytes as static files, in the
# same run. Then the same again while the same upkeep process checks 1,000 HTTP monitors at a
# 10 s interval (~100 probes/s) against a second upkeep serving /healthz (as bench/probes.sh).
# Targets: upkeep >= 0.5 x nginx's requests per second, p99 < 10 ms.
#
# The page has a realistic shape: 20 components in 4 groups, 4 monitors, and one open incident
# with two updates (posted through the admin API). Both servers get the same requests (wrk's
# default headers, no Accept-Encoding: identity bodies). nginx runs in the foreground with
# `worker_processes auto` (2 on the reference machine; upkeep's tokio runtime also uses every
# core), `access_log off`, `sendfile on`, and keep-alive not limited (as upkeep's).
#
# Before each wrk run the 1-minute load is read from /proc/loadavg; above LOAD_MAX (default 1.0)
# the script waits, polling up to LOAD_WAIT seconds (default 180), and records the load the run
# started under either way.
# Usage: bench/statuspage.sh [ROUNDS]    (default 2: every measurement is taken twice)
# DURATION (default 10s) shortens the wrk runs for a smoke test.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
rounds=${1:-2}
load_max=${LOAD_MAX:-1.0}
load_wait=${LOAD_WAIT:-180}
wrk_args=(-t2 -c64 -d"${DURATION:-10s}" --latency)
bin=target/release/upkeep
nginx=${NGINX:-/usr/sbin/nginx}
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
db="sqlite://$dir/bench.db"

# The probe target: a second upkeep serving /healthz.
start_probe_target "$target_port"

# The status page's configuration; with an argument N, N more HTTP monitors at 10 s spread over
# the 20 components.
write_config() {
  local extra=$1
  {
    echo "page: { name: Acme Cloud, url: \"http://127.0.0.1:$port\", timezone: UTC }"
    echo "server: { rate_limit: { per_second: 0 }, max_connections: 8192 }"
    echo "components:"
    local g i=0
    for g in "Platform:api web auth search cdn" "Data:db cache queue storage backup" \
      "Integrations:webhooks email sms payments oauth" "Regions:eu-west us-east us-west ap-south ap-east"; do
      local group=${g%%:*}
      for c in ${g#*:}; do
        i=$((i + 1))
        echo "  $c: { name: \"${c^} service\", group: $group, description: \"The $c service of Acme Cloud\" }"
      done
    done
    echo "monitors:"
    for c in api web db cache; do
      echo "  $c-health: { component: $c, http: { url: \"http://127.0.0.1:$target_port/healthz\" }, interval: 30s, timeout: 5s, conditions: [\"[STATUS] == 200\"] }"
    done
    local comps=(api web auth search cdn db cache queue storage backup webhooks email sms payments oauth
      eu-west us-east us-west ap-south ap-east)
    for i in $(seq 1 "$extra"); do
      echo "  m$i: { component: ${comps[$((i % 20))]}, http: { url: \"http://127.0.0.1:$target_port/healthz\" }, interval: 10s, timeout: 5s, conditions: [\"[STATUS] == 200\"] }"
    done
  } > "$dir/bench.yaml"
}

start_upkeep() {
  "$bin" serve --config "$dir/bench.yaml" --listen 127.0.0.1:$port --database "$db" \
    >/dev/null 2>>"$dir/log" &
  upkeep_pid=$!
  pids+=($upkeep_pid)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 200 ]; do sleep 0.05; done
}

stop_upkeep() {
  kill "$upkeep_pid"
  wait "$upkeep_pid" 2>/dev/null || true
}

# nginx serves whatever sits under $dir/www at the same paths as upkeep.
mkdir -p "$dir/www/api/v2" "$dir/nginx"
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
}
CONF

# Copies upkeep's current bytes to nginx's root.
snapshot_bytes() {
  curl -fs "http://127.0.0.1:$port/" -o "$dir/www/index.html"
  curl -fs "http://127.0.0.1:$port/api/v2/summary.json" -o "$dir/www/api/v2/summary.json"
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
# run PHASE ENDPOINT SERVER ROUND URL
run() {
  local phase=$1 endpoint=$2 server=$3 round=$4 url=$5 load out rps p50 p99 errs
  load=$(wait_for_quiet)
  out=$(wrk "${wrk_args[@]}" "$url")
  echo "$out" > "$dir/wrk-$phase-$server-$round-${endpoint//\//_}.txt"
  rps=$(echo "$out" | awk '/^Requests\/sec:/ {printf "%.0f", $2}')
  p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
  errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {printf "%s ", $0}')
  echo "$phase|$endpoint|$server|$round|$load|$rps|$p50|$p99|${errs:-none}" >> "$results"
  printf '  %-8s %-22s %-7s round %s  load %-5s %8s req/s  p50 %6s ms  p99 %6s ms  %s\n' \
    "$phase" "$endpoint" "$server" "$round" "$load" "$rps" "$p50" "$p99" "${errs}" >&2
}

measure() {
  local phase=$1 r ep
  for r in $(seq 1 "$rounds"); do
    for ep in / /api/v2/summary.json; do
      run "$phase" "$ep" upkeep "$r" "http://127.0.0.1:$port$ep"
      run "$phase" "$ep" nginx "$r" "http://127.0.0.1:$nginx_port$ep"
    done
  done
}

# Checks that nginx still serves exactly what upkeep serves (the snapshot may be rebuilt).
check_same() {
  local ep
  for ep in / /api/v2/summary.json; do
    if cmp -s <(curl -fs "http://127.0.0.1:$port$ep") <(curl -fs "http://127.0.0.1:$nginx_port$ep"); then
      echo "  $ep: nginx and upkeep bodies identical ($(curl -fs "http://127.0.0.1:$port$ep" | wc -c) bytes)" >&2
    else
      echo "  $ep: bodies differ after the runs (upkeep rebuilt its snapshot): upkeep $(curl -fs "http://127.0.0.1:$port$ep" | wc -c) bytes, nginx $(curl -fs "http://127.0.0.1:$nginx_port$ep" | wc -c) bytes" >&2
    fi
  done
}

until curl -fs "http://127.0.0.1:$target_port/healthz" >/dev/null; do sleep 0.05; done

# Phase 1: the page with its 4 monitors.
write_config 0
start_upkeep
token=$("$bin" token create --role admin --name bench --database "$db" 2>/dev/null)
api() {
  curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$port$1" -d "$2"
}
incident=$(api /api/v1/incidents '{
  "title": "Elevated error rates on the public API",
  "status": "investigating",
  "body": "We are investigating **elevated error rates** on the public API in `eu-west`. Some requests fail with 503.",
  "components": [{"id": "api", "status": "partial_outage"}, {"id": "eu-west", "status": "degraded_performance"}]
}' | jq -r .id)
api "/api/v1/incidents/$incident/updates" '{
  "status": "identified",
  "body": "The cause is a saturated connection pool after this morning'\''s deploy. A fix is being rolled out; error rates are falling.",
  "components": [{"id": "api", "status": "degraded_performance"}]
}' >/dev/null
until curl -fs "http://127.0.0.1:$port/" | grep -c "saturated connection pool" >/dev/null; do sleep 0.1; done
sleep 1
snapshot_bytes
"$nginx" -c "$dir/nginx.conf" -p "$dir/nginx" -g 'daemon off;' &
pids+=($!)
until curl -fs "http://127.0.0.1:$nginx_port/" >/dev/null; do sleep 0.05; done
cmp -s "$dir/www/index.html" <(curl -fs "http://127.0.0.1:$nginx_port/") || echo "nginx serves other bytes?" >&2

echo "cores: $(nproc); nginx workers: $(pgrep -c -P "$(cat "$dir/nginx/nginx.pid")")" >&2
echo "bodies: / $(wc -c < "$dir/www/index.html") bytes, summary.json $(wc -c < "$dir/www/api/v2/summary.json") bytes" >&2
echo "response headers (bytes): upkeep / $(curl -s -o /dev/null -w '%{size_header}' "http://127.0.0.1:$port/"), nginx / $(curl -s -o /dev/null -w '%{size_header}' "http://127.0.0.1:$nginx_port/")" >&2
echo "phase idle: the page with 4 monitors" >&2
measure idle
check_same

# Phase 2: the same page while the same process checks 1,000 more HTTP monitors at 10 s.
stop_upkeep
write_config 1000
start_upkeep
sleep 15
snapshot_bytes
probes0=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^upkeep_probes_total/ {s+=$2} END {print s+0}')
t0=$(date +%s)
echo "phase probing: 1,004 monitors; bodies: / $(wc -c < "$dir/www/index.html") bytes, summary.json $(wc -c < "$dir/www/api/v2/summary.json") bytes" >&2
measure probing
probes1=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^upkeep_probes_total/ {s+=$2} END {print s+0}')
t1=$(date +%s)
echo "  probes per second during phase 2: $(( (probes1 - probes0) / (t1 - t0) )) (expected ~100)" >&2
check_same

# Table: req/s, latency, and upkeep's share of nginx's requests per second in the same round.
echo
printf '| phase | endpoint | server | round | load (1 min) | req/s | p50 | p99 | upkeep/nginx |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
awk -F'|' '
  function group(n,   s) { s = ""; while (n >= 1000) { s = sprintf(",%03d", n % 1000) s; n = int(n / 1000) }; return n s }
  { key = $1 "|" $2 "|" $4; rows[NR] = $0; if ($3 == "nginx") ng[key] = $6 }
  END {
    for (i = 1; i <= NR; i++) {
      split(rows[i], f, "|"); key = f[1] "|" f[2] "|" f[4]
      ratio = (f[3] == "upkeep" && ng[key] > 0) ? sprintf("%.2f", f[6] / ng[key]) : ""
      note = (f[9] == "none") ? "" : " (" f[9] ")"
      printf "| %s | `%s` | %s | %s | %s | %s | %s ms | %s ms | %s%s |\n", f[1], f[2], f[3], f[4], f[5], group(f[6]), f[7], f[8], ratio, note
    }
  }' "$results"
