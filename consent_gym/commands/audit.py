"""``consent-gym audit LOG.jsonl``: a readable report of an audit log.

Prints counts by outcome, the veto rate over time, approval rates per judge and per panel
member, and every flagged episode (panel disagreements) with the text each member saw.
``--json`` prints the same report as JSON. ``--explain`` asks a generative causal LM what
behaviour or persona each flagged episode would reinforce: ``--model PATH`` (any local
transformers causal LM folder) or, without it, the embedded default model when this
installation provides one. Small models give weak answers: read them as prompts for a
person's own judgement, never as findings. The report logic lives in
:mod:`consent_gym.audit_report`, the explanations in :mod:`consent_gym.audit_explain`.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="consent-gym")
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["audit", "runs/audit.jsonl", "--json"])
    >>> args.log, args.json, args.func is run
    ('runs/audit.jsonl', True, True)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from consent_gym.audit import read_audit_log
from consent_gym.audit_explain import explain_flagged, load_causal_lm_generator
from consent_gym.audit_report import build_report, format_report
from consent_gym.commands.arguments import int_at_least

_positive_int = int_at_least(1)
_non_negative_int = int_at_least(0)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``audit`` subcommand to ``subparsers`` (from ``add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "audit",
        help="summarise an audit log: outcomes, veto rate over time, judges, disagreements",
        description=(
            "Summarise an audit log: counts by outcome, the veto rate over time, approval "
            "rates per judge and per panel member, and every flagged episode with the text "
            "each member saw. --explain asks a generative causal LM what each flagged episode "
            "would reinforce (weak with small models)."
        ),
    )
    parser.add_argument("log", metavar="LOG.jsonl", help="the audit log to read")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    time = parser.add_mutually_exclusive_group()
    time.add_argument(
        "--bins", type=_positive_int, default=10,
        help="veto rate over time in this many equal bins of records (default 10: deciles)",
    )
    time.add_argument(
        "--every", type=_positive_int, default=None,
        help="veto rate over time per this many consecutive records instead of --bins",
    )
    parser.add_argument(
        "--max-text", type=_non_negative_int, default=1000,
        help="cut episode texts longer than this many characters (default 1000)",
    )
    parser.add_argument(
        "--explain", action="store_true",
        help="ask a generative causal LM what each flagged episode would reinforce "
        "(weak with small models)",
    )
    parser.add_argument(
        "--model", default=None, metavar="PATH",
        help="local transformers causal LM folder for --explain (default: the embedded model, "
        "where available)",
    )
    parser.add_argument(
        "--max-explain", type=_non_negative_int, default=10,
        help="explain at most this many flagged episodes (default 10)",
    )
    parser.add_argument(
        "--max-new-tokens", type=_positive_int, default=60,
        help="length limit of each explanation in tokens (default 60)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Print the report; returns 0, or 2 for an unreadable log or unusable model."""
    if args.model is not None and not args.explain:
        print("consent-gym audit: --model is only used with --explain; add --explain.",
              file=sys.stderr)
        return 2
    try:
        records = list(read_audit_log(args.log))
    except FileNotFoundError:
        print(f"consent-gym audit: no such log file: {args.log}", file=sys.stderr)
        return 2
    except IsADirectoryError:
        print(f"consent-gym audit: {args.log} is a folder; give the .jsonl log file.",
              file=sys.stderr)
        return 2
    except (ValueError, UnicodeDecodeError) as exc:
        print(f"consent-gym audit: cannot read {args.log}: {exc}", file=sys.stderr)
        return 2
    try:
        report = build_report(
            records, bins=args.bins, every=args.every, source=str(args.log)
        )
    except ValueError as exc:
        print(f"consent-gym audit: {args.log}: {exc}", file=sys.stderr)
        return 2
    if args.explain and report.flagged and args.max_explain > 0:
        try:
            generate = load_causal_lm_generator(args.model, max_new_tokens=args.max_new_tokens)
        except (OSError, RuntimeError, ValueError) as exc:
            print(f"consent-gym audit: --explain: {exc}", file=sys.stderr)
            return 2
        explain_flagged(report, generate, limit=args.max_explain)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report, max_text_chars=args.max_text))
    return 0
