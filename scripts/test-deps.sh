#!/usr/bin/env bash
# Installs the real peers the end-to-end tests talk to, when they are missing:
#   Debian: chromium (headless browser test), prometheus-alertmanager (webhook + silences),
#           prometheus (its promtool checks /metrics), wrk and nginx (benchmarks only);
#   PyPI:   feedparser (Atom/RSS), icalendar + recurring-ical-events (calendars),
#           aiosmtpd (a real SMTP server).
# Idempotent: does nothing when everything is present. Tests that need a peer skip loudly
# when it is absent; .ci/run calls this script first so that in CI they always run.
set -euo pipefail

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v prometheus-alertmanager >/dev/null 2>&1 || [ -x /usr/bin/prometheus-alertmanager ] || need_apt+=(prometheus-alertmanager)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
if [ "${UPKEEP_BENCH_DEPS:-0}" = 1 ]; then
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
  command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-deps: installing ${need_apt[*]} from Debian"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq >/dev/null || true
  # Installing a service package must not start it: the tests start their own instances.
  printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee /usr/sbin/policy-rc.d >/dev/null
  $sudo_cmd chmod +x /usr/sbin/policy-rc.d
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null \
    || echo "test-deps: apt-get install failed; the tests that need ${need_apt[*]} will skip"
  $sudo_cmd rm -f /usr/sbin/policy-rc.d
fi

py_missing=()
python3 -c 'import feedparser' 2>/dev/null || py_missing+=('feedparser>=6,<7')
python3 -c 'import icalendar' 2>/dev/null || py_missing+=('icalendar>=6,<7')
python3 -c 'import recurring_ical_events' 2>/dev/null || py_missing+=('recurring-ical-events>=3,<4')
python3 -c 'import aiosmtpd' 2>/dev/null || py_missing+=('aiosmtpd>=1.4,<2')
if [ ${#py_missing[@]} -gt 0 ]; then
  echo "test-deps: installing ${py_missing[*]} from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "${py_missing[@]}" \
    || echo "test-deps: pip install failed; the tests that need it will skip"
fi
