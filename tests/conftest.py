"""Shared fixtures: deterministic judges and small envs."""

from __future__ import annotations

import os

import pytest

# Tests never reach a model hub: models come from PyPI packages or are built in tmp dirs.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def approve_all():
    from consent_gym.judges import RuleJudge

    return RuleJudge(lambda text: True, name="approve-all")


@pytest.fixture
def veto_all():
    from consent_gym.judges import RuleJudge

    return RuleJudge(lambda text: False, name="veto-all")
