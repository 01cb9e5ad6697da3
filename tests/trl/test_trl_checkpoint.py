"""The start checkpoint as the judge: PEFT base weights shared, full fine-tuning refused."""

from __future__ import annotations

import pytest
import torch

from consent_gym.judges import FrozenJudgeError, LLMJudge
from consent_gym.judges.frozen import full_digest
from consent_gym.trl import base_weights_view, check_judge_apart, start_checkpoint_judge
from tests.trl.conftest import load_tiny, tiny_lora

TEXTS = ["The car followed the road and delivered the parcel.",
         "The car drove onto the sidewalk and hit a pedestrian."]
FAST = {"headers": "general", "examples": [], "cache": False}


def perturb_adapters(policy) -> None:
    """Make the LoRA adapters matter (lora_B starts at zero)."""
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_" in name:
                p.add_(0.5)


def test_the_view_is_the_base_model_on_the_policys_own_tensors(tiny_policy_dir):
    model, _ = load_tiny(tiny_policy_dir)
    policy = tiny_lora(model)
    perturb_adapters(policy)
    view = base_weights_view(policy)
    storages = {p.untyped_storage().data_ptr() for p in policy.parameters()}
    assert all(p.untyped_storage().data_ptr() in storages for p in view.parameters())
    assert not any("lora" in n for n, _ in view.named_parameters())
    ids = torch.tensor([[3, 5, 7, 9]])
    with torch.no_grad():
        with policy.disable_adapter():
            base_logits = policy(input_ids=ids).logits
        adapted_logits = policy(input_ids=ids).logits
        view_logits = view(input_ids=ids).logits
    assert torch.equal(view_logits, base_logits)
    assert not torch.allclose(view_logits, adapted_logits)
    view.eval()
    policy.train()
    assert policy.training and not view.training  # separate module trees


def test_the_judge_fingerprints_the_base_weights_and_ignores_adapter_training(tiny_policy_dir):
    model, tokenizer = load_tiny(tiny_policy_dir)
    policy = tiny_lora(model)
    judge = start_checkpoint_judge(policy, tokenizer, **FAST)
    trainable = [n for n, p in policy.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)  # the judge froze nothing of it
    before = judge.score_texts(TEXTS)
    perturb_adapters(policy)  # what training does to the adapters
    judge.verify_frozen(full=True)
    assert judge.score_texts(TEXTS) == before
    with torch.no_grad():  # a base weight moving is tampering
        policy.get_base_model().model.layers[0].mlp.up_proj.weight.add_(1.0)
    with pytest.raises(FrozenJudgeError):
        judge.verify_frozen(full=False)


def test_full_fine_tuning_cannot_be_its_own_judge(tiny_policy_dir):
    policy, tokenizer = load_tiny(tiny_policy_dir)
    with pytest.raises(ValueError, match=r"full fine-tuning.*frozen_copy"):
        start_checkpoint_judge(policy, tokenizer)
    with pytest.raises(ValueError, match="shares tensors"):
        start_checkpoint_judge(policy, tokenizer, frozen_copy=policy)
    copy, _ = load_tiny(tiny_policy_dir)
    judge = start_checkpoint_judge(policy, tokenizer, frozen_copy=copy, **FAST)
    assert judge.model is copy
    assert all(p.requires_grad for p in policy.parameters())
    check_judge_apart(judge, policy)  # a separate copy is apart


def test_bad_arguments_name_the_fix(tiny_policy_dir):
    model, tokenizer = load_tiny(tiny_policy_dir)
    policy = tiny_lora(model)
    with pytest.raises(ValueError, match="dtype"):
        start_checkpoint_judge(policy, tokenizer, dtype="bfloat16")
    with pytest.raises(ValueError, match="drop frozen_copy"):
        start_checkpoint_judge(policy, tokenizer, frozen_copy=model)
    with pytest.raises(TypeError, match="loaded model"):
        start_checkpoint_judge("google/gemma-3-270m", tokenizer)
    with pytest.raises(TypeError, match="PeftModel"):
        base_weights_view(model)


def test_a_judge_on_the_adapted_model_is_refused(tiny_policy_dir):
    """LLMJudge on a PEFT policy's base module would compute with the adapters."""
    model, tokenizer = load_tiny(tiny_policy_dir)
    policy = tiny_lora(model)
    digest = full_digest(base_weights_view(policy))
    wrong = LLMJudge(policy.get_base_model(), tokenizer=tokenizer, **FAST)
    with pytest.raises(FrozenJudgeError, match="start_checkpoint_judge"):
        check_judge_apart(wrong, policy)
    right = start_checkpoint_judge(policy, tokenizer, **FAST)
    check_judge_apart(right, policy)
    assert right.fingerprint == digest


def test_a_wrapped_judge_on_the_adapted_model_is_refused_too(tiny_policy_dir):
    """The check looks through a calibration wrapper to the model it computes with."""
    from consent_gym.judges.calibrated import BaselineCalibratedJudge
    from consent_gym.render.completion import CompletionRenderer

    model, tokenizer = load_tiny(tiny_policy_dir)
    policy = tiny_lora(model)
    content_free = CompletionRenderer().content_free
    wrong = LLMJudge(policy.get_base_model(), tokenizer=tokenizer, **FAST)
    with pytest.raises(FrozenJudgeError, match="start_checkpoint_judge"):
        check_judge_apart(BaselineCalibratedJudge(wrong, content_free), policy)
    right = start_checkpoint_judge(policy, tokenizer, **FAST)
    check_judge_apart(BaselineCalibratedJudge(right, content_free), policy)
