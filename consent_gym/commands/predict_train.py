"""``consent-gym predict-train``: train a copy of the judge's model to predict the world.

Fine-tunes a copy of the frozen judge's causal LM (the embedded Gemma 3 270M, or
``--base DIR``) as a plain language model on a corpus's training records (LoRA on
``q_proj``/``v_proj``, merged), bounded by ``--steps`` and ``--max-minutes``, and saves it
to ``--out`` with ``training_record.json`` (corpus sha256, settings, loss curve, both
fingerprints). The original is checked bit for bit afterwards. The logic is
:mod:`consent_gym.prediction.training`; judge with the copy through
:class:`consent_gym.judges.prediction.PredictThenJudge`.

Example::

    consent-gym predict-corpus --out runs/corpus
    consent-gym predict-train --corpus runs/corpus/train.jsonl --out runs/predictor \\
        --max-minutes 12 --threads 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from consent_gym.commands.arguments import int_at_least


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``predict-train`` on ``subparsers``; sets ``func=run``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "predict-train",
        help="fine-tune a copy of the judge's model on episode records (Train on Prediction)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--corpus", type=Path, required=True, metavar="TRAIN.jsonl",
                        help="a corpus's training split (consent-gym predict-corpus)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="the new checkpoint's folder (must not exist or be empty)")
    parser.add_argument("--base", type=Path, default=None, metavar="DIR",
                        help="the judge's model folder (default: the embedded Gemma 3 270M)")
    parser.add_argument("--steps", type=int_at_least(1), default=200,
                        help="optimiser steps at most (200)")
    parser.add_argument("--max-minutes", type=_positive, default=12.0,
                        help="wall-clock budget of the training loop (12)")
    parser.add_argument("--lr", type=_positive, default=1e-3, help="learning rate (1e-3)")
    parser.add_argument("--rank", type=int_at_least(1), default=8, help="LoRA rank (8)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=8,
                        help="texts per step (8)")
    parser.add_argument("--max-tokens", type=int_at_least(8), default=192,
                        help="tokens kept per text (192)")
    parser.add_argument("--seed", type=int_at_least(0), default=0, help="seed (0)")
    parser.add_argument("--threads", type=int_at_least(1), default=None,
                        help="torch threads (default: torch's choice)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Train and save the copy; returns 0, or 2 for an unusable corpus or output folder."""
    import torch

    from consent_gym.prediction.corpus import file_sha256, read_corpus
    from consent_gym.prediction.training import train_prediction_copy

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        rows = read_corpus(args.corpus, split="train")
    except (OSError, ValueError) as exc:
        print(f"consent-gym predict-train: {exc}", file=sys.stderr)
        return 2
    labels = sorted({str(r.get("actor")) for r in rows if r.get("actor")})
    try:
        train_prediction_copy(
            [r["text"] for r in rows], args.out, base=args.base, steps=args.steps,
            max_minutes=args.max_minutes, lr=args.lr, rank=args.rank,
            batch_size=args.batch_size, max_tokens=args.max_tokens, seed=args.seed,
            corpus_sha256=file_sha256(args.corpus), label=", ".join(labels) or None,
            progress=print,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"consent-gym predict-train: {exc}", file=sys.stderr)
        return 2
    return 0
