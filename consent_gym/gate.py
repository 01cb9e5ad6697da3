"""The decision shared by the single and vector wrappers: judge, release or withhold, log.

:class:`ConsentGate` turns finished trajectories and their texts into released rewards
and ``info`` records, with all of a batch's texts judged in one call and the audit log
fsync'ed once, before any reward is returned to the learner.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

from consent_gym.audit import AuditLog, text_sha256
from consent_gym.judges.base import (
    Judge,
    OnJudgeError,
    Verdict,
    check_judge,
    check_on_judge_error,
    judge_texts,
)
from consent_gym.trajectory import Trajectory

OnVeto = Literal["zero", "penalty"]
ON_VETO_CHOICES: tuple[str, ...] = ("zero", "penalty")


def check_gate_arguments(
    judge: object, on_veto: str, penalty: object, on_judge_error: str, info_key: object
) -> None:
    """Raise a clear error for any bad wrapper argument (shared by both wrappers)."""
    if on_veto not in ON_VETO_CHOICES:
        hint = (
            " 'block' needs the learner's cooperation: use consent_gym.sb3."
            if on_veto == "block"
            else ""
        )
        raise ValueError(
            f"on_veto={on_veto!r} is not supported here; use one of {ON_VETO_CHOICES}.{hint}"
        )
    if judge is not None:
        check_judge(judge)
    if not isinstance(penalty, (int, float)) or not math.isfinite(penalty):
        raise ValueError(f"penalty must be a finite number, got {penalty!r}.")
    check_on_judge_error(on_judge_error)
    if not isinstance(info_key, str) or not info_key:
        raise ValueError("info_key must be a non-empty string.")


def open_audit_log(
    audit_log: AuditLog | str | os.PathLike[str] | None,
) -> tuple[AuditLog | None, bool]:
    """``(log, owned)``: a path is opened (and owned by the caller), a log is used as is."""
    if audit_log is None or isinstance(audit_log, AuditLog):
        return audit_log, False
    return AuditLog(audit_log), True


def episode_record(
    trajectory: Trajectory, text: str, episode_return: float | None = None
) -> dict[str, Any]:
    """The part of ``info["consent"]`` known before judging (``episode_return`` if known)."""
    return {
        "episode_index": trajectory.episode_index,
        "length": len(trajectory),
        "episode_return": (
            trajectory.total_reward if episode_return is None else episode_return
        ),
        "text": text,
        "text_sha256": text_sha256(text),
    }


class ConsentGate:
    """Judges finished episodes in one batch and decides what reward each releases.

    Args:
        get_judge: Returns the judge (called at the first decision, so a default LLM judge
            loads lazily).
        on_veto: ``"zero"`` or ``"penalty"``.
        penalty: Released by a vetoed episode when ``on_veto="penalty"``.
        on_judge_error: The failure policy passed to :func:`~consent_gym.judges.judge_texts`.
        audit_log: Where every verdict is appended (optional).
        env_id: Written into each audit record.
    """

    def __init__(
        self,
        get_judge: Callable[[], Judge],
        on_veto: OnVeto,
        penalty: float,
        on_judge_error: OnJudgeError,
        audit_log: AuditLog | None,
        env_id: str,
    ) -> None:
        self.get_judge = get_judge
        self.on_veto = on_veto
        self.penalty = float(penalty)
        self.on_judge_error: OnJudgeError = on_judge_error
        self.audit_log = audit_log
        self.env_id = env_id

    def released(self, verdict: Verdict, episode_return: float) -> float:
        """The reward an episode releases: its return if approved, else 0 or the penalty."""
        if verdict.approved:
            return episode_return
        return self.penalty if self.on_veto == "penalty" else 0.0

    def decide(
        self, trajectories: Sequence[Trajectory], texts: Sequence[str]
    ) -> list[tuple[float, dict[str, Any], Verdict]]:
        """``(released reward, info record, verdict)`` per episode, judged in one call."""
        if not trajectories:
            return []
        verdicts = judge_texts(self.get_judge(), texts, on_judge_error=self.on_judge_error)
        decisions = []
        for trajectory, text, verdict in zip(trajectories, texts, verdicts, strict=True):
            episode_return = trajectory.total_reward  # summed once, used twice
            released = self.released(verdict, episode_return)
            if self.audit_log is not None:
                self.audit_log.record(
                    verdict,
                    text=text,
                    env_id=self.env_id,
                    episode_index=trajectory.episode_index,
                    extra={"reward_released": released},
                )
            record = episode_record(trajectory, text, episode_return)
            record.update(
                {
                    "approved": verdict.approved,
                    "outcome": verdict.outcome,
                    "p_acceptable": verdict.p_acceptable,
                    "judge_id": verdict.judge_id,
                    "reason": verdict.reason,
                    "flagged": verdict.flagged,
                    "reward_released": released,
                    "pending": False,
                }
            )
            if verdict.members:
                record["members"] = [m.to_dict() for m in verdict.members]
            decisions.append((released, record, verdict))
        if self.audit_log is not None:
            self.audit_log.sync()  # durable before the rewards reach any learner
        return decisions
