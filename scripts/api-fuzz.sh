#!/usr/bin/env bash
# Property-based fuzzing of the admin API from its own OpenAPI document (schemathesis, from
# PyPI, installed here if missing): every generated request — valid, invalid, and stateful
# sequences — must be answered without a server error (5xx). Runs against a debug build of
# `upkeep serve` on a throw-away SQLite database.
# Usage: scripts/api-fuzz.sh [path/to/upkeep] [max-examples]   (default target/debug/upkeep, 40)
set -euo pipefail
bin=${1:-target/debug/upkeep}
examples=${2:-40}
port=18485

if ! command -v st >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi

dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
cat > "$dir/upkeep.yaml" <<YAML
page: { name: Fuzz, url: "http://127.0.0.1:$port", timezone: UTC }
server:
  rate_limit: { per_second: 0 }
  ping_rate_limit: { per_second: 0 }
  token_rate_limit: { per_second: 0 }
  # The public-side settings on, as a deployment behind a proxy has them.
  trusted_proxies: ["127.0.0.1/32"]
  metrics_token: fuzz-metrics-token-0123456789
  confirmation_mail_budget: { per_hour: 50, per_domain_per_hour: 5 }
maintenance:
  policy: { max_span: 7d, tenant_slot: 15m }
regions:
  eu: { timezone: Europe/Rome }
tenants:
  acme: { name: Acme, region: eu }
components:
  api: { name: API }
monitors:
  web: { component: api, http: { url: "http://127.0.0.1:$port/healthz" }, interval: 5s }
  job: { component: api, push: { key: job-key, period: 1h } }
YAML
db="sqlite://$dir/upkeep.db"
token=$("$bin" token create --role admin --name fuzz --database "$db" 2>/dev/null)
hook=$("$bin" token create --role hook --name fuzz-hook --database "$db" 2>/dev/null)
"$bin" serve --config "$dir/upkeep.yaml" --listen 127.0.0.1:$port --database "$db" 2>"$dir/log" &
pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

# Token revocation is left out: the stateful phase would revoke the fuzzer's own token.
st run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error \
  --exclude-path '/api/v1/tokens/{id}' \
  --max-examples "$examples" \
  --seed 1 \
  --no-color
# The narrowest role: every operation but the Alertmanager hook refuses it, never with a 5xx.
st run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --header "Authorization: Bearer $hook" \
  --checks not_a_server_error \
  --exclude-path '/api/v1/tokens/{id}' \
  --max-examples 5 \
  --phases examples,coverage,fuzzing \
  --seed 2 \
  --no-color
if grep -q "panicked" "$dir/log"; then
  echo "the server log shows a panic:" >&2
  grep -A5 panicked "$dir/log" >&2
  exit 1
fi
