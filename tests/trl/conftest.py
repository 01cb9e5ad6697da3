"""Fixtures for the TRL tests: a tiny random causal LM (built offline) and GRPO settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.judges.tiny_models import build_tiny_model, one_torch_thread  # noqa: F401 (autouse)


@pytest.fixture(scope="session")
def tiny_policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-policy"))



def load_tiny(path: Path):
    """The tiny model and its tokenizer, fresh (training changes the model in place)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(str(path)), AutoTokenizer.from_pretrained(str(path))


def tiny_lora(model):
    """LoRA adapters on the tiny model's attention projections."""
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                            lora_dropout=0.0))
