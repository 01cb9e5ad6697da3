#!/usr/bin/env bash
# Sets up .venv/ if needed, then runs everything CI runs: ruff, mypy, the fast test suite
# (doctests included), and the slow suite (training runs and real-model tests).
#   bash scripts/test.sh          # all of it
#   bash scripts/test.sh --fast   # skip the slow suite
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
py=.venv/bin/python
echo "== ruff"; $py -m ruff check .
echo "== mypy"; $py -m mypy
echo "== pytest (fast)"; $py -m pytest -q -m "not slow"
if [ "${1:-}" != "--fast" ]; then
    echo "== pytest (slow)"; $py -m pytest -q -m slow --durations=10
fi
