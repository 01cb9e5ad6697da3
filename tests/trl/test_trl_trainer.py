"""ConsentGRPOTrainer on a tiny random causal LM: what reaches the gradient, one step each."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from consent_gym.judges import FrozenJudgeError, Verdict
from consent_gym.judges.frozen import full_digest
from consent_gym.trl import consent_reward_funcs, start_checkpoint_judge
from consent_gym.trl.trainer import ConsentGRPOTrainer, mask_vetoed_rows
from tests.fakes import FixedJudge, RaisingJudge
from tests.trl.conftest import load_tiny, tiny_lora

DATASET = {"prompt": ["The car", "The agent"] * 4}


def length(prompts, completions, **kwargs):
    """Pays for long completions: a signal every batch of random text has."""
    return [float(len(c)) for c in completions]


def config(tmp_path, **overrides) -> GRPOConfig:
    settings = dict(
        output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4,
        max_completion_length=6, max_steps=1, learning_rate=1e-2, report_to="none",
        logging_steps=1, save_strategy="no", use_cpu=True, seed=0, disable_tqdm=True,
    )
    settings.update(overrides)
    return GRPOConfig(**settings)


def snapshot(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def moved(model, before) -> float:
    return max((p.detach() - before[n]).abs().max().item() for n, p in model.named_parameters())


class EveryOther:
    """Approves rows 0, 2, ... of each batch, vetoes the others."""

    judge_id = "every-other"

    def judge_batch(self, texts):
        return [Verdict(i % 2 == 0, 0.5, self.judge_id) for i in range(len(texts))]


def test_vetoed_rows_are_masked_and_the_token_count_recomputed(tiny_policy_dir, tmp_path):
    model, tokenizer = load_tiny(tiny_policy_dir)
    trainer = ConsentGRPOTrainer(model, [length], judge=EveryOther(), args=config(tmp_path),
                                 train_dataset=Dataset.from_dict(DATASET),
                                 processing_class=tokenizer)
    batch = trainer._generate_and_score_completions([{"prompt": "The car"}] * 4)
    assert batch["completion_mask"][1::2].sum() == 0 and batch["completion_mask"][0::2].sum() > 0
    assert torch.all(batch["advantages"][1::2] == 0)
    assert batch["num_items_in_batch"] == batch["completion_mask"].sum()
    assert trainer.masked_rows == 2


def test_mask_refuses_a_batch_the_gate_did_not_judge():
    batch = {"completion_mask": torch.ones(4, 3, dtype=torch.long), "advantages": torch.ones(4)}
    with pytest.raises(RuntimeError, match="every reward function"):
        mask_vetoed_rows(batch, (True, False), accelerator=None)


def test_all_vetoed_with_masking_leaves_the_weights_unchanged(tiny_policy_dir, tmp_path):
    """An entropy bonus still trains on vetoed rows under plain GRPOTrainer + abstain (the
    documented leak); ConsentGRPOTrainer masks them, so nothing moves."""
    model, tokenizer = load_tiny(tiny_policy_dir)
    before = snapshot(model)
    trainer = ConsentGRPOTrainer(model, [length], judge=FixedJudge(False),
                                 args=config(tmp_path, entropy_coef=0.5),
                                 train_dataset=Dataset.from_dict(DATASET),
                                 processing_class=tokenizer)
    trainer.train()
    assert moved(model, before) == 0.0
    assert trainer.consent.stats.vetoed == trainer.consent.stats.judged == 4

    leaky, _ = load_tiny(tiny_policy_dir)
    before = snapshot(leaky)
    GRPOTrainer(leaky, consent_reward_funcs([length], FixedJudge(False)),
                args=config(tmp_path, entropy_coef=0.5), train_dataset=Dataset.from_dict(DATASET),
                processing_class=tokenizer).train()
    assert moved(leaky, before) > 0.0


def test_approve_all_trains_exactly_as_plain_grpo(tiny_policy_dir, tmp_path):
    gated, tokenizer = load_tiny(tiny_policy_dir)
    start = snapshot(gated)
    ConsentGRPOTrainer(gated, [length], judge=FixedJudge(True), args=config(tmp_path),
                       train_dataset=Dataset.from_dict(DATASET),
                       processing_class=tokenizer).train()
    plain, _ = load_tiny(tiny_policy_dir)
    GRPOTrainer(plain, [length], args=config(tmp_path), train_dataset=Dataset.from_dict(DATASET),
                processing_class=tokenizer).train()
    assert moved(gated, start) > 0.0
    assert all(torch.equal(p, q) for p, q in zip(gated.parameters(), plain.parameters(),
                                                 strict=True))


def test_a_failing_judge_vetoes_everything(tiny_policy_dir, tmp_path):
    model, tokenizer = load_tiny(tiny_policy_dir)
    before = snapshot(model)
    trainer = ConsentGRPOTrainer(model, [length], judge=RaisingJudge(), args=config(tmp_path),
                                 train_dataset=Dataset.from_dict(DATASET),
                                 processing_class=tokenizer)
    trainer.train()
    assert trainer.consent.stats.failed == 4
    assert moved(model, before) == 0.0


def test_the_start_checkpoint_judge_stays_bit_identical_while_lora_trains(tiny_policy_dir,
                                                                         tmp_path):
    model, tokenizer = load_tiny(tiny_policy_dir)
    policy = tiny_lora(model)
    judge = start_checkpoint_judge(policy, tokenizer, headers="general", examples=[])
    digest = full_digest(judge.model)
    lora = {n: p.detach().clone() for n, p in policy.named_parameters() if "lora_" in n}
    trainer = ConsentGRPOTrainer(policy, [length], judge=judge,
                                 args=config(tmp_path, max_steps=2, beta=0.1),
                                 train_dataset=Dataset.from_dict(DATASET),
                                 processing_class=tokenizer)
    trainer.train()
    assert trainer.consent.stats.judged == 8
    assert full_digest(judge.model) == digest == judge.fingerprint
    assert any(not torch.equal(p, lora[n]) for n, p in policy.named_parameters() if n in lora)


def test_the_policy_cannot_judge_itself(tiny_policy_dir, tmp_path):
    from consent_gym.judges import LLMJudge

    model, tokenizer = load_tiny(tiny_policy_dir)
    judge = LLMJudge(model, tokenizer=tokenizer, headers="general", examples=[])
    with pytest.raises(FrozenJudgeError, match="start checkpoint"):
        ConsentGRPOTrainer(model, [length], judge=judge, args=config(tmp_path),
                           train_dataset=Dataset.from_dict(DATASET), processing_class=tokenizer)
