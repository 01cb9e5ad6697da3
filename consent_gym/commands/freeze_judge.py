"""``consent-gym freeze-judge``: lock a served judge's behaviour before training with it.

Reads the canary texts (plain texts and the judge's own prompts around fixed episodes) on
the server several times, the later readings with all canaries in flight at once, and
writes the log-probs with a tolerance calibrated from the differences between readings to
a lock file (:class:`~consent_gym.judges.judge_lock.JudgeLock`). Train with
``--judge served --judge-lock LOCK.json``; the judge re-reads the canaries at start, with
every batch (one in turn) and every N batches, and stops training with a
``FrozenJudgeError`` when the server no longer behaves as locked.

Example::

    consent-gym freeze-judge --base-url http://127.0.0.1:8000/v1 --model judge \\
        --out judge.lock.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from consent_gym.commands.arguments import int_at_least


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``freeze-judge`` on ``subparsers``; sets ``func=run``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "freeze-judge",
        help="record a served judge's canary log-probs in a lock file (train with it)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--base-url", required=True, metavar="URL",
                        help="the server's OpenAI-compatible root, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model", required=True, metavar="NAME",
                        help="the model name the server serves")
    parser.add_argument("--method", choices=("channel", "yesno"), default="channel",
                        help="the judge's method: channel locks prompt log-probs, yesno the "
                             "chat's next-token top log-probs (default channel)")
    parser.add_argument("--out", type=Path, required=True, metavar="LOCK.json",
                        help="where to write the lock")
    parser.add_argument("--repeats", type=int_at_least(2), default=3,
                        help="readings of the canaries that calibrate the tolerance (3)")
    parser.add_argument("--api-key-env", default=None, metavar="VAR",
                        help="environment variable holding the server's API key")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds one request may take (120)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``freeze-judge``; returns the exit code (0 ok, 2 the server could not be locked)."""
    from consent_gym.judges.served import ServedJudge, freeze_served_judge
    from consent_gym.judges.served_client import ServerError

    try:
        with ServedJudge(args.base_url, args.model, method=args.method, allow_unlocked=True,
                         cache=False, api_key_env=args.api_key_env,
                         timeout_s=args.timeout) as judge:
            lock = freeze_served_judge(judge, repeats=args.repeats)
    except (ServerError, ValueError) as exc:
        print(f"consent-gym freeze-judge: {exc}", file=sys.stderr)
        return 2
    path = lock.save(args.out)
    calibration = lock.calibration
    print(f"freeze-judge: {len(lock.readings)} canaries ({lock.kind} log-probs) read "
          f"{calibration['repeats']} times on {lock.server}; largest difference between "
          f"readings {calibration['max_abs_diff']:.3g} nats -> tolerance "
          f"{lock.tolerance:.3g}")
    print(f"freeze-judge: wrote {path} (digest {lock.digest[:16]}); train with "
          f"--judge served --base-url {args.base_url} --served-model {args.model} "
          f"--judge-lock {path}")
    return 0
