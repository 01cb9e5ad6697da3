"""Judges decide whether an episode may be learned from.

- :class:`Judge` / :class:`Verdict`: the contract (``judge_batch(texts) -> list[Verdict]``).
- :class:`RuleJudge`, :class:`KeywordJudge`: deterministic, for tests and ground truth.
- :func:`judge_texts`: the fail-closed way to call any judge; :class:`TimeLimitedJudge`
  bounds how long one may take; :func:`verify_frozen` re-checks a judge's weights.
- :class:`JudgePanel`, :class:`PanelMember`: several judges (or perceptions) under a policy.
- :class:`CascadeJudge`: a cheap judge decides the texts it is sure of, a careful one the
  rest (:func:`default_cascade`: the embedding judge may veto, every approval is the LLM's).
- :class:`LLMJudge` (frozen causal LM; :func:`default_judge` is the embedded Gemma 3 270M),
  :class:`EmbeddingJudge` (MiniLM prototypes), :class:`VerdictCache`,
  :class:`FrozenJudgeError`. torch/transformers are imported only when a judge is built.
- :class:`ServedJudge`: the same prompts and scoring on an OpenAI-compatible server (vLLM,
  SGLang, llama.cpp), frozen by a :class:`JudgeLock` of canary log-probs
  (``consent-gym freeze-judge``).
- :class:`ProbeJudge`: a logistic readout of a frozen encoder's hidden states (Gemma 3 270M
  or MiniLM), fitted on generated data; the most harmful sentence decides.
"""

from typing import Any

from consent_gym.judges.base import (
    Judge,
    JudgeError,
    Outcome,
    Verdict,
    check_judge,
    failed_verdict,
    judge_texts,
    verify_frozen,
)
from consent_gym.judges.cache import VerdictCache
from consent_gym.judges.cascade import CascadeJudge, default_cascade
from consent_gym.judges.embedding import EmbeddingJudge
from consent_gym.judges.frozen import FrozenJudgeError
from consent_gym.judges.judge_lock import JudgeLock
from consent_gym.judges.llm import LLMJudge
from consent_gym.judges.panel import JudgePanel, PanelMember
from consent_gym.judges.probe import ProbeJudge
from consent_gym.judges.rule import KeywordJudge, RuleJudge
from consent_gym.judges.served import ServedJudge
from consent_gym.judges.timeout import TimeLimitedJudge

__all__ = [
    "CascadeJudge",
    "EmbeddingJudge",
    "FrozenJudgeError",
    "Judge",
    "JudgeError",
    "JudgeLock",
    "JudgePanel",
    "KeywordJudge",
    "LLMJudge",
    "Outcome",
    "PanelMember",
    "ProbeJudge",
    "RuleJudge",
    "ServedJudge",
    "TimeLimitedJudge",
    "Verdict",
    "VerdictCache",
    "check_judge",
    "default_cascade",
    "default_judge",
    "failed_verdict",
    "judge_texts",
    "verify_frozen",
]


def default_judge(**kwargs: Any) -> LLMJudge:
    """The embedded default judge: :class:`LLMJudge` on Gemma 3 270M with its default method.

    Keyword arguments go to :class:`LLMJudge` (e.g. ``instructions=``, ``examples=``,
    ``cache="verdicts.sqlite"``, ``dtype="float32"``). Its weights are bfloat16 where the
    CPU (or GPU) multiplies bf16 natively, else float32 (``dtype="auto"``, the default;
    ``judge.dtype`` says which). The first call converts the packaged GGUF (about a minute)
    and caches it; later calls load in seconds. See ``docs/judges.md`` for its accuracy.
    """
    return LLMJudge(**kwargs)
