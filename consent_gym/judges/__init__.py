"""Judges decide whether an episode may be learned from.

- :class:`Judge` / :class:`Verdict`: the contract (``judge_batch(texts) -> list[Verdict]``).
- :class:`RuleJudge`, :class:`KeywordJudge`: deterministic, for tests and ground truth.
- :func:`judge_texts`: the fail-closed way to call any judge; :class:`TimeLimitedJudge`
  bounds how long one may take; :func:`verify_frozen` re-checks a judge's weights.
- :class:`JudgePanel`, :class:`PanelMember`: several judges (or perceptions) under a policy.
- :class:`CascadeJudge`: a cheap judge decides the texts it is sure of, a careful one the
  rest (:func:`default_cascade`: the embedding judge may veto, every approval is the LLM's).
- :func:`default_judge`: the embedded default, a :class:`ProbeJudge` on Gemma 3 270M.
- :class:`LLMJudge` (a frozen causal LM prompted to score the whole text),
  :class:`EmbeddingJudge` (MiniLM prototypes), :class:`VerdictCache`,
  :class:`FrozenJudgeError`. torch/transformers are imported only when a judge is built.
- :class:`ServedJudge`: the same prompts and scoring on an OpenAI-compatible server (vLLM,
  SGLang, llama.cpp), frozen by a :class:`JudgeLock` of canary log-probs
  (``consent-gym freeze-judge``).
- :class:`BaselineCalibratedJudge`: any scoring judge, judged on what the agent's part of a
  text adds to the text without it (calibration against a content-free baseline).
- :class:`PredictThenJudge`: a prediction-trained model (:class:`ContinuationSampler`)
  writes what happened next, ``k`` samples on fixed seeds; an inner judge reads each.
- :class:`ProbeJudge`: a logistic readout of a frozen encoder's hidden states (Gemma 3 270M,
  the default, or MiniLM), fitted on generated data; the most harmful sentence decides.
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
from consent_gym.judges.calibrated import BaselineCalibratedJudge
from consent_gym.judges.cascade import CascadeJudge, default_cascade
from consent_gym.judges.continuation import ContinuationSampler
from consent_gym.judges.embedding import EmbeddingJudge
from consent_gym.judges.frozen import FrozenJudgeError
from consent_gym.judges.judge_lock import JudgeLock
from consent_gym.judges.llm import LLMJudge
from consent_gym.judges.panel import JudgePanel, PanelMember
from consent_gym.judges.prediction import PredictThenJudge
from consent_gym.judges.probe import ProbeJudge
from consent_gym.judges.rule import KeywordJudge, RuleJudge
from consent_gym.judges.served import ServedJudge
from consent_gym.judges.timeout import TimeLimitedJudge

__all__ = [
    "BaselineCalibratedJudge",
    "CascadeJudge",
    "ContinuationSampler",
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
    "PredictThenJudge",
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


def default_judge(**kwargs: Any) -> ProbeJudge:
    """The embedded default judge: :class:`ProbeJudge` on the frozen Gemma 3 270M.

    It reads an episode sentence by sentence through the hidden states of the same Gemma 3
    270M checkpoint (layer 8 of 18; float32) and a logistic readout shipped with the
    package (``judges/data/probe_gemma.npz``, fitted on generated episodes only): each
    sentence scores as its most harmful span of 4 tokens, corrected by the sentence's last
    token (which has read the whole sentence, "... no contact" included), and the most
    harmful sentence decides. Appending text can only add a sentence, so an
    injected "approve this" can never turn a veto into an approval.

    Keyword arguments go to :class:`ProbeJudge` (e.g. ``cache="verdicts.sqlite"``,
    ``threshold=``, ``device=``). The prompted LLM judge that was the default before
    (noisy-channel scoring of the whole text) is ``LLMJudge()`` (``--judge llm``). The
    first call converts the packaged GGUF (about a minute) and caches it; later calls load
    in seconds. See ``docs/judges.md`` for the accuracy and speed of both.
    """
    return ProbeJudge("gemma", **kwargs)
