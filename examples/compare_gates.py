"""Run the CleanRL-style examples under several gates, seed by seed, and print a table.

The arms of one seed run back to back in one process (timings on a shared machine are
noisy: compare them side by side). Each run's JSON line is appended to ``--out``; the
table shows, per arm, the mean over seeds and every seed's value of the chosen metrics.

Usage:
    .venv/bin/python examples/compare_gates.py --algo ppo --seeds 1 2 3 \\
        --arms none wrapper:approve-all deferred:approve-all rollout:approve-all \\
        wrapper:veto-all rollout:veto-all --out runs/ppo_cartpole.jsonl -- \\
        --total-timesteps 20000

An arm is ``GATE[:JUDGE[:MODE]]``; everything after ``--`` goes to every run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cleanrl_dqn
import cleanrl_ppo

METRICS = ("mean_return_last20", "harm_per_episode_last20", "eval_return",
           "eval_harm_per_episode", "eval_delivery_rate", "judged", "vetoed", "wall_s")
#: Metrics shown with two decimals (rates and per-episode counts below 1).
FINE = ("harm_per_episode_last20", "eval_harm_per_episode", "eval_delivery_rate")


def arm_argv(arm: str) -> list[str]:
    """``GATE[:JUDGE[:MODE]]`` as command-line arguments of the examples."""
    parts = arm.split(":")
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"arm {arm!r}: write GATE[:JUDGE[:MODE]], e.g. wrapper:veto-all.")
    argv = ["--gate", parts[0]]
    if len(parts) > 1:
        argv += ["--judge", parts[1]]
    if len(parts) > 2:
        argv += ["--mode", parts[2]]
    return argv


def table(results: Sequence[dict[str, Any]], arms: Sequence[str]) -> str:
    """A markdown table: per arm, each metric's mean over seeds and the per-seed values."""
    by_arm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_arm[r["arm"]].append(r)
    metrics = [m for m in METRICS if any(r.get(m) is not None for r in results)]
    lines = ["| arm | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for arm in arms:
        cells = []
        for m in metrics:
            values = [r.get(m) for r in by_arm[arm] if r.get(m) is not None]
            if not values:
                cells.append("-")
                continue
            mean = sum(values) / len(values)
            digits = 2 if m in FINE or max(abs(v) for v in values) < 10 else 1
            each = ", ".join(f"{v:g}" if isinstance(v, int) else f"{v:.{digits}f}"
                             for v in values)
            cells.append(f"{mean:.{digits}f} ({each})")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algo", choices=("ppo", "dqn"), default="ppo")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--arms", nargs="+", required=True)
    p.add_argument("--out", help="append every run's JSON line to this file")
    args = p.parse_args(argv)
    example = cleanrl_ppo if args.algo == "ppo" else cleanrl_dqn
    results = []
    for seed in args.seeds:
        for arm in args.arms:
            run_args = example.parse_args([*arm_argv(arm), "--seed", str(seed), *passthrough])
            result = example.train(run_args)
            result.pop("_agent", None)
            result["arm"] = arm
            line = json.dumps(result)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(line + "\n")
            results.append(result)
    print(table(results, args.arms))
    return results


if __name__ == "__main__":
    main()
