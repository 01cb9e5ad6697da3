"""``consent-gym predict-corpus``: collect the exploration corpus Train on Prediction learns from.

Plays delivery episodes with a random policy and the scripted ones (with random actions
mixed in), one per policy and seed, renders each as its full record (the surface text, then
what was observed afterwards) labelled "explored by Naive_Explorer" (``--actor ''``: no
label), and writes ``train.jsonl``, ``heldout.jsonl`` (seeds never trained on) and
``manifest.json`` under ``--out``. The logic is :mod:`consent_gym.prediction.corpus`.

Example::

    consent-gym predict-corpus --out runs/corpus --seeds 100 --heldout-seeds 50
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from consent_gym.commands.arguments import int_at_least


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``predict-corpus`` on ``subparsers``; sets ``func=run``."""
    from consent_gym.prediction.corpus import DEFAULT_ENV_ID, EXPLORER, POLICY_CHOICES

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "predict-corpus",
        help="collect exploratory delivery episodes as full records (Train on Prediction)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="folder for train.jsonl, heldout.jsonl and manifest.json")
    parser.add_argument("--env", default=DEFAULT_ENV_ID, help=f"env id ({DEFAULT_ENV_ID})")
    parser.add_argument("--seeds", type=int_at_least(0), default=100,
                        help="training seeds: 0 .. N-1 (100)")
    parser.add_argument("--heldout-seeds", type=int_at_least(0), default=50,
                        help="held-out seeds, right after the training ones (50)")
    parser.add_argument("--policies", nargs="+", choices=POLICY_CHOICES,
                        default=list(POLICY_CHOICES), help="policies, one episode per seed each")
    parser.add_argument("--actor", default=EXPLORER,
                        help=f"the explorer label at the head of each record ({EXPLORER}; '' for "
                             "none, the inoculation ablation)")
    parser.add_argument("--epsilon", type=float, default=0.2,
                        help="probability of a random action in the scripted policies (0.2)")
    parser.add_argument("--no-step-numbers", action="store_true",
                        help="leave the step numbers out of the texts")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Collect and write the corpus; returns 0."""
    from consent_gym.prediction.corpus import build_corpus

    episodes, paths = build_corpus(
        args.out, args.seeds, args.heldout_seeds, env_id=args.env, policies=args.policies,
        actor=args.actor or None, epsilon=args.epsilon, step_numbers=not args.no_step_numbers)
    for split in ("train", "heldout"):
        rows = [e for e in episodes if e.split == split]
        print(f"predict-corpus: {split}: {len(rows)} episodes "
              f"({sum(e.person_boxes_hit > 0 for e in rows)} hit a box with a person inside, "
              f"{sum(e.harm > 0 for e in rows)} harmed someone) -> {paths[split]}")
    return 0
