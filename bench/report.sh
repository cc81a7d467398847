#!/usr/bin/env bash
# One-year availability report over 1,000 components (target: under one second).
#
# Generates a year (2025, Europe/Rome) of minute-resolution monitoring history into a fresh
# SQLite database with Python's sqlite3: one HTTP monitor per component, status changes at
# whole minutes (on average one outage a day of 1–30 minutes, a monthly 2 h maintenance
# window per component), plus the hourly and daily rollups
# the monitoring engine keeps for a year. Then times `upkeep report availability --year 2025`
# (release build) in JSON with daily series and as a table, and reports the database size.
# Usage: [BIN=path/to/upkeep] bench/report.sh [COMPONENTS] [RUNS]    (defaults 1000 and 5)
set -euo pipefail
n=${1:-1000}
runs=${2:-5}
bin=${BIN:-target/release/upkeep}
[ -x "$bin" ] || cargo build --release -p upkeep
dir=$(mktemp -d)
if [ -n "${KEEP:-}" ]; then echo "keeping $dir"; else trap 'rm -rf "$dir"' EXIT; fi
db="$dir/upkeep.db"
cfg="$dir/upkeep.yaml"

{
  echo 'page: { name: Bench, url: "https://status.example", timezone: Europe/Rome }'
  echo 'components:'
  for i in $(seq 1 "$n"); do echo "  c$i: { name: Component $i }"; done
  echo 'monitors:'
  for i in $(seq 1 "$n"); do echo "  m$i: { component: c$i, http: { url: \"http://127.0.0.1:9/\" } }"; done
  echo 'slos:'
  for i in $(seq 1 10); do echo "  c$i: { objective: 99.9 }"; done
} > "$cfg"

"$bin" migrate --database "sqlite://$db" >/dev/null
python3 - "$db" "$n" <<'PY'
import random, sqlite3, sys, time, json
db, n = sys.argv[1], int(sys.argv[2])
random.seed(42)
con = sqlite3.connect(db)
start = 1735686000000          # 2025-01-01T00:00:00+01:00
end = 1767222000000            # 2026-01-01T00:00:00+01:00
minute, hour, day = 60_000, 3_600_000, 86_400_000
t0 = time.time()
events, rollups_h, rollups_d = [], {}, {}
for c in range(1, n + 1):
    m = f"m{c}"
    events.append((m, start - minute, "pending", "up", "first result"))
    t = start
    while True:
        t += random.randint(6 * 60, 42 * 60) * minute   # next outage within 0.25–1.75 days
        if t >= end:
            break
        length = random.randint(1, 30) * minute
        events.append((m, t, "up", "down", "status 503"))
        events.append((m, min(t + length, end), "down", "up", "status 200"))
        for h in range(t - t % hour, min(t + length, end), hour):
            lo, hi = max(h, t), min(h + hour, t + length)
            rollups_h[(m, h)] = rollups_h.get((m, h), 0) + (hi - lo)
        t += length
con.executemany("INSERT INTO monitor_events (source, at, from_status, to_status, reason) VALUES (?,?,?,?,?)", events)
rows = []
for c in range(1, n + 1):
    m = f"m{c}"
    for h in range(start - start % hour, end, hour):
        down = rollups_h.get((m, h), 0)
        rows.append((m, hour, h, 60, 1 if down else 0, 6000, 250, down))
        d = h - h % day
        rollups_d[(m, d)] = rollups_d.get((m, d), 0) + down
    if len(rows) > 200_000:
        con.executemany("INSERT INTO check_rollups VALUES (?,?,?,?,?,?,?,?)", rows); rows = []
for (m, d), down in rollups_d.items():
    rows.append((m, day, d, 1440, 1 if down else 0, 144000, 250, down))
con.executemany("INSERT INTO check_rollups VALUES (?,?,?,?,?,?,?,?)", rows)
con.commit()
print(f"generated {len(events)} status changes and {n * 8760 + len(rollups_d)} rollups in {time.time() - t0:.1f} s")
PY
# Maintenance through the schema the server owns (its column list, read from the table).
python3 - "$db" "$n" <<'PY'
import sqlite3, sys, random, json
db, n = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
cols = [r[1] for r in con.execute("PRAGMA table_info(maintenances)")]
start, day, hour = 1735686000000, 86_400_000, 3_600_000
rows = 0
for c in range(1, n + 1):
    for month in range(12):
        s = start + month * 30 * day + 2 * hour
        row = dict(id=f"mt{c:05d}{month:02d}xx"[:12], kind="planned", title="Monthly", description=None, reason=None,
                   starts_at=s, ends_at=s + 2 * hour, status="completed", components=json.dumps([f"c{c}"]),
                   tenants='"all"', checks="run", counts_as_downtime=0, notify_subscribers=1, window_id=None,
                   occurrence_key=None, sequence=0, scheduled_at=s - 30 * day, hold_reason=None, silence_id=None,
                   created_at=s - 30 * day, updated_at=s + 2 * hour, created_by="bench", revision=0, rollout=None)
        con.execute(f"INSERT INTO maintenances ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", [row[k] for k in cols])
        rows += 1
con.commit()
print(f"generated {rows} completed maintenances")
PY
sqlite3 "$db" 'VACUUM' 2>/dev/null || true
size=$(stat -c %s "$db")
echo "database: $((size / 1024 / 1024)) MiB ($size bytes) for $n components over one year"

time_it() {
  local label=$1; shift
  local best=999999 total=0
  for _ in $(seq 1 "$runs"); do
    local s e ms
    s=$(date +%s%N)
    "$@" >/dev/null
    e=$(date +%s%N)
    ms=$(( (e - s) / 1000000 ))
    total=$((total + ms))
    [ "$ms" -lt "$best" ] && best=$ms
  done
  echo "$label: best ${best} ms, mean $((total / runs)) ms over $runs runs (load $(cut -d' ' -f1 /proc/loadavg))"
}
time_it "report --format json" "$bin" report availability --year 2025 --format json --config "$cfg" --database "sqlite://$db"
time_it "report --format json --daily (365,000 day rows)" "$bin" report availability --year 2025 --format json --daily --config "$cfg" --database "sqlite://$db"
time_it "report --format table" "$bin" report availability --year 2025 --format table --config "$cfg" --database "sqlite://$db"
"$bin" report availability --year 2025 --format table --config "$cfg" --database "sqlite://$db" | sed -n '1,3p;$p'
