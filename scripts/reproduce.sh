#!/usr/bin/env bash
# Sets up .venv/ if needed, then reproduces the delivery-curb scenario with the embedded
# default judge. Extra arguments go to `consent-gym reproduce delivery-curb`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/consent-gym reproduce delivery-curb "$@"
