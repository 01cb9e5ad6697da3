#!/usr/bin/env bash
# Mutation testing of the modules that carry consent-gym's guarantees, with mutmut.
# Config: [tool.mutmut] in pyproject.toml (modules, test selection). Results and every
# surviving mutant with its explanation: docs/reliability.md, "Mutation testing".
#
#   bash scripts/mutation.sh                                   # every module in only_mutate
#   bash scripts/mutation.sh 'consent_gym.judges.base.*'       # one module (mutant glob)
#   bash scripts/mutation.sh 'consent_gym.gate.*' 'consent_gym.wrapper.*' 'consent_gym.vector.*'
#
# Each mutant runs only the selected tests that executed the mutated function (mutmut
# records that in a first, traced run of the selection). Results are cached in mutants/
# (git-ignored); `rm -rf mutants` after changing the code or the tests, or cached survivors
# are reported again. MUTATION_JOBS mutants run at once (default 1: a shared machine);
# MUTATION_TIMEOUT bounds the whole run (default 1800 s), MUTATION_WALL_LIMIT one mutant's
# (default 180 s). Prints mutmut's totals and every mutant not killed; exits 1 when any
# survived.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-.venv/bin/python}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# mutmut forks every mutant's test run from one process that has already run torch; a
# forked child that inherits a started OpenMP thread pool can deadlock in its first
# matmul, which mutmut reports as a time-out. One thread means no pool to inherit.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# mutmut limits each mutant's CPU seconds, so a mutant that deadlocks (a thread that never
# returns: pipelined judging) would wait forever without using any. This watchdog sends
# SIGXCPU, mutmut's own time-out signal, to a mutant's process still alive after
# MUTATION_WALL_LIMIT seconds (default 180), so mutmut reports it as a time-out.
watchdog() {
    while sleep 10; do
        ps -eo pid=,etimes=,args= | awk -v limit="${MUTATION_WALL_LIMIT:-180}" \
            '$3 == "mutmut:" && $2 > limit {print $1}' | xargs -r kill -XCPU 2>/dev/null || true
    done
}
watchdog &
watchdog_pid=$!
trap 'kill "$watchdog_pid" 2>/dev/null || true' EXIT
status=0
timeout "${MUTATION_TIMEOUT:-1800}" "$py" -m mutmut run --max-children "${MUTATION_JOBS:-1}" "$@" \
    || status=$?
if [ "$status" -ne 0 ]; then
    echo "mutmut run failed or timed out (exit status $status)" >&2
    exit "$status"
fi
"$py" -m mutmut export-cicd-stats >/dev/null
echo "== mutmut totals (every cached mutant): $(cat mutants/mutmut-cicd-stats.json)"
# `mutmut results` lists the mutants that were not killed (survived, timeout, no tests).
survivors="$("$py" -m mutmut results 2>/dev/null | grep -v ': not checked$' || true)"
if [ -n "$survivors" ]; then
    echo "== not killed (see each with: $py -m mutmut show NAME)"
    echo "$survivors"
    if echo "$survivors" | grep -qE ': (survived|no tests)$'; then
        exit 1
    fi
fi
echo "== every mutant killed (or timed out: a hang the tests detected)"
