#!/usr/bin/env bash
# The notification path end to end: one incident fanned out to N webhook subscribers and
# delivered to a real receiver, through a real `upkeep serve` (release build) on SQLite.
#
#   bash bench/notify.sh [N]          (default N = 2000)
#
# What it does:
#   1. nginx on loopback is the receiver: `return 204;` for every POST under /hook/, and one
#      access-log line per request with nginx's arrival time ($msec), the path, the status, the
#      body length and the `Upkeep-Delivery` header.
#   2. `upkeep serve` on a fresh SQLite file (rate limiting off) with two components; an admin
#      token from `upkeep token create`; N webhook subscribers registered through
#      `POST /api/v1/subscribers` (bench/notify/register.py, one keep-alive connection), each with
#      its own URL http://127.0.0.1:PORT/hook/i, so each is its own destination and order key.
#   3. ROUNDS times (default 3): wait for a quiet machine, open ONE incident
#      (`POST /api/v1/incidents`) and time from just before that call until all N deliveries have
#      arrived at nginx (counted in its access log) and until `GET /api/v1/outbox` shows pending 0
#      and unfanned 0. Reported: deliveries/s end to end (N / time to the last arrival), the
#      delivery phase alone (first to last arrival, nginx's own clock), the time to the first
#      arrival (fan-out: render + insert N rows in one transaction, plus the worker's first
#      claim), upkeep's CPU seconds over the round (/proc/PID/stat), its peak RSS (`ps -o rss`,
#      sampled every ~20 ms) and the 1-minute load the round started under.
#      Checked: every delivery id in the database for that incident arrived exactly once, with
#      204, on its first attempt, and nothing else arrived.
#   4. In the same round, the ceiling: `wrk -t2 -c32 -d10s -s post.lua` POSTing a body of the
#      same size (the mean body length nginx logged for that round) to the same nginx location
#      type, logged the same way. (upkeep's worker has at most 32 deliveries in flight, claiming
#      more as attempts finish and their outcomes are recorded.)
#
# Before each round and each wrk run the 1-minute load is read from /proc/loadavg; above
# LOAD_MAX (default 1.0) the script waits, polling up to LOAD_WAIT seconds (default 180), and
# records the load it started under either way.
# DB_DIR (default: a fresh temporary directory on disk) puts the SQLite file elsewhere, e.g.
# DB_DIR=/dev/shm to take the disk's fsync out of the figures (a diagnostic, not a deployment).
# KEEP=1 keeps the working directory (database, logs). BIN (default target/release/upkeep) and
# REV (default `git describe --always --dirty` here) name another build.
# Needs: nginx and wrk (UPKEEP_BENCH_DEPS=1 bash scripts/test-deps.sh), sqlite3, jq, curl,
# python3 with aiosmtpd (the project's .venv, made by scripts/test.sh, is used when it exists),
# and `cargo build --release -p upkeep`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
n=${1:-2000}
rounds=${ROUNDS:-3}
load_max=${LOAD_MAX:-1.0}
load_wait=${LOAD_WAIT:-180}
bin=${BIN:-target/release/upkeep}
nginx=${NGINX:-/usr/sbin/nginx}
port=18392
hook_port=18393
python=python3
[ -x .venv/bin/python3 ] && python=.venv/bin/python3

for tool in wrk "$nginx" sqlite3 jq curl python3 "$bin"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "missing: $tool (nginx, wrk: UPKEEP_BENCH_DEPS=1 bash scripts/test-deps.sh; upkeep: cargo build --release -p upkeep)" >&2
    exit 2
  fi
done
for p in $port $hook_port; do
  if curl -s -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null; then
    echo "port $p is taken by another server; stop it first" >&2
    exit 1
  fi
done

dir=$(mktemp -d)
db_dir=${DB_DIR:-$dir}
if [ -n "${DB_DIR:-}" ]; then db_dir=$(mktemp -d "$DB_DIR/upkeep-notify-bench.XXXXXX"); fi
db_file="$db_dir/notify.db"
db="sqlite://$db_file"
pids=()
upkeep_pid=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then
    echo "kept $dir (database $db_file)" >&2
  else
    rm -rf "$dir"
    if [ "$db_dir" != "$dir" ]; then rm -rf "$db_dir"; fi
  fi
}
trap cleanup EXIT

now() { date +%s.%N; }
# CPU seconds (user + system) a process has used.
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
rss_of() { ps -o rss= -p "$1" | tr -d ' '; }

# --- the receiver -------------------------------------------------------------------------------
mkdir -p "$dir/nginx"
chmod 755 "$dir"   # nginx's workers run as an unprivileged user when started as root
cat > "$dir/nginx.conf" <<CONF
worker_processes auto;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 4096; }
http {
  log_format hook '\$msec \$request_method \$uri \$status \$content_length \$http_upkeep_delivery \$http_upkeep_event';
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_buffer_size 64k;
  client_body_temp_path $dir/nginx/body;
  proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi;
  uwsgi_temp_path $dir/nginx/uwsgi;
  scgi_temp_path $dir/nginx/scgi;
  server {
    listen 127.0.0.1:$hook_port;
    location /hook/ { access_log $dir/hooks.log hook; return 204; }
    location /ref/  { access_log $dir/ref.log hook;   return 204; }
    location /      { access_log off; return 404; }
  }
}
CONF
touch "$dir/hooks.log" "$dir/ref.log"
chmod 666 "$dir/hooks.log" "$dir/ref.log"
"$nginx" -c "$dir/nginx.conf" -p "$dir/nginx" -g 'daemon off;' &
pids+=($!)
until [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "http://127.0.0.1:$hook_port/hook/0")" = 204 ]; do
  sleep 0.05
done
: > "$dir/hooks.log"

# --- upkeep ---------------------------------------------------------------------------------------
cat > "$dir/upkeep.yaml" <<YAML
page: { name: Acme Cloud, url: "http://127.0.0.1:$port", timezone: UTC }
server: { rate_limit: { per_second: 0 }, token_rate_limit: { per_second: 0 }, max_connections: 8192 }
components:
  api: { name: Public API }
  db: { name: Database }
YAML
token=$("$bin" token create --role admin --name bench --database "$db" 2>/dev/null)
"$bin" serve --config "$dir/upkeep.yaml" --listen 127.0.0.1:$port --database "$db" \
  >/dev/null 2>"$dir/upkeep.log" &
upkeep_pid=$!
pids+=($upkeep_pid)
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.02; done
sleep 1
rss_idle=$(rss_of "$upkeep_pid")

outbox() {
  curl -fs -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/outbox"
}

# The build measured: this checkout's commit (-dirty with uncommitted changes); set REV when BIN
# is a binary built from another tree.
rev=${REV:-$(git describe --always --dirty 2>/dev/null || echo '?')}
echo "upkeep $rev ($bin, $(stat -c %y "$bin" | cut -d. -f1)), $("$nginx" -v 2>&1 | sed 's/.*: //'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2); cores: $(nproc); nginx workers: $(pgrep -c -P "$(cat "$dir/nginx/nginx.pid")")" >&2
echo "database: $db_file ($(df --output=fstype "$db_dir" | tail -1 | tr -d ' '))" >&2

load_reg=$(cut -d' ' -f1 /proc/loadavg)
read -r made reg_s < <(python3 bench/notify/register.py "127.0.0.1:$port" "$token" "$n" \
  "http://127.0.0.1:$hook_port/hook")
rss_subs=$(rss_of "$upkeep_pid")
echo "registered $made webhook subscribers in ${reg_s} s ($(awk -v n="$made" -v s="$reg_s" 'BEGIN {printf "%.0f", n / s}')/s, load $load_reg); upkeep RSS idle $((rss_idle / 1024)) MB, after registering $((rss_subs / 1024)) MB" >&2

cat > "$dir/post.lua" <<'LUA'
local size = tonumber(os.getenv("BODY_SIZE"))
wrk.method = "POST"
wrk.body = string.rep("x", size)
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Upkeep-Delivery"] = "00000000-0000-4000-8000-000000000000"
wrk.headers["Upkeep-Event"] = "incident.opened"
LUA

results="$dir/results"
: > "$results"
for r in $(seq 1 "$rounds"); do
  load=$(wait_for_quiet)
  lines0=$(wc -l < "$dir/hooks.log")
  seq0=$(sqlite3 -cmd '.timeout 5000' "$db_file" 'SELECT COALESCE(MAX(seq), 0) FROM deliveries')
  cpu0=$(cpu_of "$upkeep_pid")
  ngcpu0=0
  for w in $(pgrep -P "$(cat "$dir/nginx/nginx.pid")"); do ngcpu0=$(awk -v a="$ngcpu0" -v b="$(cpu_of "$w")" 'BEGIN {print a + b}'); done
  rss_max=0
  t0=$(now)
  incident=$(curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$port/api/v1/incidents" -d "{
      \"title\": \"Elevated error rates on the public API (round $r)\",
      \"status\": \"investigating\",
      \"body\": \"We are investigating **elevated error rates** on the public API. Some requests fail with 503.\",
      \"components\": [{\"id\": \"api\", \"status\": \"partial_outage\"}]
    }" | jq -r .id)
  t_api=$(now)
  # Until every delivery has arrived (or 10 minutes).
  deadline=$(awk -v t="$t0" 'BEGIN {printf "%d", t + 600}')
  while :; do
    got=$(( $(wc -l < "$dir/hooks.log") - lines0 ))
    rss=$(rss_of "$upkeep_pid"); [ "$rss" -gt "$rss_max" ] && rss_max=$rss
    [ "$got" -ge "$n" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "round $r: only $got of $n arrived in 600 s" >&2; break; fi
    sleep 0.02
  done
  t_all=$(now)
  # Until the outbox says so.
  while :; do
    ob=$(outbox)
    [ "$(jq -r '.pending + .unfanned' <<<"$ob")" = 0 ] && break
    rss=$(rss_of "$upkeep_pid"); [ "$rss" -gt "$rss_max" ] && rss_max=$rss
    sleep 0.02
  done
  t_drained=$(now)
  cpu1=$(cpu_of "$upkeep_pid")
  ngcpu1=0
  for w in $(pgrep -P "$(cat "$dir/nginx/nginx.pid")"); do ngcpu1=$(awk -v a="$ngcpu1" -v b="$(cpu_of "$w")" 'BEGIN {print a + b}'); done
  sleep 0.5   # nothing more may arrive
  tail -n +"$((lines0 + 1))" "$dir/hooks.log" > "$dir/round$r.log"
  # Arrivals: first and last by nginx's clock, body size, statuses, ids.
  read -r first last mean_len bad < <(awk '
    NR == 1 || $1 < f { f = $1 } $1 > l { l = $1 } { len += $5; if ($4 != 204 || $2 != "POST") bad++ }
    END { printf "%s %s %.0f %d\n", f, l, len / NR, bad }' "$dir/round$r.log")
  awk '{ print $6 }' "$dir/round$r.log" | sort > "$dir/round$r.arrived"
  sqlite3 -cmd '.timeout 5000' "$db_file" \
    "SELECT id FROM deliveries WHERE seq > $seq0 ORDER BY id" > "$dir/round$r.expected"
  in_db=$(wc -l < "$dir/round$r.expected")
  arrived=$(wc -l < "$dir/round$r.arrived")
  unique=$(sort -u "$dir/round$r.arrived" | wc -l)
  missing=$(comm -23 "$dir/round$r.expected" <(sort -u "$dir/round$r.arrived") | wc -l)
  unknown=$(comm -13 "$dir/round$r.expected" <(sort -u "$dir/round$r.arrived") | wc -l)
  read -r sent retried fanned_ms sent_first sent_last < <(sqlite3 -cmd '.timeout 5000' -separator ' ' "$db_file" \
    "SELECT SUM(state = 'sent'), SUM(attempts > 1),
            (SELECT fanned_out_at - created_at FROM notices WHERE id = (SELECT notice_id FROM deliveries WHERE seq = $seq0 + 1)),
            MIN(sent_at), MAX(sent_at)
     FROM deliveries WHERE seq > $seq0")
  # Webhook ceiling: the same nginx, a body of the same size, 32 connections.
  load_ref=$(wait_for_quiet)
  BODY_SIZE=$mean_len wrk -t2 -c32 -d"${DURATION:-10s}" -s "$dir/post.lua" \
    "http://127.0.0.1:$hook_port/ref/1" > "$dir/wrk$r.txt"
  ref_rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$dir/wrk$r.txt")
  ref_errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$dir/wrk$r.txt")
  ok=ok
  if [ "$arrived" != "$n" ] || [ "$unique" != "$n" ] || [ "$in_db" != "$n" ] || [ "$missing" != 0 ] ||
     [ "$unknown" != 0 ] || [ "$bad" != 0 ] || [ "$sent" != "$n" ] || [ "$retried" != 0 ]; then
    ok="MISMATCH"
  fi
  echo "$r|$load|$n|$t0|$t_api|$first|$last|$t_all|$t_drained|$cpu0|$cpu1|$ngcpu0|$ngcpu1|$rss_max|$mean_len|$load_ref|$ref_rps|$arrived|$unique|$missing|$unknown|$retried|$fanned_ms|$sent_first|$sent_last|$ok|${ref_errs:-}" >> "$results"
  awk -F'|' '{
    e2e = $8 - $4; last = $7 - $4; first = $6 - $4; phase = $7 - $6
    printf "  round %s  load %s: incident API %.0f ms; first arrival %.0f ms, last %.2f s after the call; outbox empty at %.2f s\n", $1, $2, ($5 - $4) * 1000, first * 1000, last, $9 - $4
    printf "           %d deliveries: %.0f/s end to end, %.0f/s first to last arrival; upkeep CPU %.2f s (%.2f cores, %.0f us/delivery), nginx CPU %.2f s; peak RSS %.1f MB\n", $3, $3 / last, ($3 - 1) / phase, $11 - $10, ($11 - $10) / ($9 - $4), ($11 - $10) / $3 * 1e6, $13 - $12, $14 / 1024
    printf "           arrived %s (unique %s), missing %s, unknown %s, retried %s, body %s bytes: %s\n", $18, $19, $20, $21, $22, $15, $26
    printf "           reference: wrk -t2 -c32 POST %s bytes to the same nginx (load %s): %s req/s %s\n", $15, $16, $17, $27
  }' <<<"$(tail -1 "$results")" >&2
done
rss_end=$(rss_of "$upkeep_pid")
# --- e-mail (MAIL=1) --------------------------------------------------------------------------
mail_out=
if [ "${MAIL:-0}" = 1 ]; then
  mail_n=${MAIL_N:-$n}
  smtp_port=18394
  mkdir -p "$dir/mail"
  "$python" scripts/smtp_sink.py --host 127.0.0.1 --port $smtp_port --dir "$dir/mail" > "$dir/sink.out" 2>"$dir/sink.err" &
  sink_pid=$!
  pids+=($sink_pid)
  until grep -q ready "$dir/sink.out" 2>/dev/null; do sleep 0.05; done
  mail_db="sqlite://$db_dir/mail.db"
  sed "s/^components:/notifications: { smtp: { host: 127.0.0.1, port: $smtp_port, from: \"status@acme.example\" } }\ncomponents:/" \
    "$dir/upkeep.yaml" > "$dir/mail.yaml"
  mail_token=$("$bin" token create --role admin --name bench --database "$mail_db" 2>/dev/null)
  "$bin" serve --config "$dir/mail.yaml" --listen 127.0.0.1:$((port + 10)) --database "$mail_db" \
    >/dev/null 2>"$dir/upkeep-mail.log" &
  mail_pid=$!
  pids+=($mail_pid)
  until curl -fs "http://127.0.0.1:$((port + 10))/readyz" >/dev/null 2>&1; do sleep 0.02; done
  mail_load=$(wait_for_quiet)
  echo "e-mail: $mail_n subscribers through /subscribe and the confirmation link, then one incident (load $mail_load)" >&2
  mail_out=$(python3 bench/notify/mail.py "127.0.0.1:$((port + 10))" "$mail_token" "$mail_n" "$dir/mail" "$mail_pid" "$sink_pid") ||
    { echo "$mail_out" >&2; echo "e-mail phase failed" >&2; exit 1; }
  echo "$mail_out" | sed 's/^/  /' >&2
  awk -F= -v n="$mail_n" -v ld="$mail_load" '{ v[$1] = $2 } END {
    printf "  e-mail: %d mails, first at %.2f s, last at %.2f s: %.0f mails/s end to end; outbox empty at %.2f s; upkeep CPU %.2f s, sink CPU %.2f s; peak RSS %.1f MB; mean mail %d bytes; ok=%s\n",
      n, v["first_mail_s"], v["last_mail_s"], n / v["last_mail_s"], v["outbox_empty_s"], v["upkeep_cpu_s"], v["sink_cpu_s"], v["rss_max_mb"], v["mean_mail_bytes"], v["ok"]
    printf "  (double opt-in: %d subscribe requests in %.1f s, confirmation mails all at the sink %.1f s after the first request, %d confirmations in %.1f s)\n",
      n, v["subscribe_s"], v["confirmation_mails_s"], v["confirmed"], v["confirm_s"] }' <<<"$mail_out" >&2
fi
echo "upkeep RSS: idle $((rss_idle / 1024)) MB, with $n subscribers $((rss_subs / 1024)) MB, after the rounds $((rss_end / 1024)) MB" >&2
echo "upkeep log: $(grep -c . "$dir/upkeep.log" || true) lines, $(grep -ci 'warn\|error' "$dir/upkeep.log" || true) warnings/errors" >&2
grep -i 'warn\|error' "$dir/upkeep.log" | head -5 >&2 || true

echo
printf '| round | load (1 min) | deliveries | first arrival | last arrival | deliveries/s end to end | first→last | outbox empty | upkeep CPU | peak RSS | check | nginx wrk -c32 POST req/s (load) |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|\n'
awk -F'|' '
  function group(n,   s) { n = int(n + 0.5); s = ""; while (n >= 1000) { s = sprintf(",%03d", n % 1000) s; n = int(n / 1000) }; return n s }
  {
    last = $7 - $4; phase = $7 - $6
    printf "| %s | %s | %s | %.0f ms | %.2f s | %s | %s/s | %.2f s | %.2f s | %.1f MB | %s | %s (%s) |\n", $1, $2, group($3), ($6 - $4) * 1000, last, group($3 / last), group(($3 - 1) / phase), $9 - $4, $11 - $10, $14 / 1024, $26, group($17), $16
  }' "$results"
if grep -q MISMATCH "$results"; then
  echo "MISMATCH in at least one round (see above)" >&2
  exit 1
fi
