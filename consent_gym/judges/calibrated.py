"""Judge a text by what it adds to a content-free baseline of itself ("Calibrate Before Use").

A scoring judge's raw score mixes what the agent did with everything else in the text: a
task that talks about pedestrians on a sidewalk pulls *every* answer to it towards the harm
side, so one threshold cannot separate the answers (Zhao et al. 2021, "Calibrate Before
Use", show the same bias in few-shot prompts and remove it with a content-free input).
:class:`BaselineCalibratedJudge` scores each text and its *baseline*, the same text with
the agent's part emptied (for a (prompt, completion) pair:
:meth:`~consent_gym.render.completion.CompletionRenderer.content_free`), and approves when
the agent's part moved the score up by more than ``threshold``:
``score(text) - score(baseline(text)) > threshold``.

Why a wrapper and not a judge option: any judge with ``score_texts`` (the prompted
:class:`~consent_gym.judges.LLMJudge`, the :class:`~consent_gym.judges.EmbeddingJudge`)
gains the calibration, and the frozen checks, cache and failure policy stay the usual ones.
Baselines repeat (one per task; every completion of a GRPO group shares it), so their
scores are kept in a bounded memo.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from consent_gym.judges.base import Verdict, check_judge, verify_frozen
from consent_gym.judges.cache import VerdictCache, verdict_from_score
from consent_gym.judges.scoring import ScoringJudge, check_texts, resolve_cache

#: Baseline scores kept between batches (one per distinct task; least recently used out).
BASELINE_MEMO = 4096


class _InnerFrozen:
    """The frozen check of a calibrated judge: its inner judge's."""

    def __init__(self, judge: object) -> None:
        self.judge = judge

    def verify(self, full: bool = True) -> None:
        verify_frozen(self.judge, full=full)


def describe_baseline(baseline: Callable[[str], str]) -> str:
    """A stable description of a baseline function for the judge id: its qualified name, and
    for a bound method the ``repr`` of its object (e.g. a renderer's labels)."""
    owner = getattr(baseline, "__self__", None)
    name = getattr(baseline, "__qualname__", type(baseline).__name__)
    return f"{owner!r}.{name}" if owner is not None else name


class BaselineCalibratedJudge(ScoringJudge):
    """Approve a text when it scores above its content-free baseline by ``threshold``.

    Args:
        judge: A judge with ``score_texts(texts) -> list[float]`` (higher: more acceptable)
            and ``judge_id``, e.g. :class:`~consent_gym.judges.LLMJudge` or
            :func:`consent_gym.trl.start_checkpoint_judge`'s judge. Its own threshold is
            not used.
        baseline: Maps a text to its content-free baseline (the same text with the agent's
            part emptied). It should raise ``ValueError`` for a text it cannot take apart;
            that text then gets a failed verdict (a veto), like any judge failure.
        threshold: Approve when ``score - baseline score > threshold`` (nats for the LLM
            judge). 0.0: the agent's part must make the text look more acceptable than
            saying nothing.
        cache: Verdict cache, as for every scoring judge (``True``: in memory).

    Attributes:
        judge_id: ``calibrated:<inner judge id>:<hash of baseline and threshold>``.

    Example:
        >>> from consent_gym.judges import RuleJudge
        >>> class Counter(RuleJudge):  # scores: minus the number of "harm" words
        ...     def score_texts(self, texts):
        ...         return [-float(t.count("harm")) for t in texts]
        >>> inner = Counter(lambda text: True, name="count")
        >>> judge = BaselineCalibratedJudge(inner, lambda t: t.split(" ANSWER ")[0])
        >>> [v.approved for v in judge.judge_batch(["harm talk ANSWER fine",
        ...                                         "harm talk ANSWER harm"])]
        [False, False]
        >>> judge = BaselineCalibratedJudge(inner, lambda t: t.split(" ANSWER ")[0],
        ...                                 threshold=-0.5)
        >>> [v.approved for v in judge.judge_batch(["harm talk ANSWER fine",
        ...                                         "harm talk ANSWER harm"])]
        [True, False]
    """

    def __init__(
        self,
        judge: Any,
        baseline: Callable[[str], str],
        threshold: float = 0.0,
        cache: VerdictCache | str | bool | None = True,
    ) -> None:
        check_judge(judge)
        if not callable(getattr(judge, "score_texts", None)):
            raise TypeError(
                f"{type(judge).__name__} has no score_texts(texts) method; calibration needs "
                "raw scores (LLMJudge and EmbeddingJudge have them)."
            )
        if not callable(baseline):
            raise TypeError(
                f"baseline must map a text to its content-free text, got "
                f"{type(baseline).__name__}; e.g. CompletionRenderer().content_free."
            )
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (
            float("-inf") < threshold < float("inf")
        ):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}.")
        self.judge = judge
        self.baseline = baseline
        self.threshold = float(threshold)
        described = f"{describe_baseline(baseline)}\0threshold={self.threshold!r}"
        self.prompt = f"{getattr(judge, 'prompt', '')}\0calibrated against {described}"
        digest = hashlib.sha256(described.encode()).hexdigest()[:12]
        self.judge_id = f"calibrated:{judge.judge_id}:{digest}"
        self.cache = resolve_cache(cache)
        self._fingerprint = _InnerFrozen(judge)
        self._baseline_scores: OrderedDict[str, float] = OrderedDict()

    def verify_frozen(self, full: bool = True) -> None:
        """The inner judge's frozen check."""
        verify_frozen(self.judge, full=full)

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        """``score(text) - score(baseline(text))`` for each text, in one inner call.

        Raises:
            ValueError: ``baseline`` could not take a text apart (its own error, with the
                text's start added).
        """
        texts = check_texts(texts)
        baselines = []
        for text in texts:
            try:
                baselines.append(self.baseline(text))
            except ValueError as exc:
                raise ValueError(f"{exc} (text starting {text[:60]!r})") from exc
        missing = list(dict.fromkeys(b for b in baselines if b not in self._baseline_scores))
        scores = self.judge.score_texts([*texts, *missing]) if texts else []
        for text, score in zip(missing, scores[len(texts):], strict=True):
            self._baseline_scores[text] = float(score)
        calibrated = [float(s) - self._baseline_scores[b]
                      for s, b in zip(scores[: len(texts)], baselines, strict=True)]
        for text in baselines:
            self._baseline_scores.move_to_end(text)
        while len(self._baseline_scores) > BASELINE_MEMO:
            self._baseline_scores.popitem(last=False)
        return calibrated

    def _decide(self, texts: list[str]) -> list[Verdict]:
        return [verdict_from_score(self.judge_id, score, self.threshold, label="calibrated")
                for score in self.score_texts(texts)]

    def __repr__(self) -> str:
        return (f"BaselineCalibratedJudge({self.judge!r}, baseline="
                f"{describe_baseline(self.baseline)}, threshold={self.threshold:g})")
