"""The ``consent-gym`` command line: one subcommand per module in :mod:`consent_gym.commands`.

Each command module exposes ``add_parser(subparsers)`` (which must set ``func=run`` as a
default) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

# Module names under consent_gym.commands, in the order `--help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "reproduce", "eval_judge", "bench", "audit", "freeze_judge", "predict_corpus", "predict_train",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command module's subparser."""
    parser = argparse.ArgumentParser(
        prog="consent-gym",
        description="Reinforcement learning that asks a frozen judge for consent before it learns.",
    )
    parser.add_argument("--version", action="version", version=_version())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"consent_gym.commands.{name}")
        module.add_parser(subparsers)
    return parser


def _version() -> str:
    from consent_gym import __version__

    return f"consent-gym {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    with shared_sb3_log_dir():
        return int(args.func(args) or 0)


@contextmanager
def shared_sb3_log_dir() -> Iterator[None]:
    """Stable-Baselines3 makes an empty ``SB3-<date>`` folder in the system temp dir at every
    ``learn()`` with no logger set, and a command (or a test session) trains many models:
    while this is open they share one temporary folder (``SB3_LOGDIR``, inherited by child
    processes), removed when it closes. A ``SB3_LOGDIR`` the user set is kept."""
    if "SB3_LOGDIR" in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="consent-gym-sb3-") as folder:
        os.environ["SB3_LOGDIR"] = folder
        try:
            yield
        finally:
            os.environ.pop("SB3_LOGDIR", None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
