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
def sb3_log_dir():
    """Stable-Baselines3's per-``learn()`` folders (about 130 a test run) go to one temporary
    folder for the session, as they do for one CLI command. Child processes inherit it."""
    from consent_gym.cli import shared_sb3_log_dir

    with shared_sb3_log_dir():
        yield


@pytest.fixture
def tiny_bench_train(monkeypatch):
    """``consent-gym bench train`` with a keyword judge for the default and a tiny PPO (two
    envs, 32-step rollouts, an 8-unit net): real SB3 ``learn()`` calls in seconds."""
    from consent_gym import judges
    from consent_gym.benchmarks import train as train_bench
    from consent_gym.judges import KeywordJudge

    real = train_bench.bench_train
    tiny_ppo = {"n_steps": 32, "batch_size": 64, "n_epochs": 1, "device": "cpu",
                "policy_kwargs": {"net_arch": [8]}}
    monkeypatch.setattr(judges, "default_judge", lambda: KeywordJudge(["hit a pedestrian"]))
    monkeypatch.setattr(train_bench, "bench_train",
                        lambda judge, **kw: real(judge, **kw, n_envs=2, ppo_kwargs=tiny_ppo))


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
