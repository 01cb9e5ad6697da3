"""Shared fixtures: deterministic judges and small envs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach a model hub: models come from PyPI packages or are built in tmp dirs.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

#: The project's shared folder (data sets too big or too private for the repository): laid
#: beside the repository root as ``../shared`` for every session and for CI.
SHARED_DIR = Path(__file__).resolve().parent.parent.parent / "shared"


def shared_path(relative: str) -> Path:
    """``relative`` inside the shared folder; where it is missing, skip, except in CI.

    CI (``CI=true``) always has ``../shared``, so there a missing file fails the test loudly
    instead of letting an accuracy floor pass by skipping. ``CONSENT_GYM_SHARED`` points
    elsewhere (e.g. from a git worktree whose parent has no ``shared/``).
    """
    path = Path(os.environ.get("CONSENT_GYM_SHARED", SHARED_DIR)) / relative
    if not path.exists():
        message = (
            f"{path} is missing: the shared folder must sit beside the repository root as "
            f"../shared (or set CONSENT_GYM_SHARED to it)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session", autouse=True)
def sb3_log_dir(tmp_path_factory: pytest.TempPathFactory):
    """Stable-Baselines3 makes an empty ``SB3-<date>`` folder in the system temp dir at every
    ``learn()`` with no logger set (about 130 a test run); point them all at one folder that
    pytest's temp-dir retention removes. Child processes (CLI tests) inherit it."""
    before = os.environ.get("SB3_LOGDIR")
    os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3-logs"))
    yield Path(os.environ["SB3_LOGDIR"])
    if before is None:
        os.environ.pop("SB3_LOGDIR", None)
    else:
        os.environ["SB3_LOGDIR"] = before


@pytest.fixture(scope="session")  # session scope: resolved (and skipped) before model fixtures
def judge_bench_dev() -> Path:
    """The judge benchmark's labelled dev set (``judge-bench/dev.jsonl`` in shared/)."""
    return shared_path("judge-bench/dev.jsonl")


@pytest.fixture
def approve_all():
    from consent_gym.judges import RuleJudge

    return RuleJudge(lambda text: True, name="approve-all")


@pytest.fixture
def veto_all():
    from consent_gym.judges import RuleJudge

    return RuleJudge(lambda text: False, name="veto-all")
