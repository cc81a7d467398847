#!/usr/bin/env bash
# Makes sure the PostgreSQL that the test suite uses answers on 127.0.0.1:5432, starting the
# machine's cluster if it is installed but stopped. Prints what it did; exits 1 if it cannot.
set -euo pipefail

host=127.0.0.1
port=5432

if pg_isready -h "$host" -p "$port" -q 2>/dev/null; then
  echo "postgres: answering on $host:$port"
  exit 0
fi

if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "postgres: starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    pg_isready -h "$host" -p "$port" -q 2>/dev/null && { echo "postgres: up"; exit 0; }
    sleep 1
  done
fi

echo "postgres: not reachable on $host:$port and could not be started" >&2
exit 1
