"""``consent-gym bench``: what consent gating costs, measured side by side.

Subcommands:

- ``wrapper``: env steps/s raw vs under ``ConsentWrapper`` with a judge that costs
  nothing (recording and rendering only), CartPole and DeliveryCurb, interleaved.
- ``judge``: the default LLM judge's uncached episodes/s and tokens/s at several batch
  sizes and episode lengths, the fraction of this CPU's fp32 matmul rate it reaches,
  cached verdicts/s, load time cold and warm.
- ``train``: wall time of gated vs ungated PPO on DeliveryCurb for the same timesteps.

With ``--json`` the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

WRAPPER_ENVS = ("CartPole-v1", "consent_gym/DeliveryCurb-v0")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench`` and its subcommands; sets ``func=run``."""
    parser = subparsers.add_parser("bench", help="measure what consent gating costs")
    kinds = parser.add_subparsers(dest="bench", metavar="WHAT", required=True)
    wrapper = kinds.add_parser("wrapper", help="env steps/s raw vs under ConsentWrapper")
    wrapper.add_argument("--steps", type=int, default=20_000, help="steps per repetition")
    wrapper.add_argument("--repeats", type=int, default=5, help="interleaved repetitions")
    wrapper.add_argument("--env", action="append", default=None,
                         help=f"env id (repeatable; default: {', '.join(WRAPPER_ENVS)})")
    for sub in (wrapper,):
        sub.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark; prints a table, and a JSON line with ``--json``."""
    if args.bench == "wrapper":
        return _run_wrapper(args)
    raise ValueError(f"unknown benchmark {args.bench!r}")  # argparse prevents this


def _run_wrapper(args: argparse.Namespace) -> int:
    import consent_gym  # noqa: F401  (registers consent_gym/* ids)
    from consent_gym.benchmarks import bench_wrapper

    if args.steps < 1 or args.repeats < 1:
        raise SystemExit("consent-gym bench wrapper: --steps and --repeats must be >= 1")
    results = [bench_wrapper(env_id, steps=args.steps, repeats=args.repeats)
               for env_id in (args.env or WRAPPER_ENVS)]
    print(f"{'env':32} {'raw steps/s':>12} {'gated steps/s':>14} {'overhead':>9} {'episodes':>9}")
    for r in results:
        print(f"{r.env_id:32} {r.raw_steps_per_s:12.0f} {r.wrapped_steps_per_s:14.0f} "
              f"{r.overhead_ratio:9.3f} {r.episodes_judged:9d}")
    if args.json:
        print(json.dumps({
            "benchmark": "wrapper",
            "overhead_ratio": {r.env_id: r.overhead_ratio for r in results},
            "results": [r.to_dict() for r in results],
        }))
    return 0
