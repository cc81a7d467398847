#!/bin/sh
# An example rollback: upkeep runs it for a tenant whose action or health gate failed, with the
# same environment as the action (UPKEEP_STEP=rollback). Replace the echo with the real revert,
# e.g. `helm rollback "$UPKEEP_TENANT"`.
set -eu
echo "rolling back ${UPKEEP_TENANT} (${UPKEEP_VAR_HOST:-no host}) attempt ${UPKEEP_ATTEMPT}, key ${UPKEEP_IDEMPOTENCY_KEY}"
