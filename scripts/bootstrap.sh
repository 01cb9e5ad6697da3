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
# llama-cpp-python (dev extra) compiles llama.cpp for this CPU. Without AMX: on these
# virtual machines the CPU reports AMX, but the llama.cpp server died of an illegal
# instruction (SIGILL on AMX `tilezero`, in libggml-cpu) at its first completion. AVX-512
# (with VNNI and BF16) stays on.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON}"
want="$( (cat pyproject.toml; echo "$CMAKE_ARGS") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    pip_args=(--disable-pip-version-check -q)
    # This machine keeps a CPU build of torch on disk; an unpinned torch would pull CUDA.
    [ -d /opt/wheels ] && pip_args+=(--find-links /opt/wheels)
    .venv/bin/python -m pip install "${pip_args[@]}" --upgrade pip
    .venv/bin/python -m pip install "${pip_args[@]}" "torch==2.13.0"
    # --no-cache-dir, and no llama-cpp-python kept from before: a build with other CMAKE_ARGS
    # would be taken as it is (pip's cache keys a built wheel by its source, not its flags).
    .venv/bin/python -m pip uninstall -q -y llama-cpp-python 2>/dev/null || true
    .venv/bin/python -m pip install "${pip_args[@]}" --no-cache-dir -e ".[dev]"
    echo "$want" > "$stamp"
fi
