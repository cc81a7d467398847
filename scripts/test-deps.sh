#!/usr/bin/env bash
# Installs the system packages of the real peers the end-to-end tests talk to, when they are
# missing (this needs root or sudo):
#   Debian: chromium (headless browser test), prometheus-alertmanager (webhook + silences),
#           prometheus (its promtool checks /metrics), nginx-light (the reverse proxy in
#           front of upkeep in the proxy tests, and the benchmarks' baseline), snmpd (the SNMP
#           agent of the snmp probe tests), dovecot-imapd (the IMAP server of the imap probe
#           tests), openssh-server (the sshd of the ssh probe tests), wrk (benchmarks only),
#           nftables and iproute2 (the icmp probe's test hosts in network namespaces).
# The Python peers need no root: scripts/test.sh installs them into the project's .venv.
# Idempotent: does nothing when everything is present. Tests that need a peer skip loudly
# when it is absent; .ci/run calls this script first and requires every peer.
set -euo pipefail

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v prometheus-alertmanager >/dev/null 2>&1 || [ -x /usr/bin/prometheus-alertmanager ] || need_apt+=(prometheus-alertmanager)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v snmpd >/dev/null 2>&1 || [ -x /usr/sbin/snmpd ] || need_apt+=(snmpd)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need_apt+=(nftables)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need_apt+=(iproute2)
[ -x /usr/sbin/dovecot ] || need_apt+=(dovecot-imapd)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
if [ "${UPKEEP_BENCH_DEPS:-0}" = 1 ]; then
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
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
