#!/usr/bin/env bash
# Start-up and idle footprint of `upkeep serve` on the embedded demo configuration: time from
# exec until /readyz answers 200 on a fresh SQLite database (migrations included) and on an
# existing one, and the resident memory after 5 s idle.
# Usage: bench/startup.sh [path/to/upkeep]   (default target/release/upkeep)
set -euo pipefail
bin=${1:-target/release/upkeep}
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
port=18181

if curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
  echo "port $port is taken by another server; stop it first" >&2
  exit 1
fi

# Starts the server, waits for /readyz, sets $pid and $ready_ms.
start() {
  local t0 t1
  t0=$(date +%s%N)
  "$bin" serve --listen 127.0.0.1:$port --database "sqlite://$dir/upkeep.db" >/dev/null 2>"$dir/log" &
  pid=$!
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.002; done
  t1=$(date +%s%N)
  ready_ms=$(( (t1 - t0) / 1000000 ))
}

stop() { kill -TERM "$pid"; wait "$pid" || true; pid=; }

start; fresh=$ready_ms; stop
start; existing=$ready_ms
sleep 5
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
stop

echo "ready on a fresh database:     ${fresh} ms"
echo "ready on an existing database: ${existing} ms"
echo "idle resident memory:          $(( rss_kb / 1024 )) MB (${rss_kb} kB)"
