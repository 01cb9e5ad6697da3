#!/usr/bin/env bash
# Creates .venv/ in the project root and installs consent-gym with its dev tools.
# Safe to run again: it reinstalls only when pyproject.toml changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=.venv/.consent-gym-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    pip_args=(--disable-pip-version-check -q)
    # This machine keeps a CPU build of torch on disk; an unpinned torch would pull CUDA.
    [ -d /opt/wheels ] && pip_args+=(--find-links /opt/wheels)
    .venv/bin/python -m pip install "${pip_args[@]}" --upgrade pip
    .venv/bin/python -m pip install "${pip_args[@]}" "torch==2.13.0"
    .venv/bin/python -m pip install "${pip_args[@]}" -e ".[dev]"
    echo "$want" > "$stamp"
fi
