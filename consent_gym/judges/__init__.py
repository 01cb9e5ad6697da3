"""Judges decide whether an episode may be learned from.

- :class:`Judge` / :class:`Verdict`: the contract (``judge_batch(texts) -> list[Verdict]``).
- :class:`RuleJudge`, :class:`KeywordJudge`: deterministic, for tests and ground truth.
- :func:`judge_texts`: the fail-closed way to call any judge.
- :class:`JudgePanel`, :class:`PanelMember`: several judges (or perceptions) under a policy.
"""

from consent_gym.judges.base import (
    Judge,
    JudgeError,
    Outcome,
    Verdict,
    check_judge,
    failed_verdict,
    judge_texts,
)
from consent_gym.judges.panel import JudgePanel, PanelMember
from consent_gym.judges.rule import KeywordJudge, RuleJudge

__all__ = [
    "Judge",
    "JudgeError",
    "JudgePanel",
    "KeywordJudge",
    "Outcome",
    "PanelMember",
    "RuleJudge",
    "Verdict",
    "check_judge",
    "failed_verdict",
    "judge_texts",
]
