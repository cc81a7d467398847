#!/usr/bin/env bash
# Probe shards: N HTTP monitors (default 30,000) at a 10 s interval over R replicas (default 3)
# of the release build on one PostgreSQL database, against a local target (a separate upkeep
# serving /healthz, rate limiting off). Measures a window of SECONDS: CPU, probes per second
# and scheduling lag p99 (upkeep_probe_lag_seconds) per replica; then kills one replica with
# `kill -9` and measures how long until every one of its monitors is probed again; finally
# counts, over the whole run, the results per monitor and round (double probes).
# Usage: bench/shards.sh [N] [SECONDS] [REPLICAS]    (defaults 30000, 60 and 3)
# Needs PostgreSQL at $PG (default postgres://postgres@127.0.0.1:5432/test) and psql.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-30000}
secs=${2:-60}
replicas=${3:-3}
pg=${PG:-postgres://postgres@127.0.0.1:5432/test}
bin=${BIN:-target/release/upkeep}
dir=$(mktemp -d)
schema="bench_shards_$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  psql -q "$pg" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
target_port=18382
psql -q "$pg" -c "CREATE SCHEMA $schema"
db="$pg?options=-c%20search_path%3D$schema"
sql() { psql -qtA "$pg" -c "SET search_path TO $schema; $1"; }

start_probe_target "$target_port"
{
  echo "page: { name: Bench, url: \"http://127.0.0.1:18383\", timezone: UTC }"
  echo "server: { rate_limit: { per_second: 0 } }"
  echo "components:"
  echo "  web: { name: Web }"
  echo "monitors:"
  for i in $(seq 1 "$n"); do
    echo "  m$i: { component: web, http: { url: \"http://127.0.0.1:$target_port/healthz\" }, interval: 10s, timeout: 5s, conditions: [\"[STATUS] == 200\"] }"
  done
} > "$dir/bench.yaml"
until curl -fs "http://127.0.0.1:$target_port/healthz" >/dev/null; do sleep 0.05; done

began_ms=$(date +%s%3N)
rpids=()
for r in $(seq 1 "$replicas"); do
  port=$((18383 + r))
  "$bin" serve --config "$dir/bench.yaml" --listen 127.0.0.1:$port --database "$db" \
    >/dev/null 2>"$dir/log$r" &
  rpids+=($!)
  pids+=($!)
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
done

held() { sql "SELECT count(DISTINCT holder) FROM leases WHERE name LIKE 'shard:%' AND expires_at > $(date +%s%3N)"; }
until [ "$(held)" = "$replicas" ] && [ "$(sql "SELECT count(*) FROM leases WHERE name LIKE 'shard:%' AND expires_at > $(date +%s%3N)")" = 64 ]; do sleep 1; done
echo "shards per holder:     $(sql "SELECT string_agg(c::text, ' ') FROM (SELECT count(*) c FROM leases WHERE name LIKE 'shard:%' AND expires_at > $(date +%s%3N) GROUP BY holder ORDER BY 1) x")"

# A full cycle after the split, then the window.
sleep 15
ticks=$(getconf CLK_TCK)
declare -a cpu0 probes0
for r in $(seq 1 "$replicas"); do
  cpu0[$r]=$(awk '{print $14+$15}' "/proc/${rpids[$((r-1))]}/stat")
  probes0[$r]=$(curl -s "http://127.0.0.1:$((18383 + r))/metrics" | awk '/^upkeep_probes_total/ {s+=$2} END {print s+0}')
done
sleep "$secs"
quantile() {
  echo "$2" | awk -v q="$1" '
    /^upkeep_probe_lag_seconds_bucket/ { match($0, /le="[^"]+"/); le=substr($0, RSTART+4, RLENGTH-5); n++; les[n]=le; cnt[n]=$2 }
    /^upkeep_probe_lag_seconds_count/ { total=$2 }
    END { for (i=1;i<=n;i++) if (cnt[i] >= q*total) { print les[i]; exit } }'
}
echo "monitors:              $n at 10 s over $replicas replicas; window $secs s; load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$replicas"); do
  pid=${rpids[$((r-1))]}
  cpu1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  metrics=$(curl -s "http://127.0.0.1:$((18383 + r))/metrics")
  probes1=$(echo "$metrics" | awk '/^upkeep_probes_total/ {s+=$2} END {print s+0}')
  shards=$(echo "$metrics" | awk '/^upkeep_probe_shards_held / {print $2}')
  rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  echo "replica $r: shards $shards, $(( (probes1 - probes0[$r]) / secs )) probes/s, lag p50 <= $(quantile 0.5 "$metrics") s, p99 <= $(quantile 0.99 "$metrics") s, CPU $(awk -v a="${cpu0[$r]}" -v b="$cpu1" -v t="$ticks" -v s="$secs" 'BEGIN {printf "%.2f cores", (b-a)/t/s}'), RSS $(( rss_kb / 1024 )) MB"
done

# Kill the last replica; its monitors must be probed again by the others.
victim=${rpids[$((replicas-1))]}
vholder=$(sql "SELECT holder FROM leases WHERE name LIKE 'shard:%' AND expires_at > $(date +%s%3N) AND holder LIKE '%-$victim' LIMIT 1")
sql "SELECT name FROM leases WHERE name LIKE 'shard:%' AND holder = '$vholder' AND expires_at > $(date +%s%3N)" > "$dir/victim_shards"
kill -9 "$victim"
killed_ms=$(date +%s%3N)
echo "killed replica $replicas ($(wc -l < "$dir/victim_shards") shards) at $killed_ms"
sleep 45
sql "SELECT monitor_id, at FROM check_results WHERE at >= $began_ms" > "$dir/results"
ended_ms=$(date +%s%3N)
python3 - "$dir/results" "$dir/victim_shards" "$killed_ms" "$n" "$ended_ms" <<'PY'
import sys, collections
results, victim_file, killed, n, ended = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
M = (1 << 64) - 1
def fnv(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h ^= b; h = (h * 0x100000001b3) & M
    return h
def shard(s):
    h = fnv(s)
    h ^= h >> 33; h = (h * 0xff51afd7ed558ccd) & M; h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & M; h ^= h >> 33
    return h % 64
I = 10_000
def round_start(s, at):
    p = fnv(s) % I
    return (at - p) // I * I + p
victims = {int(l.strip().split(':')[1]) for l in open(victim_file) if l.strip()}
per = collections.Counter()
first_after = {}
for line in open(results):
    m, at = line.strip().split('|'); at = int(at)
    per[(m, round_start(m, at))] += 1
    if at >= killed and (m not in first_after or at < first_after[m]):
        first_after[m] = at
twice = sum(1 for c in per.values() if c > 1)
print(f"results counted:       {sum(per.values())} in {len(per)} monitor-rounds; probed twice in a round: {twice}")
orphans = [f"m{i}" for i in range(1, n + 1) if shard(f"m{i}") in victims]
waits = [first_after.get(m, ended) - killed for m in orphans]
never = sum(1 for m in orphans if m not in first_after)
print(f"killed replica's monitors: {len(orphans)}; all probed again after {max(waits)/1000:.1f} s (median {sorted(waits)[len(waits)//2]/1000:.1f} s); never again: {never}")
PY
