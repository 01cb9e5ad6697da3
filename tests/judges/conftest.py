"""Shared fixtures: a tiny randomly initialised causal LM built offline in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.judges.tiny_models import build_tiny_model, one_torch_thread  # noqa: F401 (autouse)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"), arch="gpt2")

