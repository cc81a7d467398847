#!/usr/bin/env bash
# What one check costs, per probe kind: each kind probes a real local peer at a fixed rate
# (default 1,000 checks/s) for SECONDS with the server's own probe code
# (crates/upkeep-engine/examples/probe_cost.rs, release build), and the prober's CPU time is
# divided by the checks made. Peers: a second upkeep serving /healthz (http, tcp), the
# machine's PostgreSQL, MariaDB, Redis and Mosquitto at their usual ports (the same URLs as
# scripts/test.sh), 127.0.0.1 (icmp), net-snmp's snmpd started here with a v2c community and
# an SNMPv3 authPriv user (snmp), and OpenSSH's sshd started here (ssh: its banner; sshd forks
# a process per connection, so SSH_RATE, default 50/s, is its rate; PostgreSQL likewise, PG_RATE),
# Dovecot (imap), aiosmtpd (smtp: Python, SMTP_RATE, default 200/s), and bench/kind_peers.py:
# a Docker Engine API on a unix socket (docker) and an RDAP server (domain); and
# crates/upkeep-engine/examples/probe_peers.rs, the probe tests' own peers in a process of their
# own: their DNS responder (dns), their TLS endpoint with a self-signed certificate (tls), a
# WebSocket echo server (websocket) and tonic-health's gRPC health server (grpc); TLS_RATE,
# default 500/s, is the tls rate.
# Usage: bench/kinds.sh [RATE] [SECONDS] [MONITOR...]   (defaults 1000 and 10, every monitor)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rate=${1:-1000}
secs=${2:-10}
shift $(( $# > 2 ? 2 : $# )) || true
bin=target/release/upkeep
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$dir" 2>/dev/null || true' EXIT
target_port=18292

if [ "${BUILD:-1}" = 1 ]; then   # BUILD=0: use the release binaries as they are
  cargo build --release -q -p upkeep --bin upkeep
  cargo build --release -q -p upkeep-engine --example probe_cost --example probe_peers
fi
start_probe_target "$target_port"
until curl -fs "http://127.0.0.1:$target_port/healthz" >/dev/null; do sleep 0.05; done

snmp_port=18293
cat > "$dir/snmpd.conf" <<CONF
rocommunity bench-community 127.0.0.1
createUser bench SHA-256 bench-auth-key AES bench-priv-key
rouser bench priv
CONF
mkdir -p "$dir/snmp"
/usr/sbin/snmpd -f -Lo -C -c "$dir/snmpd.conf" -p "$dir/snmpd.pid" \
  -I -smux,mteTrigger,mteTriggerConf --persistentDir="$dir/snmp" "udp:127.0.0.1:$snmp_port" >/dev/null 2>&1 &
pids+=($!)

ssh_port=18294
ssh-keygen -q -t ed25519 -N '' -f "$dir/ssh_host_key"
cat > "$dir/sshd_config" <<CONF
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $dir/ssh_host_key
PidFile $dir/sshd.pid
StrictModes no
MaxStartups 1000
LoginGraceTime 5
CONF
/usr/sbin/sshd -D -f "$dir/sshd_config" >/dev/null 2>&1 &
pids+=($!)
ssh_rate=${SSH_RATE:-50}

# Dovecot (imap, no TLS: the greeting, CAPABILITY and LOGOUT).
imap_port=18295
mkdir -p "$dir/dovecot/run" "$dir/dovecot/state"
cat > "$dir/dovecot.conf" <<CONF
base_dir = $dir/dovecot/run
state_dir = $dir/dovecot/state
log_path = /dev/null
protocols = imap
listen = 127.0.0.1
ssl = no
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$dir/dovecot
}
service imap-login {
  inet_listener imap {
    port = $imap_port
  }
  # Dovecot's high-performance mode: login processes that serve many clients each, instead
  # of one process forked per connection.
  service_count = 0
  process_min_avail = 2
  client_limit = 4000
}
CONF
/usr/sbin/dovecot -F -c "$dir/dovecot.conf" >/dev/null 2>&1 &
pids+=($!)

# aiosmtpd (smtp), from the Python that scripts/test.sh prepares.
smtp_port=18296
python=${UPKEEP_TEST_PYTHON:-.venv/bin/python3}
"$python" -m aiosmtpd -n -l "127.0.0.1:$smtp_port" >/dev/null 2>&1 &
pids+=($!)
smtp_rate=${SMTP_RATE:-200}

# A Docker Engine API on a unix socket and an RDAP server (bench/kind_peers.py).
rdap_port=18297
python3 bench/kind_peers.py "$dir/docker.sock" "$rdap_port" &
pids+=($!)
# The probe tests' DNS responder, TLS endpoint, WebSocket server and gRPC health server
# (examples/probe_peers.rs), on ports they pick: it prints `KIND ADDRESS` for each.
target/release/examples/probe_peers > "$dir/peers.txt" &
pids+=($!)
for _ in $(seq 100); do
  [ "$(wc -l < "$dir/peers.txt")" -ge 4 ] && break
  sleep 0.05
done
peer() {
  awk -v kind="$1" '$1 == kind { print $2 }' "$dir/peers.txt" | grep . || { echo "probe_peers did not start its $1 peer" >&2; exit 1; }
}
dns_peer=$(peer dns)
tls_peer=$(peer tls)
websocket_peer=$(peer websocket)
grpc_peer=$(peer grpc)
# The TLS endpoint makes a full handshake per check on a runtime sharing the machine's two
# cores: TLS_RATE (default 500/s) is its rate.
tls_rate=${TLS_RATE:-500}
# PostgreSQL forks a backend per session and allows 100 at once: 1,000 new sessions a second
# exhaust it ("too many clients"); PG_RATE (default 200/s) is its rate.
pg_rate=${PG_RATE:-200}
sleep 1

pg=${UPKEEP_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
my=${UPKEEP_TEST_MARIADB_URL:-mysql://root@127.0.0.1:3306/test}
redis=${UPKEEP_TEST_REDIS_URL:-redis://127.0.0.1:6379}
mqtt=${UPKEEP_TEST_MQTT_URL:-mqtt://127.0.0.1:1883}
cat > "$dir/kinds.yaml" <<YAML
page: { name: Kinds, url: "http://127.0.0.1:$target_port", timezone: UTC }
components:
  c: { name: C }
monitors:
  http: { component: c, http: { url: "http://127.0.0.1:$target_port/healthz" }, timeout: 5s }
  tcp: { component: c, tcp: { address: "127.0.0.1:$target_port" }, timeout: 5s }
  mysql: { component: c, mysql: { url: "$my", query: "SELECT 1" }, timeout: 5s }
  redis: { component: c, redis: { url: "$redis" }, timeout: 5s }
  mqtt: { component: c, mqtt: { url: "$mqtt" }, timeout: 5s }
  icmp: { component: c, icmp: { host: 127.0.0.1, count: 1 }, timeout: 2s }
  snmp-v2c: { component: c, snmp: { address: "127.0.0.1:$snmp_port", oid: 1.3.6.1.2.1.1.3.0, community: bench-community }, timeout: 5s }
  imap: { component: c, imap: { url: "imap://127.0.0.1:$imap_port", starttls: never }, timeout: 5s }
  docker: { component: c, docker: { container: web-1, host: "unix://$dir/docker.sock" }, timeout: 5s }
  domain: { component: c, domain: { name: example.test, rdap_server: "http://127.0.0.1:$rdap_port/" }, timeout: 5s }
  dns: { component: c, dns: { name: bench.upkeep.test, resolver: "$dns_peer", expected: 10.1.2.3 }, timeout: 5s }
  websocket: { component: c, websocket: { url: "ws://$websocket_peer/", message: ping }, timeout: 5s }
  grpc: { component: c, grpc: { url: "grpc://$grpc_peer" }, timeout: 5s }
  snmp-v3: { component: c, snmp: { address: "127.0.0.1:$snmp_port", oid: 1.3.6.1.2.1.1.3.0, user: bench, auth_protocol: sha256, auth_key: bench-auth-key, priv_key: bench-priv-key }, timeout: 5s }
YAML
cat > "$dir/ssh.yaml" <<YAML
page: { name: Kinds, url: "http://127.0.0.1:$target_port", timezone: UTC }
components:
  c: { name: C }
monitors:
  ssh: { component: c, ssh: { address: "127.0.0.1:$ssh_port" }, timeout: 5s }
YAML
cat > "$dir/smtp.yaml" <<YAML
page: { name: Kinds, url: "http://127.0.0.1:$target_port", timezone: UTC }
components:
  c: { name: C }
monitors:
  smtp: { component: c, smtp: { url: "smtp://127.0.0.1:$smtp_port", starttls: never }, timeout: 5s }
YAML
cat > "$dir/tls.yaml" <<YAML
page: { name: Kinds, url: "http://127.0.0.1:$target_port", timezone: UTC }
components:
  c: { name: C }
monitors:
  tls: { component: c, tls: { address: "$tls_peer" }, timeout: 5s }
YAML
cat > "$dir/postgres.yaml" <<YAML
page: { name: Kinds, url: "http://127.0.0.1:$target_port", timezone: UTC }
components:
  c: { name: C }
monitors:
  postgres: { component: c, postgres: { url: "$pg", query: "SELECT 1" }, timeout: 5s }
YAML
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); rate $rate/s for $secs s per kind"
target/release/examples/probe_cost "$dir/kinds.yaml" "$rate" "$secs" "$@"
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -qx smtp; then
  echo "smtp at $smtp_rate/s:"
  target/release/examples/probe_cost "$dir/smtp.yaml" "$smtp_rate" "$secs" | tail -n +2
fi
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -qx tls; then
  echo "tls at $tls_rate/s:"
  target/release/examples/probe_cost "$dir/tls.yaml" "$tls_rate" "$secs" | tail -n +2
fi
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -qx postgres; then
  echo "postgres at $pg_rate/s:"
  target/release/examples/probe_cost "$dir/postgres.yaml" "$pg_rate" "$secs" | tail -n +2
fi
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -qx ssh; then
  echo "ssh at $ssh_rate/s:"
  target/release/examples/probe_cost "$dir/ssh.yaml" "$ssh_rate" "$secs" | tail -n +2
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
