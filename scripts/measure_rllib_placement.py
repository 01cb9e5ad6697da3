"""Measure the two RLlib placements of the veto side by side (docs/rllib.md).

    .venv/bin/python scripts/measure_rllib_placement.py --out runs/rllib-placement

Starts one local Ray (2 CPUs) and runs, on DeliveryCurb-v0 with the reproduction's PPO
settings, each judge x EnvRunner layout for both placements (the EnvRunner callback and
the learner connector), then what each does with batch_mode="truncate_episodes" and with
a judge that raises. Prints a JSON object (also written to OUT/placement.json) and a
Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import ray

from consent_gym.benchmarks.rllib_placement import (
    PLACEMENTS,
    chunk_behaviour,
    compare_arms,
    failure_behaviour,
    run_arm,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/rllib-placement"))
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--runners", type=int, nargs="+", default=[0, 2],
                        help="num_env_runners layouts (default 0 2)")
    parser.add_argument("--sleep-per-call", type=float, default=1.0,
                        help="the slow-call judge's seconds per judge call")
    parser.add_argument("--sleep-per-text", type=float, default=0.05,
                        help="the slow-text judge's seconds per episode text")
    parser.add_argument("--judges", nargs="+", default=["rule", "slow-call", "slow-text"])
    parser.add_argument("--mode", choices=("zero", "penalty", "block"), default="zero",
                        help="the veto mode of every arm (default zero)")
    parser.add_argument("--skip-behaviour", action="store_true",
                        help="skip the truncate_episodes and failing-judge checks")
    args = parser.parse_args()
    sleeps = {"rule": (0.0, 0.0), "slow-call": (args.sleep_per_call, 0.0),
              "slow-text": (0.0, args.sleep_per_text)}
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"mode": args.mode, "load_before": os.getloadavg(), "started": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "arms": [], "comparisons": []}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for judge in args.judges:
            per_call, per_text = sleeps[judge]
            for runners in args.runners:
                arms = [run_arm(placement, "rule", args.out / f"{judge}-r{runners}",
                                iterations=args.iterations, env_runners=runners,
                                sleep_per_call=per_call, sleep_per_text=per_text,
                                mode=args.mode)
                        for placement in PLACEMENTS]
                for arm in arms:
                    report["arms"].append({**arm.summary(), "judge": judge,
                                           "load": os.getloadavg()})
                report["comparisons"].append({"judge": judge, "env_runners": runners,
                                              **compare_arms(*arms)})
        if not args.skip_behaviour:
            report["truncate_episodes"] = {p: chunk_behaviour(p, args.out / "chunks")
                                           for p in PLACEMENTS}
            report["failing_judge"] = {p: failure_behaviour(p, args.out) for p in PLACEMENTS}
    finally:
        ray.shutdown()
    report["load_after"] = os.getloadavg()
    text = json.dumps(report, indent=1, default=str)
    (args.out / "placement.json").write_text(text)
    print(text)
    print("\n| judge | runners | placement | s/iter (median) | judge copies | in driver | "
          "calls/iter | texts/iter | judge s/iter (all, busiest process) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for a in report["arms"]:
        print(f"| {a['judge']} | {a['env_runners']} | {a['placement']} | "
              f"{a['iteration_s_median']:.2f} | {a['judge_copies']} | {a['judge_in_driver']} | "
              f"{a['judge_calls_per_iter']:.1f} | {a['texts_per_iter']:.1f} | "
              f"{a['judge_seconds_per_iter']:.2f}, "
              f"{a['busiest_judge_seconds_per_iter']:.2f} |")


if __name__ == "__main__":
    main()
