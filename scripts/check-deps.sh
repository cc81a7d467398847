#!/usr/bin/env bash
# Fails when a crate of the workspace (or the fuzz crate) declares a dependency it never uses.
# Installs cargo-machete from crates.io the first time (a few minutes of building).
set -euo pipefail
cd "$(dirname "$0")/.."

MACHETE_VERSION=0.9.2
if ! cargo machete --version 2>/dev/null | grep -q "$MACHETE_VERSION"; then
  echo "check-deps: installing cargo-machete $MACHETE_VERSION"
  cargo install cargo-machete --locked --version "$MACHETE_VERSION" --quiet
fi
cargo machete
