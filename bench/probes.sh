#!/usr/bin/env bash
# Probe scheduler at scale: N HTTP monitors (default 10,000) at a 10 s interval against a local
# target, on the release build. The target is a second upkeep process serving /healthz with
# rate limiting off. Reports scheduling lag (p50/p99 from upkeep_probe_lag_seconds), CPU of
# the probing process, resident memory, probes per second and database growth per day.
# Usage: [BIN=path/to/upkeep] bench/probes.sh [N] [SECONDS]    (defaults 10000 and 60)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-10000}
secs=${2:-60}
bin=${BIN:-target/release/upkeep}
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
target_port=18282
port=18283

start_probe_target "$target_port"

{
  echo "page: { name: Bench, url: \"http://127.0.0.1:$port\", timezone: UTC }"
  echo "server: { rate_limit: { per_second: 0 } }"
  echo "components:"
  echo "  web: { name: Web }"
  echo "monitors:"
  for i in $(seq 1 "$n"); do
    echo "  m$i: { component: web, http: { url: \"http://127.0.0.1:$target_port/healthz\" }, interval: 10s, timeout: 5s, conditions: [\"[STATUS] == 200\"] }"
  done
} > "$dir/bench.yaml"

until curl -fs "http://127.0.0.1:$target_port/healthz" >/dev/null; do sleep 0.05; done
"$bin" serve --config "$dir/bench.yaml" --listen 127.0.0.1:$port --database "sqlite://$dir/bench.db" \
  >/dev/null 2>"$dir/log" &
pid=$!
pids+=($pid)
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.05; done

# Let the first full cycle pass, then measure a window.
sleep 15
ticks=$(getconf CLK_TCK)
cpu0=$(awk '{print $14+$15}' "/proc/$pid/stat")
db0=$(du -cb "$dir"/bench.db* | tail -1 | cut -f1)
probes0=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^upkeep_probes_total/ {s+=$2} END {print s+0}')
sleep "$secs"
cpu1=$(awk '{print $14+$15}' "/proc/$pid/stat")
db1=$(du -cb "$dir"/bench.db* | tail -1 | cut -f1)
metrics=$(curl -s "http://127.0.0.1:$port/metrics")
probes1=$(echo "$metrics" | awk '/^upkeep_probes_total/ {s+=$2} END {print s+0}')
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
anon_kb=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status")

# Quantiles from the cumulative histogram buckets (upper bound of the bucket reached).
quantile() {
  echo "$metrics" | awk -v q="$1" '
    /^upkeep_probe_lag_seconds_bucket/ { match($0, /le="[^"]+"/); le=substr($0, RSTART+4, RLENGTH-5); n++; les[n]=le; cnt[n]=$2 }
    /^upkeep_probe_lag_seconds_count/ { total=$2 }
    END { for (i=1;i<=n;i++) if (cnt[i] >= q*total) { print les[i]; exit } }'
}

echo "monitors:              $n at 10 s"
echo "window:                $secs s"
echo "probes per second:     $(( (probes1 - probes0) / secs )) (expected $(( n / 10 )))"
echo "scheduling lag p50:    <= $(quantile 0.5) s"
echo "scheduling lag p99:    <= $(quantile 0.99) s"
echo "CPU of the prober:     $(awk -v a="$cpu0" -v b="$cpu1" -v t="$ticks" -v s="$secs" 'BEGIN {printf "%.2f cores", (b-a)/t/s}')"
echo "resident memory:       $(( rss_kb / 1024 )) MB ($(( anon_kb / 1024 )) MB anonymous)"
echo "database growth:       $(awk -v a="$db0" -v b="$db1" -v s="$secs" 'BEGIN {printf "%.1f MB/day", (b-a)/s*86400/1048576}') (raw results; pruned after the retention)"
