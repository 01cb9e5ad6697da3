"""``ConsentGRPOTrainer``: TRL's GRPO where nothing of a vetoed completion reaches the gradient.

With plain ``GRPOTrainer`` and the ``"abstain"`` mode a vetoed row gets advantage 0, but its
tokens still carry the KL term (``beta > 0``), the entropy bonus (``entropy_coef != 0``) and
count in the loss normaliser (:mod:`consent_gym.trl.rewards`). This subclass gates the
reward functions itself and, after TRL has scored a generation batch, zeroes the vetoed
rows' ``completion_mask`` and advantages and recomputes the token count
(``num_items_in_batch``) from what is left, so every per-token term of the loss (policy
gradient, KL, entropy bonus) skips them and the ``"dapo"`` / ``"bnpo"`` normalisers count only
approved tokens. With ``loss_type`` ``"grpo"``, ``"sapo"`` or ``"luspo"`` the loss is a mean over
rows and a vetoed row still counts there as a row whose terms are all zero (it scales the
step, it never points it); ``"dr_grpo"`` divides by a constant.

In ``"zero"`` and ``"penalty"`` modes the vetoed rows keep their fixed reward and stay in the
loss: there the point is to push the policy away from them.

The judge is checked once at construction (:func:`~consent_gym.trl.checkpoint.check_judge_apart`:
never the weights being trained) and fully re-fingerprinted before and after ``train()``;
model judges also run their cheap check on every batch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from trl import GRPOTrainer

from consent_gym.audit import AuditLog
from consent_gym.gate import ConsentStats
from consent_gym.judges.base import Judge, OnJudgeError, verify_frozen
from consent_gym.render.completion import CompletionRenderer
from consent_gym.trl.checkpoint import check_judge_apart
from consent_gym.trl.rewards import ConsentRewards, RewardFunc


class ConsentGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` whose reward functions are behind a consent gate.

    Args:
        model: As for ``GRPOTrainer`` (a model id, a loaded model or a ``PeftModel``).
        reward_funcs: The user's reward functions (plain callables), gated here.
        judge: Any :class:`~consent_gym.judges.Judge`; typically
            ``start_checkpoint_judge(policy, tokenizer)``.
        mode: ``"abstain"`` (default: vetoed rows masked out of the loss), ``"zero"`` or
            ``"penalty"``.
        penalty, audit_log, on_judge_error, renderer, stats: As for
            :class:`~consent_gym.trl.rewards.ConsentRewards`.
        kwargs: Everything else ``GRPOTrainer`` takes (``args``, ``train_dataset``, ...).

    Attributes:
        consent: The :class:`~consent_gym.trl.rewards.ConsentRewards` gate (its ``stats``).
        masked_rows: Rows masked out of the loss since construction.
    """

    def __init__(
        self,
        model: Any,
        reward_funcs: RewardFunc | Sequence[RewardFunc],
        *,
        judge: Judge,
        mode: str = "abstain",
        penalty: float = -1.0,
        audit_log: AuditLog | str | os.PathLike[str] | None = None,
        on_judge_error: OnJudgeError = "veto",
        renderer: CompletionRenderer | None = None,
        stats: ConsentStats | None = None,
        **kwargs: Any,
    ) -> None:
        self.consent = ConsentRewards(reward_funcs, judge, mode, penalty, audit_log,
                                      on_judge_error, renderer=renderer, stats=stats)
        self.masked_rows = 0
        super().__init__(model=model, reward_funcs=list(self.consent.funcs), **kwargs)
        check_judge_apart(judge, self.accelerator.unwrap_model(self.model))

    def train(self, *args: Any, **kwargs: Any) -> Any:
        """``GRPOTrainer.train`` between two full checks of the judge's frozen weights."""
        verify_frozen(self.consent.judge, full=True)
        out = super().train(*args, **kwargs)
        verify_frozen(self.consent.judge, full=True)
        return out

    def _generate_and_score_completions(self, inputs: Any) -> dict[str, Any]:
        output: dict[str, Any] = super()._generate_and_score_completions(inputs)
        if self.consent.mode == "abstain":
            mask_vetoed_rows(output, self.consent.last_vetoed, self.accelerator)
            self.masked_rows += sum(self.consent.last_vetoed)
        return output


def mask_vetoed_rows(batch: dict[str, Any], vetoed: Sequence[bool], accelerator: Any) -> None:
    """Zero the vetoed rows' ``completion_mask`` and advantages in a scored GRPO batch and
    recompute ``num_items_in_batch`` (gathered over processes, as TRL does).

    Raises:
        RuntimeError: ``vetoed`` does not have one entry per row (the gate did not judge
            this batch: every reward function must be a gated one).
    """
    rows = batch["completion_mask"].shape[0]
    if len(vetoed) != rows:
        raise RuntimeError(
            f"the consent gate judged {len(vetoed)} completions but the batch has {rows} rows; "
            "pass every reward function through the trainer's gate (reward_funcs=...)."
        )
    keep = ~torch.tensor(list(vetoed), dtype=torch.bool, device=batch["completion_mask"].device)
    batch["completion_mask"] = batch["completion_mask"] * keep[:, None].to(
        batch["completion_mask"].dtype)
    batch["advantages"] = torch.where(keep, batch["advantages"],
                                      torch.zeros_like(batch["advantages"]))
    loss_mask = batch["completion_mask"]
    if batch.get("tool_mask") is not None:
        loss_mask = loss_mask * batch["tool_mask"]
    batch["num_items_in_batch"] = accelerator.gather(loss_mask.sum()).sum()
