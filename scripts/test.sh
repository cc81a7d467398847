#!/usr/bin/env bash
# The whole test suite in one command, on a fresh machine too (a Rust toolchain and python3,
# no root). Arguments go to `cargo test` (e.g. `--locked`, or `-- FILTER`).
#
# 1. The Python peers (scripts/test-requirements.txt) go into the project-local virtual
#    environment .venv, made or updated here; the tests find it on their own, or through
#    UPKEEP_TEST_PYTHON when that is set.
# 2. PostgreSQL: the URL in UPKEEP_TEST_POSTGRES_URL when it is set (set and empty: no
#    PostgreSQL); otherwise postgres://postgres@127.0.0.1:5432/test when `psql` can connect to it.
#    MariaDB and Redis likewise: UPKEEP_TEST_MARIADB_URL (default mysql://root@127.0.0.1:3306/test)
#    UPKEEP_TEST_REDIS_URL (default redis://127.0.0.1:6379) and UPKEEP_TEST_MQTT_URL (Mosquitto,
#    default mqtt://127.0.0.1:1883) when their ports answer.
# 3. `cargo test --workspace --no-fail-fast`: every test that can run, runs.
# 4. The list of the tests that skipped for want of a peer (test, peer, how to get it), read from
#    the skip list they write. With UPKEEP_REQUIRE_PEERS=1 a missing peer fails its test instead.
#
# Exits with cargo's status: non-zero only when a test failed (or did not build).
set -uo pipefail
cd "$(dirname "$0")/.."

venv=.venv
requirements=scripts/test-requirements.txt
default_postgres=postgres://postgres@127.0.0.1:5432/test
fate=skip
[ "${UPKEEP_REQUIRE_PEERS:-}" = 1 ] && fate=fail

# --- Python peers
if [ -n "${UPKEEP_TEST_PYTHON:-}" ]; then
  echo "test: Python peers from UPKEEP_TEST_PYTHON=$UPKEEP_TEST_PYTHON"
elif ! command -v python3 >/dev/null 2>&1; then
  echo "test: no python3 on PATH: the tests that need Python packages will $fate"
else
  if [ ! -x "$venv/bin/python3" ]; then
    echo "test: making the Python environment $venv"
    python3 -m venv "$venv" >/dev/null 2>&1 || {
      rm -rf "$venv"
      echo "test: python3 could not make $venv (on Debian the package python3-venv provides" \
        "it): the tests that need Python packages will $fate"
    }
  fi
  if [ -x "$venv/bin/python3" ] && ! cmp -s "$requirements" "$venv/requirements.txt"; then
    echo "test: installing the Python peers into $venv ($requirements)"
    if "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check -r "$requirements"; then
      cp "$requirements" "$venv/requirements.txt"
    else
      echo "test: pip could not install $requirements: the tests that need them will $fate"
    fi
  fi
  [ -x "$venv/bin/python3" ] && export UPKEEP_TEST_PYTHON="$PWD/$venv/bin/python3"
fi

# --- PostgreSQL
if [ -n "${UPKEEP_TEST_POSTGRES_URL+set}" ]; then
  echo "test: PostgreSQL ${UPKEEP_TEST_POSTGRES_URL:-not used (UPKEEP_TEST_POSTGRES_URL is empty)}"
elif command -v psql >/dev/null 2>&1 \
  && psql -X -q -c 'SELECT 1' "$default_postgres" >/dev/null 2>&1 </dev/null; then
  export UPKEEP_TEST_POSTGRES_URL=$default_postgres
  echo "test: PostgreSQL $default_postgres"
else
  echo "test: no PostgreSQL at $default_postgres: the PostgreSQL halves of the tests will $fate"
fi

# --- MariaDB and Redis (the database probes' tests)
server_peer() { # VAR NAME DEFAULT_URL PORT
  if [ -n "${!1+set}" ]; then
    echo "test: $2 ${!1:-not used ($1 is empty)}"
  elif (exec 3<>"/dev/tcp/127.0.0.1/$4") 2>/dev/null; then
    export "$1=$3"
    echo "test: $2 $3"
  else
    echo "test: no $2 at 127.0.0.1:$4: the tests that need it will $fate"
  fi
}
server_peer UPKEEP_TEST_MARIADB_URL MariaDB mysql://root@127.0.0.1:3306/test 3306
server_peer UPKEEP_TEST_REDIS_URL Redis redis://127.0.0.1:6379 6379
server_peer UPKEEP_TEST_MQTT_URL Mosquitto mqtt://127.0.0.1:1883 1883

# --- The tests
target_dir=${CARGO_TARGET_DIR:-target}
mkdir -p "$target_dir"
export UPKEEP_SKIP_LIST="$PWD/$target_dir/upkeep-test-skips.txt"
rm -f "$UPKEEP_SKIP_LIST"

cargo test --workspace --no-fail-fast "$@"
status=$?

# --- What did not run
echo
if [ -s "$UPKEEP_SKIP_LIST" ]; then
  echo "== skipped for want of a peer ($(sort -u "$UPKEEP_SKIP_LIST" | wc -l) test halves or tests):"
  sort -u "$UPKEEP_SKIP_LIST" | awk -F'\t' '
    { tests[$2 "\t" $3] = tests[$2 "\t" $3] "\n    " $1 }
    END { for (k in tests) { split(k, p, "\t"); printf "  %s: %s%s\n", p[1], p[2], tests[k] } }'
else
  echo "== skipped for want of a peer: none"
fi
exit $status
