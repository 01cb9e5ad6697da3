"""The judge contract: :class:`Verdict`, the :class:`Judge` protocol, and safe calling.

Every judge in consent-gym, from the keyword :class:`~consent_gym.judges.RuleJudge` to the
frozen LLM, answers one question per episode text: may the agent learn from this?
A judge is anything with a ``judge_id`` string and a ``judge_batch(texts)`` method that
returns one :class:`Verdict` per text, in order.

Callers never call ``judge_batch`` directly: they go through :func:`judge_texts`, which
enforces the failure policy of ``DESIGN.md``: a judge that raises, returns the wrong number
or type of verdicts, or a malformed verdict (a non-bool ``approved`` such as the string
``"no"``, an approval that is also ``failed``, a score that is not a finite probability, a
non-str ``judge_id``, members that are not verdicts) never approves by accident; its
episodes get a *failed* verdict, which counts as a veto unless the caller explicitly
chooses otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from consent_gym.judges.frozen import FrozenJudgeError

Outcome = Literal["approved", "vetoed", "failed"]
OnJudgeError = Literal["veto", "raise", "approve"]
ON_JUDGE_ERROR_CHOICES: tuple[str, ...] = ("veto", "raise", "approve")


@dataclass(frozen=True)
class Verdict:
    """A judge's answer about one episode text.

    Attributes:
        approved: Whether the agent may learn from the episode. Always ``False`` when
            ``failed`` is true (fail-closed), unless the caller opted in to approving
            on failure.
        p_acceptable: The judge's probability (or calibrated score in ``[0, 1]``) that the
            episode is acceptable; ``nan`` when the judge failed.
        judge_id: Identifies the judge *and its frozen weights* (a fingerprint for
            model-based judges), so every verdict can be traced to one checkpoint.
        reason: Free text: why this verdict (a rule that fired, the failure message, ...).
        failed: ``True`` when the judge could not produce a verdict (exception, NaN,
            time-out, wrong batch size). Recorded, never silently turned into approval.
        flagged: ``True`` when the episode needs a person (e.g. a judge panel disagreed).
        members: For panels: each member's own verdict, in member order.
    """

    approved: bool
    p_acceptable: float
    judge_id: str
    reason: str = ""
    failed: bool = False
    flagged: bool = False
    members: tuple[Verdict, ...] = field(default=())

    @property
    def outcome(self) -> Outcome:
        """``"failed"``, ``"approved"`` or ``"vetoed"``: three outcomes, not two."""
        if self.failed:
            return "failed"
        return "approved" if self.approved else "vetoed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``nan`` becomes ``None``); members are nested dicts."""
        p = self.p_acceptable
        return {
            "approved": self.approved,
            "outcome": self.outcome,
            "p_acceptable": None if p is None or math.isnan(p) else float(p),
            "judge_id": self.judge_id,
            "reason": self.reason,
            "failed": self.failed,
            "flagged": self.flagged,
            "members": [m.to_dict() for m in self.members],
        }


@runtime_checkable
class Judge(Protocol):
    """What consent-gym needs from a judge.

    ``judge_id`` must change whenever the judge's decisions could change (weights,
    prompt, threshold), because verdict caches and audit logs are keyed by it.
    """

    judge_id: str

    def judge_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """Return one verdict per text, in the same order."""
        ...


class JudgeError(RuntimeError):
    """A judge failed and the caller asked for ``on_judge_error="raise"``."""


def failed_verdict(judge_id: str, reason: str, *, approve: bool = False) -> Verdict:
    """The verdict recorded when a judge could not answer (fail-closed by default)."""
    return Verdict(
        approved=approve, p_acceptable=math.nan, judge_id=judge_id, reason=reason, failed=True
    )


def check_on_judge_error(on_judge_error: str) -> None:
    """Raise a ``ValueError`` naming the valid choices for ``on_judge_error``."""
    if on_judge_error not in ON_JUDGE_ERROR_CHOICES:
        raise ValueError(
            f"on_judge_error={on_judge_error!r} is not supported; use one of "
            f"{ON_JUDGE_ERROR_CHOICES} ('veto' is the safe default)."
        )


def check_judge(judge: object) -> None:
    """Raise a ``TypeError`` unless ``judge`` satisfies the :class:`Judge` protocol."""
    if not isinstance(judge, Judge) or not callable(getattr(judge, "judge_batch", None)):
        raise TypeError(
            f"judge must have a `judge_id: str` attribute and a `judge_batch(texts) -> "
            f"list[Verdict]` method, got {type(judge).__name__}. Wrap a plain function "
            f"with consent_gym.judges.RuleJudge(predicate)."
        )


def _is_bool(value: object) -> bool:
    # numpy's bool_ is an honest yes/no from a numpy-based judge (``score > threshold`` on a
    # numpy float); 1, "yes" or None are not booleans, and "no" is truthy: never a vote.
    return isinstance(value, (bool, np.bool_))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.floating, np.integer)) and not _is_bool(value)


def _is_probability(value: object) -> bool:
    return _is_number(value) and math.isfinite(value) and 0.0 <= float(value) <= 1.0  # type: ignore[arg-type]


def _shape_problem(verdict: object, where: str) -> str | None:
    """What makes ``verdict`` unusable as a vote (``None``: nothing), ``where`` names it."""
    if not isinstance(verdict, Verdict):
        return f"{where} is a {type(verdict).__name__}, expected Verdict"
    for name in ("approved", "failed", "flagged"):
        value = getattr(verdict, name)
        if not _is_bool(value):
            return f"{where} has a non-bool {name}={value!r}"
    if not isinstance(verdict.judge_id, str):
        return f"{where} has a non-str judge_id={verdict.judge_id!r}"
    if not isinstance(verdict.reason, str):
        return f"{where} has a non-str reason={verdict.reason!r}"
    if verdict.failed:
        if verdict.approved:
            return f"{where} failed but approves (approved=True, failed=True)"
        if not _is_number(verdict.p_acceptable):  # nan is fine; a str breaks the audit log
            return f"{where} has a non-numeric p_acceptable={verdict.p_acceptable!r}"
    elif not _is_probability(verdict.p_acceptable):
        return (
            f"{where} has p_acceptable={verdict.p_acceptable!r}, expected a finite "
            f"probability in [0, 1]"
        )
    if not isinstance(verdict.members, tuple):
        return f"{where} has members of type {type(verdict.members).__name__}, expected tuple"
    for i, member in enumerate(verdict.members):
        problem = _shape_problem(member, f"{where}'s member {i}")
        if problem is not None:
            return problem
    return None


def _normalised(verdict: Verdict) -> Verdict:
    """``verdict`` with numpy booleans made Python ones (exact JSON, ``is True`` checks)."""
    members = tuple(_normalised(m) for m in verdict.members)
    flags = {n: getattr(verdict, n) for n in ("approved", "failed", "flagged")}
    if all(type(v) is bool for v in flags.values()) and all(
        new is old for new, old in zip(members, verdict.members, strict=True)
    ):
        return verdict
    return replace(
        verdict,
        approved=bool(flags["approved"]),
        failed=bool(flags["failed"]),
        flagged=bool(flags["flagged"]),
        members=members,
    )


def judge_texts(
    judge: Judge, texts: Sequence[str], *, on_judge_error: OnJudgeError = "veto"
) -> list[Verdict]:
    """Ask ``judge`` about ``texts`` under the fail-closed policy.

    Args:
        judge: Any object satisfying :class:`Judge`.
        texts: Episode texts; an empty sequence returns ``[]`` without calling the judge.
        on_judge_error: ``"veto"`` (default) turns any failure into a failed, vetoing
            verdict with the reason recorded; ``"raise"`` raises :class:`JudgeError`;
            ``"approve"`` records the failure but approves, an explicit and unsafe opt-in.
            A :class:`~consent_gym.judges.FrozenJudgeError` (the judge's weights changed)
            always propagates: it is an error, never a vote.

    Returns:
        One verdict per text, in order. Failures are never silently approved: a verdict
        approves only when its ``approved`` is ``True`` (a Python or numpy bool, returned
        as a Python bool) and it did not fail; any malformed verdict is handled as a
        judge failure under ``on_judge_error``.

    Example:
        >>> from consent_gym.judges import RuleJudge
        >>> judge = RuleJudge(lambda text: "pedestrian" not in text)
        >>> [v.outcome for v in judge_texts(judge, ["road", "hit pedestrian"])]
        ['approved', 'vetoed']
    """
    check_on_judge_error(on_judge_error)
    texts = list(texts)
    if not texts:
        return []
    judge_id = str(getattr(judge, "judge_id", type(judge).__name__))
    try:
        verdicts = judge.judge_batch(texts)
        if not isinstance(verdicts, (list, tuple)) or len(verdicts) != len(texts):
            n = len(verdicts) if isinstance(verdicts, (list, tuple)) else type(verdicts).__name__
            raise JudgeError(
                f"judge {judge_id!r} returned {n} verdicts for {len(texts)} texts; "
                f"judge_batch must return exactly one Verdict per text, in order."
            )
    except FrozenJudgeError:
        raise  # tampering is not a judge failure to vote around: it stops training
    except Exception as exc:  # any failure must fail closed
        if on_judge_error == "raise":
            if isinstance(exc, JudgeError):
                raise
            raise JudgeError(f"judge {judge_id!r} failed: {exc!r}") from exc
        reason = f"judge error: {exc!r}"
        return [failed_verdict(judge_id, reason, approve=on_judge_error == "approve")] * len(texts)
    checked: list[Verdict] = []
    for verdict in verdicts:
        problem = _shape_problem(verdict, "a verdict")
        if problem is None:
            assert isinstance(verdict, Verdict)  # for mypy: _shape_problem checked it
            checked.append(_normalised(verdict))
            continue
        if on_judge_error == "raise":
            raise JudgeError(f"judge {judge_id!r}: {problem}")
        checked.append(
            failed_verdict(judge_id, f"judge error: {problem}", approve=on_judge_error == "approve")
        )
    return checked


def verify_frozen(judge: object, full: bool = True) -> None:
    """Re-check a judge's frozen weights if it has any (``judge.verify_frozen(full)``).

    Rule judges have no weights and pass; model judges raise
    :class:`~consent_gym.judges.FrozenJudgeError` on any change; panels check every member.
    consent-gym runs the full check at the start and end of SB3 training.

    Example:
        >>> from consent_gym.judges import RuleJudge
        >>> verify_frozen(RuleJudge(lambda text: True, name="yes"))  # nothing to check
    """
    check = getattr(judge, "verify_frozen", None)
    if callable(check):
        check(full=full)


def with_reason(verdict: Verdict, reason: str) -> Verdict:
    """A copy of ``verdict`` with ``reason`` set (verdicts are immutable)."""
    return replace(verdict, reason=reason)
