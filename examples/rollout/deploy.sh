#!/bin/sh
# An example rollout action: upkeep runs it once per tenant, inside the tenant's slot, with
#   UPKEEP_MAINTENANCE UPKEEP_TENANT UPKEEP_STEP UPKEEP_ATTEMPT UPKEEP_IDEMPOTENCY_KEY
#   UPKEEP_SLOT_START UPKEEP_SLOT_END and each tenant variable as UPKEEP_VAR_<NAME>.
# Exit 0 for success; anything else fails the tenant (its rollback runs). Replace the echo with
# the real update, e.g. `helm upgrade "$UPKEEP_TENANT" ./chart --set host="$UPKEEP_VAR_HOST"`,
# and make it idempotent on UPKEEP_IDEMPOTENCY_KEY: after a crash upkeep may run the same
# attempt again with the same key (on_unknown: retry).
set -eu
echo "deploying ${UPKEEP_TENANT} (${UPKEEP_VAR_HOST:-no host}) attempt ${UPKEEP_ATTEMPT}, key ${UPKEEP_IDEMPOTENCY_KEY}"
