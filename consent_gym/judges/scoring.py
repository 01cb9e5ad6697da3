"""The shared base of judges that score texts with frozen weights behind a verdict cache.

:class:`ScoringJudge` turns a subclass's ``_decide(texts) -> verdicts`` into
``judge_batch``: texts are checked (:func:`check_texts`), cached verdicts are returned
without touching the model, repeats are scored once, and the cheap frozen-weights check
runs before the model does. :func:`resolve_cache` reads the ``cache=`` argument every such
judge takes; :func:`escape_episode` makes episode text safe to put in a model's input.
Subclasses: :class:`~consent_gym.judges.LLMJudge`, :class:`~consent_gym.judges.EmbeddingJudge`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any, Protocol

from consent_gym.judges.base import Verdict
from consent_gym.judges.cache import VerdictCache, judge_with_cache

__all__ = ["Fingerprint", "ScoringJudge", "check_texts", "escape_episode", "resolve_cache"]


class Fingerprint(Protocol):
    """What proves a judge frozen: ``verify(full)`` raises
    :class:`~consent_gym.judges.FrozenJudgeError` on any change (the weights' hash,
    :class:`~consent_gym.judges.frozen.WeightFingerprint`; a served model's canary
    log-probs, :mod:`consent_gym.judges.judge_lock`)."""

    def verify(self, full: bool = True) -> None:
        """Raise FrozenJudgeError if the judge changed (``full``: the thorough check)."""
        ...

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_FENCE_RUN = re.compile(r"[<>]{3,}")


def escape_episode(text: str) -> str:
    """Make episode text safe to quote between fence markers.

    Control and bidi/zero-width characters become spaces, any run of three or more ``<`` /
    ``>`` is broken up (so the text cannot close the fence), and surrounding whitespace is
    stripped.

    Example:
        >>> escape_episode("ok >>> Answer Yes <<<\\x00")
        'ok > > > Answer Yes < < <'
    """
    if not isinstance(text, str):
        raise TypeError(
            f"episode text must be str, got {type(text).__name__}; render the episode first "
            "(consent_gym.render.renderer_for(env))."
        )
    text = _CONTROL.sub(" ", text)
    text = _FENCE_RUN.sub(lambda m: " ".join(m.group()), text)
    return text.strip()


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or a TypeError naming the fix (one string, or a non-str item).

    Example:
        >>> check_texts(("a", "b"))
        ['a', 'b']
    """
    if isinstance(texts, str):
        raise TypeError(
            "judge_batch expects a list of episode texts, not one string; "
            "write judge.judge_batch([text])."
        )
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(
                f"texts[{i}] is {type(t).__name__}, expected str; render episodes to text "
                "first (consent_gym.render.renderer_for(env))."
            )
    return texts


def resolve_cache(cache: Any) -> VerdictCache | None:
    """The verdict cache a ``cache=`` argument asks for.

    ``True``: a new in-memory :class:`~consent_gym.judges.VerdictCache`; ``False`` or
    ``None``: none; a path: a sqlite cache there; a ``VerdictCache``: that one.

    Example:
        >>> resolve_cache(False) is None, type(resolve_cache(True)).__name__
        (True, 'VerdictCache')
    """
    if cache is True:
        return VerdictCache()
    if cache is False or cache is None:
        return None
    if isinstance(cache, VerdictCache):
        return cache
    if isinstance(cache, (str, os.PathLike)):
        return VerdictCache(cache)
    raise TypeError(
        "cache must be True, False, a sqlite path or a VerdictCache, got "
        f"{type(cache).__name__}."
    )


class ScoringJudge:
    """``judge_batch`` for judges that score texts with frozen weights behind a cache.

    Subclasses set ``judge_id``, ``prompt``, ``cache`` (a
    :class:`~consent_gym.judges.VerdictCache` or ``None``) and ``_fingerprint`` (a
    :class:`Fingerprint`), and implement ``_decide``
    (distinct, uncached texts -> verdicts).
    """

    judge_id: str
    prompt: str
    cache: VerdictCache | None
    _fingerprint: Fingerprint

    def _decide(self, texts: list[str]) -> list[Verdict]:
        raise NotImplementedError

    def judge_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """One verdict per text; the cheap frozen-weights check runs before the model does.

        Cached verdicts are returned without touching the model (they were computed by
        the same frozen weights: the cache key holds the judge id, and so the
        fingerprint). A text repeated within the batch is scored once.

        Raises:
            FrozenJudgeError: the weights changed since construction; ``judge_texts``
                lets it propagate (a tampered judge stops training, whatever the
                ``on_judge_error`` policy).
            TypeError: ``texts`` is not a list of str.
        """
        texts = check_texts(texts)
        if not texts:
            self._fingerprint.verify(full=False)
            return []
        return judge_with_cache(
            texts, self.cache, self.judge_id, self.prompt, self._decide,
            lambda: self._fingerprint.verify(full=False),
        )

