#!/usr/bin/env bash
# A rollout of N tenants (default 200) end to end through the real binary, with an instant
# action (`true`) and `settle: 0s`, to measure upkeep's own overhead per tenant.
#
# A release `upkeep serve` on SQLite; N tenants in one region; `tenant_slot` SLOT (default 1s,
# so the slot layout alone takes N × SLOT); an emergency maintenance scheduled through the API
# three seconds ahead with the rollout. When the rollout has completed, reads the stored rows
# and prints, per tenant: slot start → action start (the driver's reaction to the slot), the
# action's own run time (`sh -c true`), action end → tenant passed (storing the outcome and the
# decision); and the CPU time upkeep spent during the rollout, per tenant.
# Usage: bench/rollout.sh [TENANTS]    (SLOT=1s by default)
set -euo pipefail
n=${1:-200}
slot=${SLOT:-1s}
bin=target/release/upkeep
[ -x "$bin" ] || cargo build --release -p upkeep
dir=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "keeping $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
db="sqlite://$dir/upkeep.db"
port=${PORT:-18473}

{
  echo "page: { name: Bench, url: \"http://127.0.0.1:$port\", timezone: UTC }"
  echo 'server: { rate_limit: { per_second: 0 } }'
  echo 'regions:'
  echo '  eu: { timezone: UTC }'
  echo 'tenants:'
  for i in $(seq -w 1 "$n"); do echo "  t$i: { name: Tenant $i, region: eu }"; done
  echo 'components:'
  echo '  api: { name: API }'
  echo 'maintenance:'
  echo "  policy: { tenant_slot: $slot }"
} > "$dir/upkeep.yaml"

"$bin" migrate --database "$db" >/dev/null
token=$("$bin" token create --role admin --name bench --database "$db")
"$bin" serve --config "$dir/upkeep.yaml" --listen 127.0.0.1:"$port" --database "$db" \
  >/dev/null 2>"$dir/serve.log" &
pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done

body=$(python3 - "$n" "$slot" <<'PY'
import datetime, json, sys
n, slot = int(sys.argv[1]), sys.argv[2]
secs = float(slot[:-2]) / 1000 if slot.endswith("ms") else float(slot[:-1])
now = datetime.datetime.now(datetime.timezone.utc)
start = now + datetime.timedelta(seconds=3)
end = start + datetime.timedelta(seconds=n * secs + 60)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
print(json.dumps({
    "kind": "emergency", "reason": "benchmark", "title": "Rollout benchmark",
    "starts_at": fmt(start), "ends_at": fmt(end), "components": ["api"], "tenants": "all",
    "rollout": {"action": {"command": "true", "timeout": slot}, "settle": "0s"},
}))
PY
)
id=$(curl -sf -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d "$body" "http://127.0.0.1:$port/api/v1/maintenances" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
cpu0=$(cpu)
t0=$(date +%s.%N)
# Polled in the database (read-only), so that the benchmark's own requests cost upkeep nothing.
while :; do
  state=$(python3 -c 'import sqlite3,sys; r=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True).execute("SELECT state FROM rollouts WHERE maintenance_id=?",(sys.argv[2],)).fetchone(); print(r[0] if r else "none")' "$dir/upkeep.db" "$id")
  [ "$state" = completed ] && break
  case "$state" in halted|aborted) echo "rollout $state"; exit 1 ;; esac
  sleep 0.5
done
t1=$(date +%s.%N)
cpu1=$(cpu)
ticks=$(getconf CLK_TCK)

python3 - "$dir/upkeep.db" "$id" "$n" "$t0" "$t1" "$cpu0" "$cpu1" "$ticks" "$slot" <<'PY'
import sqlite3, statistics, sys
db, mid, n, t0, t1, c0, c1, tck, slot = sys.argv[1:]
n, t0, t1, c0, c1, tck = int(n), float(t0), float(t1), int(c0), int(c1), int(tck)
con = sqlite3.connect(db)
states = dict(con.execute(
    "SELECT state, COUNT(*) FROM rollout_tenants WHERE maintenance_id = ? GROUP BY state",
    (mid,)).fetchall())
skipped = con.execute(
    "SELECT tenant, decision FROM rollout_tenants WHERE maintenance_id = ? AND state = 'skipped'",
    (mid,)).fetchall()
rows = con.execute(
    "SELECT t.tenant, t.state, t.slot_start, t.since, a.started_at, a.finished_at "
    "FROM rollout_tenants t JOIN rollout_attempts a ON a.maintenance_id = t.maintenance_id "
    "AND a.tenant = t.tenant AND a.step = 'action' WHERE t.maintenance_id = ? "
    "AND t.state = 'passed' ORDER BY t.position",
    (mid,)).fetchall()
print(f"tenant states: {states}")
for tenant, why in skipped[:3]:
    print(f"  skipped {tenant}: {why}")
lag = [r[4] - r[2] for r in rows]
run = [r[5] - r[4] for r in rows]
fin = [r[3] - r[5] for r in rows]
first, last = rows[0][2], max(r[3] for r in rows)
def q(xs, p): return sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]
print(f"{n} tenants, slot {slot}: first slot start -> last tenant passed {(last - first) / 1000:.1f} s "
      f"(the slot layout alone: {n} x {slot})")
for name, xs in [("slot start -> action start", lag), ("action run (sh -c true)", run),
                 ("action end -> passed", fin)]:
    print(f"  {name:28s} median {statistics.median(xs):6.0f} ms   p95 {q(xs, .95):6.0f} ms   max {max(xs):6.0f} ms")
print(f"  upkeep CPU during the rollout: {(c1 - c0) * 1000 / tck:.0f} ms "
      f"({(c1 - c0) * 1000 / tck / n:.1f} ms per tenant, the status page's rebuilds included)")
PY
