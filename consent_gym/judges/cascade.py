"""A judge cascade: a cheap judge decides the episodes it is sure about, a careful one the rest.

:class:`CascadeJudge` asks its ``first`` judge (e.g. the millisecond
:class:`~consent_gym.judges.EmbeddingJudge`) about every text. Where ``first`` is confident,
its ``p_acceptable`` lying outside the uncertain band ``(veto_below, approve_above)``, its
verdict stands; every other text goes to the ``second`` judge (e.g. the default LLM judge)
in one batched call. The cascade is itself a :class:`~consent_gym.judges.Judge`, so it goes
wherever a judge goes (``ConsentWrapper(judge=...)``, the SB3 buffers, ``judge_texts``).

Safety first: by default the first stage may only *veto* on its own (``approve_above=None``),
because a weak judge that approves harm is the costly error, and a wrong veto only costs
an episode of learning. Give ``approve_above`` to let it approve too. ``docs/cascade.md``
reports how often a cascade agrees with the LLM judge alone, for both variants.

Routing rules (a text goes to ``second`` unless the first stage is confident):

- ``first`` vetoes with ``p_acceptable <= veto_below``: the cascade vetoes (stage 1);
- ``first`` approves with ``p_acceptable >= approve_above`` (only when ``approve_above`` is
  given): the cascade approves (stage 1);
- anything else, including a *failed* or *flagged* first verdict and a verdict whose
  ``approved`` contradicts its side of the band: ``second`` decides (stage 2).

Both stages are called through the fail-closed :func:`~consent_gym.judges.judge_texts`
(``on_judge_error="veto"``), so a second stage that raises, times out, returns NaN or the
wrong number of verdicts gives *failed* verdicts (vetoes) for exactly the texts it was
asked about, never an approval; the texts the first stage decided keep their verdicts. A
:class:`~consent_gym.judges.FrozenJudgeError` from either stage propagates: tampering
stops training.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

from consent_gym.judges.base import Judge, Verdict, check_judge, judge_texts, verify_frozen

__all__ = ["MEASURED_VETO_BELOW", "CascadeJudge", "default_cascade"]

#: ``veto_below`` chosen for the default EmbeddingJudge in front of the default LLM judge on
#: the delivery training texts (docs/cascade.md): there it approved nothing the LLM alone
#: vetoed and agreed with it on 99.6% of episodes; on judge-bench dev on 38 of 40 rows.
MEASURED_VETO_BELOW = 0.27


def _check_bound(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{name} must be a number in [0, 1] (a p_acceptable of the first judge) or None, "
            f"got {type(value).__name__}."
        )
    if math.isnan(value):
        raise ValueError(
            f"{name} is NaN: give a number in [0, 1] (a p_acceptable of the first judge), or "
            f"None to stop the first stage deciding on that side."
        )
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"{name}={value!r} is outside [0, 1]: the band is on the first judge's "
            f"p_acceptable, not its raw score (an EmbeddingJudge score margin m maps to "
            f"p = sigmoid(m / temperature))."
        )
    return float(value)


class CascadeJudge:
    """Two judges in series: ``first`` decides its confident texts, ``second`` the rest.

    Args:
        first: The cheap judge, asked about every text (any
            :class:`~consent_gym.judges.Judge`).
        second: The careful judge, asked only about the texts ``first`` is unsure of, in
            one batched call per :meth:`judge_batch`, in input order.
        veto_below: ``first`` vetoes on its own when its verdict is a veto with
            ``p_acceptable <= veto_below``. ``None``: it never vetoes on its own. No
            default: the band depends on the first judge, so choose it on your texts
            (``docs/cascade.md``: ``0.27`` for the default EmbeddingJudge, measured).
        approve_above: ``first`` approves on its own when its verdict is an approval with
            ``p_acceptable >= approve_above``. ``None`` (default, the safe choice): it never
            approves on its own, so every approval comes from ``second``.

    The verdict of a text decided by stage 1 carries ``members=(first_verdict,)`` and a
    reason starting ``"stage 1"``; one decided by stage 2 carries
    ``members=(first_verdict, second_verdict)`` and a reason starting ``"stage 2"``
    (:meth:`stage` reads it back). ``approved``, ``p_acceptable``, ``failed`` and
    ``flagged`` are the deciding judge's, except that a failed verdict never approves.

    ``judge_id`` is ``cascade:<hash>``, the 12-character hash covering both judge ids and
    the band, so caches and audit logs never mix configurations; ``describe`` spells the
    configuration out.

    Attributes:
        texts_judged: Texts judged so far (each text of each batch counts).
        decided_by_first: Of those, texts the first stage decided.
        decided_by_second: Texts sent to the second stage (``texts_judged -
            decided_by_first``).
        first_failures: Texts on which the first stage failed (all sent to the second).
        second_batches: Calls made to the second judge.

    Raises:
        TypeError: ``first`` or ``second`` is not a judge, or a bound is not a number.
        ValueError: a bound is NaN or outside ``[0, 1]``, both are ``None``, or
            ``veto_below >= approve_above``.

    Example:
        >>> from consent_gym.judges import KeywordJudge, RuleJudge
        >>> cheap = KeywordJudge(["pedestrian"])  # p_acceptable 1.0 or 0.0
        >>> careful = RuleJudge(lambda text: "sidewalk" not in text, name="careful")
        >>> cascade = CascadeJudge(cheap, careful, veto_below=0.1)  # cheap may only veto
        >>> verdicts = cascade.judge_batch(
        ...     ["The car hit a pedestrian.", "The car drove on the sidewalk.", "Delivered."]
        ... )
        >>> [(v.outcome, CascadeJudge.stage(v)) for v in verdicts]
        [('vetoed', 1), ('vetoed', 2), ('approved', 2)]
        >>> cascade.decided_by_first, cascade.decided_by_second, cascade.second_batches
        (1, 2, 1)
    """

    def __init__(
        self,
        first: Judge,
        second: Judge,
        *,
        veto_below: float | None,
        approve_above: float | None = None,
    ) -> None:
        for label, judge in (("first", first), ("second", second)):
            try:
                check_judge(judge)
            except TypeError as exc:
                raise TypeError(f"{label}: {exc}") from None
        veto = _check_bound("veto_below", veto_below)
        approve = _check_bound("approve_above", approve_above)
        if veto is None and approve is None:
            raise ValueError(
                "veto_below and approve_above are both None, so the first stage would decide "
                "nothing: give veto_below (e.g. 0.27) and/or approve_above, or use the second "
                "judge alone."
            )
        if veto is not None and approve is not None and not veto < approve:
            raise ValueError(
                f"veto_below={veto!r} must be below approve_above={approve!r}: the uncertain "
                f"band is (veto_below, approve_above); did you swap them?"
            )
        self.first = first
        self.second = second
        self.veto_below = veto
        self.approve_above = approve
        self.describe = (
            f"cascade first={first.judge_id} second={second.judge_id} "
            f"veto_below={veto!r} approve_above={approve!r}"
        )
        digest = hashlib.sha256(self.describe.encode()).hexdigest()[:12]
        self.judge_id = f"cascade:{digest}"
        self.reset_counts()

    # ------------------------------------------------------------------ counters
    def reset_counts(self) -> None:
        """Set every counter back to zero."""
        self.texts_judged = 0
        self.decided_by_first = 0
        self.first_failures = 0
        self.second_batches = 0

    @property
    def decided_by_second(self) -> int:
        """Texts sent to the second judge so far."""
        return self.texts_judged - self.decided_by_first

    def stats(self) -> dict[str, Any]:
        """The counters as a dict, with ``first_share`` (``None`` before any text)."""
        n = self.texts_judged
        return {
            "texts_judged": n,
            "decided_by_first": self.decided_by_first,
            "decided_by_second": self.decided_by_second,
            "first_failures": self.first_failures,
            "second_batches": self.second_batches,
            "first_share": self.decided_by_first / n if n else None,
        }

    # ------------------------------------------------------------------ judging
    @staticmethod
    def stage(verdict: Verdict) -> int | None:
        """Which stage decided a cascade verdict: ``1``, ``2``, or ``None`` for another verdict."""
        if not verdict.judge_id.startswith("cascade:"):
            return None
        return len(verdict.members) if len(verdict.members) in (1, 2) else None

    def _why_second(self, verdict: Verdict) -> str | None:
        """``None`` when ``first``'s verdict stands, else why the second stage decides."""
        if verdict.failed:
            return "failed"
        if verdict.flagged:
            return "flagged its verdict"
        p = verdict.p_acceptable
        if verdict.approved:
            if self.approve_above is None:
                return f"approved (p={p:.3g}) but may only veto on its own"
            if p >= self.approve_above:
                return None
            return f"unsure (approved, p={p:.3g} < approve_above={self.approve_above:g})"
        if self.veto_below is None:
            return f"vetoed (p={p:.3g}) but may only approve on its own"
        if p <= self.veto_below:
            return None
        return f"unsure (vetoed, p={p:.3g} > veto_below={self.veto_below:g})"

    def judge_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """One verdict per text: the first judge's where it is confident, else the second's.

        Raises:
            FrozenJudgeError: either judge's weights changed.
            TypeError: ``texts`` is a single string instead of a list of them.
        """
        if isinstance(texts, (str, bytes)):
            raise TypeError("texts must be a list of episode texts, not one string.")
        texts = list(texts)
        if not texts:
            return []
        firsts = judge_texts(self.first, texts, on_judge_error="veto")
        reasons = [self._why_second(v) for v in firsts]
        uncertain = [i for i, why in enumerate(reasons) if why is not None]
        seconds: list[Verdict] = []
        if uncertain:
            self.second_batches += 1
            seconds = judge_texts(self.second, [texts[i] for i in uncertain], on_judge_error="veto")
        self.texts_judged += len(texts)
        self.decided_by_first += len(texts) - len(uncertain)
        self.first_failures += sum(1 for v in firsts if v.failed)
        second_of = dict(zip(uncertain, seconds, strict=True))
        out: list[Verdict] = []
        for i, first in enumerate(firsts):
            second = second_of.get(i)
            if second is None:
                out.append(
                    Verdict(
                        approved=first.approved,
                        p_acceptable=first.p_acceptable,
                        judge_id=self.judge_id,
                        reason=f"stage 1 ({self.first.judge_id}) decided: {first.reason}",
                        members=(first,),
                    )
                )
                continue
            out.append(
                Verdict(
                    approved=second.approved and not second.failed,
                    p_acceptable=second.p_acceptable,
                    judge_id=self.judge_id,
                    reason=(
                        f"stage 2 ({self.second.judge_id}) decided, first stage "
                        f"{reasons[i]}: {second.reason}"
                    ),
                    failed=second.failed,
                    flagged=second.flagged,
                    members=(first, second),
                )
            )
        return out

    @property
    def cache_stats(self) -> Any:
        """The second (costly) judge's cache counters: its ``cache_stats``, else its
        ``cache`` (e.g. an LLM judge's :class:`~consent_gym.judges.VerdictCache`), else
        ``None``. They count only the texts the first stage passed on."""
        stats = getattr(self.second, "cache_stats", None)
        return stats if stats is not None else getattr(self.second, "cache", None)

    def verify_frozen(self, full: bool = True) -> None:
        """Re-check both judges' frozen weights (judges without weights pass)."""
        verify_frozen(self.first, full=full)
        verify_frozen(self.second, full=full)

    def __repr__(self) -> str:
        return (
            f"CascadeJudge({self.first!r}, {self.second!r}, veto_below={self.veto_below!r}, "
            f"approve_above={self.approve_above!r})"
        )


def default_cascade(veto_below: float = MEASURED_VETO_BELOW, **llm_kwargs: Any) -> CascadeJudge:
    """The embedded EmbeddingJudge in front of the prompted :class:`~consent_gym.judges.LLMJudge`.

    The embedding stage may only veto (``p_acceptable <= veto_below``); every approval comes
    from the frozen LLM. ``llm_kwargs`` go to ``LLMJudge`` (e.g. ``dtype=``,
    ``cache=``). Measured in ``docs/cascade.md``: it sent 31 instead of 131-176 distinct
    delivery texts per training run to the LLM and approved none that the LLM vetoed.
    Re-measure the band on your own texts (``examples/cascade_agreement.py``).
    """
    from consent_gym.judges.embedding import EmbeddingJudge
    from consent_gym.judges.llm import LLMJudge

    return CascadeJudge(EmbeddingJudge(), LLMJudge(**llm_kwargs), veto_below=veto_below)
