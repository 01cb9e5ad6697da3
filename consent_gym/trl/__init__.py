"""Consent-gated GRPO for language-model policies (TRL), judged by the start checkpoint.

Two lines over plain TRL (see ``docs/llm-policies.md``)::

    judge = start_checkpoint_judge(policy, tokenizer)          # the frozen start weights
    trainer = ConsentGRPOTrainer(policy, reward_funcs=[speed], judge=judge, args=config,
                                 train_dataset=dataset, processing_class=tokenizer)

- :class:`ConsentRewards` / :func:`consent_reward_funcs` (:mod:`consent_gym.trl.rewards`):
  gate any list of reward functions for plain ``GRPOTrainer``; one judge call per batch.
- :class:`ConsentGRPOTrainer` (:mod:`consent_gym.trl.trainer`, imports ``trl``): also masks
  vetoed completions out of every term of the loss.
- :func:`start_checkpoint_judge` (:mod:`consent_gym.trl.checkpoint`): a PEFT policy's base
  weights with adapters left out (no copy), or a separately loaded frozen copy.
"""

from consent_gym.trl.checkpoint import (
    base_weights_view,
    check_judge_apart,
    start_checkpoint_judge,
)
from consent_gym.trl.rewards import (
    TRL_MODES,
    ConsentRewards,
    GatedRewardFunc,
    consent_reward_funcs,
)

__all__ = [
    "TRL_MODES",
    "ConsentGRPOTrainer",
    "ConsentRewards",
    "GatedRewardFunc",
    "base_weights_view",
    "check_judge_apart",
    "consent_reward_funcs",
    "start_checkpoint_judge",
]


def __getattr__(name: str) -> object:
    # The trainer imports trl (seconds); load it only when asked for.
    if name == "ConsentGRPOTrainer":
        from consent_gym.trl.trainer import ConsentGRPOTrainer

        return ConsentGRPOTrainer
    raise AttributeError(f"module 'consent_gym.trl' has no attribute {name!r}")
