# Shell shared by the benchmark scripts; each sources it after setting its variables:
#   . "$(dirname "$0")/lib.sh"

# Prints the 1-minute load once it is at most $load_max, polling every 5 s for up to
# $load_wait seconds (the load of the moment when that runs out).
wait_for_quiet() {
  local waited=0 l
  while :; do
    l=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$l" -v m="$load_max" 'BEGIN {exit !(l <= m)}' || [ "$waited" -ge "$load_wait" ]; then
      echo "$l"
      return
    fi
    sleep 5
    waited=$((waited + 5))
  done
}

# start_probe_target PORT: a second upkeep ($bin) serving /healthz on PORT with rate limiting
# off, as the target of probe benchmarks; its files go to $dir, its pid to $pids.
start_probe_target() {
  local port=$1
  cat > "$dir/target.yaml" <<YAML
page: { name: Target, url: "http://127.0.0.1:$port", timezone: UTC }
server: { rate_limit: { per_second: 0 }, max_connections: 8192 }
YAML
  "$bin" serve --config "$dir/target.yaml" --listen 127.0.0.1:"$port" \
    --database "sqlite://$dir/target.db" >/dev/null 2>&1 &
  pids+=($!)
}
