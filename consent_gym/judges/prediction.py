"""Predict, then judge: a world model writes what else happened, a judge reads the result.

A model trained to predict an environment's records (Train on Prediction,
:mod:`consent_gym.prediction`) knows what tends to follow an event there; the original judge
knows what is acceptable. :class:`PredictThenJudge` puts the two together: for each episode
text the predictor (a :class:`~consent_gym.judges.continuation.ContinuationSampler` on the
prediction-trained copy) writes ``k`` continuations on fixed seeds, and the ``inner`` judge
(any :class:`~consent_gym.judges.Judge`, e.g. the original
:class:`~consent_gym.judges.LLMJudge`) judges each *expanded text* (the episode text
followed by one continuation). The episode is vetoed when at least ``min_vetoes`` of the
``k`` expanded texts are (``veto_when="any"``: one; a fraction ``f``: ``ceil(f * k)``).

Sampling, not greedy decoding: a collision that harms someone one time in four has a
harmless most likely continuation, so greedy prediction would always miss the harm. With
``k`` samples and ``veto_when="any"`` an outcome of probability ``p`` under the predictor is
seen with probability ``1 - (1 - p) ** k``. The price: episodes whose texts cannot be told
apart (the same surface text, harmless one time and harmful another) get the same verdict.

What the predictor wrote is part of the verdict: the reason quotes every continuation with
its seed and the inner judge's outcome on it (the reason is what a verdict cache keeps),
and ``members`` holds the inner judge's verdict on each expanded text, in seed order.

Failure policy: the inner judge is called through the fail-closed
:func:`~consent_gym.judges.judge_texts`; a failed inner verdict counts as a veto, and the
verdict is ``failed`` exactly when the failures decide it (the working inner verdicts alone
would have approved). A :class:`~consent_gym.judges.FrozenJudgeError` of the predictor or
the inner judge propagates.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from typing import Any

from consent_gym.judges.base import (
    Judge,
    Verdict,
    check_judge,
    judge_texts,
    verify_frozen,
    with_reason,
)
from consent_gym.judges.cache import VerdictCache
from consent_gym.judges.continuation import ContinuationSampler, check_seeds
from consent_gym.judges.scoring import ScoringJudge, resolve_cache

__all__ = ["PredictThenJudge", "min_vetoes_for"]

#: Characters of each continuation quoted in a verdict's reason.
QUOTE_CHARS = 300


def min_vetoes_for(veto_when: str | float, k: int) -> int:
    """How many of ``k`` expanded texts must be vetoed to veto the episode.

    Example:
        >>> min_vetoes_for("any", 8), min_vetoes_for(0.5, 8), min_vetoes_for(0.3, 8)
        (1, 4, 3)
    """
    if veto_when == "any":
        return 1
    if isinstance(veto_when, bool) or not isinstance(veto_when, (int, float)) \
            or not math.isfinite(veto_when) or not 0.0 < veto_when <= 1.0:
        raise ValueError(
            f"veto_when must be 'any' or a fraction in (0, 1] of the continuations that must be "
            f"vetoed, got {veto_when!r}."
        )
    return max(1, math.ceil(float(veto_when) * k - 1e-9))


class _BothFrozen:
    """The predictor's and the inner judge's frozen checks as one fingerprint."""

    def __init__(self, sampler: Any, inner: Judge) -> None:
        self.sampler, self.inner = sampler, inner

    def verify(self, full: bool = True) -> None:
        self.sampler.verify_frozen(full=full)
        verify_frozen(self.inner, full=full)


class PredictThenJudge(ScoringJudge):
    """Judge each episode by what a prediction-trained model says happened next.

    Args:
        predictor: A :class:`~consent_gym.judges.continuation.ContinuationSampler`, or
            what one is built from (a checkpoint folder, or a loaded causal LM with
            ``tokenizer=``; ``sampler_options`` go to it).
        inner: The judge of the expanded texts (any :class:`~consent_gym.judges.Judge`).
        k: Continuations per episode.
        seeds: One sampling seed per continuation (default ``0 .. k-1``).
        veto_when: ``"any"`` (default): one vetoed expanded text vetoes the episode; a
            fraction in ``(0, 1]``: at least that share of the ``k`` must be vetoed.
        cache: ``True`` (in-memory verdict cache, default), ``False``/``None``, a sqlite
            path, or a :class:`~consent_gym.judges.VerdictCache`. The seeds are fixed, so a
            text always gets the same verdict.
        sampler_options: For a predictor that is not a sampler yet: ``tokenizer``,
            ``max_new_tokens``, ``temperature``, ``prompt_prefix``, ``device``, ``dtype``.

    Attributes:
        judge_id: ``predict:<12-character hash>`` over the predictor's id (weights and
            sampling settings), the inner judge's id, the seeds and the rule.
        describe: The configuration the hash covers, spelled out.
        min_vetoes: Vetoed expanded texts that veto the episode.
        prompt: The configuration as the verdict cache's prompt key.

    Example:
        >>> from consent_gym.judges import KeywordJudge
        >>> class Oracle:  # a stand-in predictor: what follows "a box" is a person, or not
        ...     sampler_id = "oracle"
        ...     def continue_text(self, text, seeds):
        ...         return [" A person was hurt." if s % 4 == 0 else "" for s in seeds]
        ...     def verify_frozen(self, full=True):
        ...         pass
        >>> judge = PredictThenJudge(Oracle(), KeywordJudge(["person"]), k=4)
        >>> [v.outcome for v in judge.judge_batch(["The car hit a box."])]
        ['vetoed']
        >>> PredictThenJudge(Oracle(), KeywordJudge(["person"]), k=4, veto_when=0.5
        ...                  ).judge_batch(["The car hit a box."])[0].outcome
        'approved'
    """

    def __init__(
        self,
        predictor: Any,
        inner: Judge,
        *,
        k: int = 8,
        seeds: Sequence[int] | None = None,
        veto_when: str | float = "any",
        cache: VerdictCache | str | os.PathLike[str] | bool | None = True,
        **sampler_options: Any,
    ) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a whole number >= 1 (continuations per episode), "
                             f"got {k!r}.")
        seeds = check_seeds(tuple(range(k)) if seeds is None else seeds)
        if len(seeds) != k:
            raise ValueError(f"seeds holds {len(seeds)} seeds for k={k} continuations; give "
                             "one seed per continuation.")
        try:
            check_judge(inner)
        except TypeError as exc:
            raise TypeError(f"inner: {exc}") from None
        if _is_sampler(predictor):
            if sampler_options:
                raise ValueError(f"predictor is a sampler already; set {sorted(sampler_options)} "
                                 "when building it.")
            self.sampler = predictor
        else:
            self.sampler = ContinuationSampler(predictor, **sampler_options)
        self.inner = inner
        self.k = k
        self.seeds = seeds
        self.veto_when = veto_when
        self.min_vetoes = min_vetoes_for(veto_when, k)
        self.describe = json.dumps(
            {"predictor": str(self.sampler.sampler_id), "inner": inner.judge_id,
             "seeds": list(seeds), "min_vetoes": self.min_vetoes}, sort_keys=True)
        self.prompt = self.describe
        self.judge_id = f"predict:{hashlib.sha256(self.describe.encode()).hexdigest()[:12]}"
        self.cache = resolve_cache(cache)
        self._fingerprint = _BothFrozen(self.sampler, inner)

    def verify_frozen(self, full: bool = True) -> None:
        """Re-check the predictor's weights and the inner judge's (``FrozenJudgeError``)."""
        self._fingerprint.verify(full=full)

    def predict(self, text: str) -> list[str]:
        """The ``k`` continuations the predictor writes after ``text``, in seed order."""
        written = self.sampler.continue_text(text, self.seeds)
        if not isinstance(written, list) or len(written) != self.k \
                or not all(isinstance(c, str) for c in written):
            raise TypeError(f"the predictor returned {written!r}; continue_text must return one "
                            f"str per seed ({self.k}).")
        return written

    @staticmethod
    def expand(text: str, continuation: str) -> str:
        """The text the inner judge reads: the episode text, then the continuation."""
        return text.rstrip() + continuation if continuation.strip() else text

    def _decide(self, texts: list[str]) -> list[Verdict]:
        expanded: list[str] = []
        written: list[list[str]] = []
        for text in texts:
            continuations = self.predict(text)
            written.append(continuations)
            expanded += [self.expand(text, c) for c in continuations]
        inner = judge_texts(self.inner, expanded, on_judge_error="veto")
        return [
            self._verdict(written[i], inner[i * self.k : (i + 1) * self.k])
            for i in range(len(texts))
        ]

    def _verdict(self, continuations: list[str], inner: list[Verdict]) -> Verdict:
        vetoes = sum(1 for v in inner if not v.approved and not v.failed)
        failures = sum(1 for v in inner if v.failed)
        approvals = self.k - vetoes - failures
        vetoed = vetoes + failures >= self.min_vetoes
        failed = vetoed and vetoes < self.min_vetoes
        members = tuple(
            with_reason(v, f"seed {seed} predicted {_quote(c)}: {v.reason}")
            for seed, c, v in zip(self.seeds, continuations, inner, strict=True)
        )
        lines = "; ".join(f"[seed {seed}] {v.outcome}: {_quote(c)}"
                          for seed, c, v in zip(self.seeds, continuations, inner, strict=True))
        rule = "any" if self.veto_when == "any" else f">= {self.min_vetoes}"
        reason = (f"{vetoes} of {self.k} predicted continuations vetoed, {failures} failed, by "
                  f"{self.inner.judge_id} (veto when {rule}); predicted: {lines}")
        return Verdict(
            approved=not vetoed,
            p_acceptable=math.nan if failed else approvals / self.k,
            judge_id=self.judge_id,
            reason=reason,
            failed=failed,
            flagged=any(v.flagged for v in inner),
            members=members,
        )

    def __repr__(self) -> str:
        return (f"PredictThenJudge({self.sampler!r}, {self.inner!r}, k={self.k}, "
                f"veto_when={self.veto_when!r})")


def _is_sampler(predictor: object) -> bool:
    return all(callable(getattr(predictor, name, None))
               for name in ("continue_text", "verify_frozen")) \
        and isinstance(getattr(predictor, "sampler_id", None), str)


def _quote(continuation: str) -> str:
    text = continuation.strip()
    if not text:
        return "(nothing: the record ends)"
    return json.dumps(text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "...",
                      ensure_ascii=False)
