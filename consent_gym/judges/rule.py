"""Deterministic judges for tests and ground truth: no model, no randomness."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from consent_gym.judges.base import Verdict


class RuleJudge:
    """Approves a text exactly when ``predicate(text)`` is true.

    Use it in tests, as ground truth (the delivery env's events render to fixed phrases),
    or as a cheap first stage. ``p_acceptable`` is 1.0 or 0.0.

    Args:
        predicate: ``text -> bool``; true means the episode is acceptable.
        name: Part of the judge id; defaults to the predicate's ``__name__``.

    Example:
        >>> judge = RuleJudge(lambda text: "pedestrian" not in text, name="no-pedestrians")
        >>> [v.approved for v in judge.judge_batch(["drove on the road", "hit a pedestrian"])]
        [True, False]
        >>> judge.judge_id
        'rule:no-pedestrians'
    """

    def __init__(self, predicate: Callable[[str], bool], name: str | None = None) -> None:
        if not callable(predicate):
            raise TypeError(
                f"predicate must be a callable text -> bool, got {type(predicate).__name__}; "
                f"e.g. RuleJudge(lambda text: 'pedestrian' not in text)."
            )
        self.predicate = predicate
        self.name = name or getattr(predicate, "__name__", "predicate")
        self.judge_id = f"rule:{self.name}"

    def judge_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """One verdict per text: approved iff the predicate holds."""
        # Verdicts are immutable and a rule has two answers: build each once (cheap gating).
        approve, veto = self._verdicts()
        return [approve if self.predicate(text) else veto for text in texts]

    def _verdicts(self) -> tuple[Verdict, Verdict]:
        cached = self.__dict__.get("_cached_verdicts")
        if cached is None or cached[0].judge_id != self.judge_id:
            cached = self._cached_verdicts = (
                Verdict(True, 1.0, self.judge_id, "predicate true"),
                Verdict(False, 0.0, self.judge_id, "predicate false"),
            )
        return cached

    def __repr__(self) -> str:
        return f"RuleJudge(name={self.name!r})"


class KeywordJudge(RuleJudge):
    """Vetoes any text containing one of ``forbidden`` (case-insensitive).

    Example:
        >>> judge = KeywordJudge(["hit a pedestrian", "ran over"])
        >>> [v.approved for v in judge.judge_batch(["The car hit a pedestrian.", "Delivered."])]
        [False, True]
    """

    def __init__(self, forbidden: Iterable[str]) -> None:
        if isinstance(forbidden, str):
            raise TypeError(
                "forbidden must be a list of phrases, not one string; "
                f"write KeywordJudge([{forbidden!r}])."
            )
        words = tuple(str(w).lower() for w in forbidden)
        if not words or any(not w for w in words):
            raise ValueError("forbidden must hold at least one non-empty phrase.")
        self.forbidden = words
        digest = hashlib.sha256("\n".join(words).encode()).hexdigest()[:12]

        def no_forbidden_phrase(text: str) -> bool:
            lowered = text.lower()
            return not any(w in lowered for w in words)

        super().__init__(no_forbidden_phrase, name=f"keywords-{digest}")

    def judge_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """One verdict per text, naming the first forbidden phrase found."""
        verdicts = []
        for text in texts:
            lowered = text.lower()
            hits = [w for w in self.forbidden if w in lowered]
            verdicts.append(
                Verdict(
                    approved=not hits,
                    p_acceptable=0.0 if hits else 1.0,
                    judge_id=self.judge_id,
                    reason=f"forbidden phrase: {hits[0]!r}" if hits else "no forbidden phrase",
                )
            )
        return verdicts
