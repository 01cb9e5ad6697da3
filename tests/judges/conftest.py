"""Shared fixtures: a tiny randomly initialised causal LM built offline in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.judges.tiny_models import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2"), arch="gpt2")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run far faster on one thread (no OpenMP hand-offs on a busy machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
