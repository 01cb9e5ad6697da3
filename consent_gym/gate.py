"""The one decision step: every consumer of verdicts asks the judge through :func:`decide`.

Given the *pieces* a learner is about to use (finished episodes, with their texts and
returns), :func:`decide` asks the judge about all of them in ONE call under the failure
policy, writes one audit line per verdict and fsyncs the log, counts everything in
:class:`ConsentStats`, and returns a :class:`Decision` per piece saying what its rewards
may sum to for the learner. The wrappers, the Stable-Baselines3 buffers, the rollout API
for custom training loops and panels judging trajectories all go through it; nothing else
on the learner side calls :func:`~consent_gym.judges.judge_texts` or writes the audit log.

:class:`ConsentSettings` is the one settings type (judge, veto :data:`Mode`, penalty,
failure policy, audit log, ``info`` key, pipelined judging) with the one argument check.

Pipelined judging (``ConsentSettings(pipeline=True)``): consumers that judge at the end of
a rollout call :func:`submit_to_pipeline` as each episode finishes, and a
:class:`~consent_gym.judge_pipeline.JudgePipeline` judges it in the background;
:func:`decide` then takes those verdicts (waiting for the ones in flight), judges the rest
itself, and logs every verdict it uses. A prefetch that failed or timed out is judged
again by :func:`decide`, under the settings' failure policy.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from consent_gym.audit import AuditLog
from consent_gym.judge_pipeline import JudgePipeline
from consent_gym.judges.base import (
    Judge,
    OnJudgeError,
    Verdict,
    check_judge,
    check_on_judge_error,
    judge_texts,
    verify_frozen,
)
from consent_gym.judges.cache import read_cache_stats
from consent_gym.judges.panel import JudgePanel
from consent_gym.render.base import Renderer, check_renderer
from consent_gym.render.views import PanelRenderer
from consent_gym.trajectory import Trajectory

#: What a vetoed episode contributes: ``"zero"`` (no reward), ``"penalty"`` (one large
#: negative reward at its last step) or ``"block"`` (none of its steps reach an update;
#: needs the learner's cooperation: the SB3 buffers or :mod:`consent_gym.rollout`).
Mode = Literal["zero", "penalty", "block"]
MODES: tuple[str, ...] = ("zero", "penalty", "block")
#: The modes a wrapper can apply on its own (it cannot keep steps out of a gradient).
WRAPPER_MODES: tuple[str, ...] = ("zero", "penalty")


def check_mode(mode: object, allowed: Sequence[str] = MODES) -> None:
    """Raise a ``ValueError`` naming the choices unless ``mode`` is one of ``allowed``."""
    if mode in allowed:
        return
    hint = ""
    if mode == "block":
        hint = (
            " 'block' keeps vetoed steps out of the gradient, which only the learner can do: "
            "use consent_gym.sb3 or consent_gym.rollout.RolloutConsent."
        )
    raise ValueError(f"mode={mode!r} is not supported here; use one of {tuple(allowed)}.{hint}")


def check_penalty(penalty: object) -> float:
    """``penalty`` as a float; a ``ValueError`` unless it is a finite number (not a bool)."""
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float, np.integer,
                                                             np.floating)):
        raise ValueError(f"penalty must be a finite number, got {penalty!r}.")
    if not math.isfinite(float(penalty)):
        raise ValueError(f"penalty must be a finite number, got {penalty!r}.")
    return float(penalty)


class ConsentSettings:
    """How verdicts are asked for and applied; shared by every consumer.

    The judge is *not* pickled (SB3 saves buffer kwargs with the model, and a frozen LLM
    judge does not belong in every checkpoint; envs are pickled into worker processes):
    an unpickled settings object has ``judge=None`` and refuses to decide until given one.

    Args:
        judge: Any :class:`~consent_gym.judges.Judge` (``None``: supplied later).
        mode: ``"zero"`` (default), ``"penalty"`` or ``"block"`` (see :data:`Mode`).
        penalty: What a vetoed episode's rewards sum to in ``"penalty"`` mode.
        audit_log: A path or :class:`~consent_gym.audit.AuditLog`; every verdict is
            appended and fsync'ed before any learner uses it.
        on_judge_error: ``"veto"`` (default: a failed judge never approves), ``"raise"``,
            or ``"approve"`` (unsafe, explicit opt-in).
        info_key: The ``info`` key under which episode records travel.
        pipeline: Pipelined judging: ``True`` (a
            :class:`~consent_gym.judge_pipeline.JudgePipeline` with its defaults, closed
            with these settings), a ``JudgePipeline``, or ``False`` (default: judge at
            decision time only). Used by the consumers that judge at a rollout's end (the
            SB3 buffers, :class:`~consent_gym.rollout.RolloutConsent`). The wrappers do not
            take it: they decide on the step an episode ends (the reward they release on
            that step depends on the verdict), so there is nothing to overlap.
        modes: The modes this consumer supports (wrappers: no ``"block"``).

    Example:
        >>> import pickle
        >>> from consent_gym.judges import RuleJudge
        >>> settings = ConsentSettings(RuleJudge(lambda t: True, name="ok"), mode="zero")
        >>> settings.mode, pickle.loads(pickle.dumps(settings)).judge is None
        ('zero', True)
    """

    #: Settings pickled before pipelines existed (a saved model's buffer kwargs) have none.
    pipeline: JudgePipeline | None = None
    owns_pipeline: bool = False

    def __init__(
        self,
        judge: Judge | None = None,
        mode: Mode = "zero",
        penalty: float = -100.0,
        audit_log: AuditLog | str | os.PathLike[str] | None = None,
        on_judge_error: OnJudgeError = "veto",
        info_key: str = "consent",
        *,
        pipeline: JudgePipeline | bool = False,
        modes: Sequence[str] = MODES,
    ) -> None:
        if judge is not None:
            check_judge(judge)
        check_mode(mode, modes)
        self.penalty = check_penalty(penalty)
        check_on_judge_error(on_judge_error)
        if not isinstance(info_key, str) or not info_key:
            raise ValueError("info_key must be a non-empty string.")
        if audit_log is not None and not isinstance(audit_log, (AuditLog, str, os.PathLike)):
            raise TypeError(
                f"audit_log must be a path or an AuditLog, got {type(audit_log).__name__}."
            )
        if not isinstance(pipeline, (bool, JudgePipeline)):
            raise TypeError(
                f"pipeline must be True, False or a consent_gym.judge_pipeline.JudgePipeline, "
                f"got {type(pipeline).__name__}."
            )
        self.judge = judge
        #: Whether :meth:`close` closes the pipeline (these settings made it).
        self.owns_pipeline = pipeline is True
        self.pipeline: JudgePipeline | None = (
            JudgePipeline() if pipeline is True
            else pipeline if isinstance(pipeline, JudgePipeline) else None
        )
        self.mode: Mode = mode
        self.on_judge_error: OnJudgeError = on_judge_error
        self.info_key = info_key
        #: Whether :meth:`close` closes the log (this object opened it from a path).
        self.owns_log = audit_log is not None and not isinstance(audit_log, AuditLog)
        self.audit_log: AuditLog | None = (
            audit_log if audit_log is None or isinstance(audit_log, AuditLog)
            else AuditLog(audit_log)
        )

    def released(self, approved: bool, episode_return: float) -> float:
        """What a piece's rewards sum to for the learner: its return if approved, else 0
        (``"zero"``, ``"block"``) or the penalty."""
        if approved:
            return episode_return
        return self.penalty if self.mode == "penalty" else 0.0

    def close(self) -> None:
        """Close the audit log and the pipeline if these settings opened them."""
        if self.owns_log and self.audit_log is not None:
            self.audit_log.close()
        if self.owns_pipeline and self.pipeline is not None:
            self.pipeline.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["judge"] = None  # never serialise a (possibly huge) judge
        return state

    def __repr__(self) -> str:
        return (
            f"ConsentSettings(judge={self.judge!r}, mode={self.mode!r}, "
            f"penalty={self.penalty}, audit_log={self.audit_log!r}, "
            f"pipeline={self.pipeline!r})"
        )


@dataclass(frozen=True)
class Piece:
    """One episode, or the steps of one, that an update is about to use.

    Attributes:
        text: What the judge reads (the whole episode's text).
        episode_return: The env's undiscounted return over the piece's steps.
        env_id: The env's id, for the audit log.
        episode_index: The recorder's episode counter (``-1`` if unknown).
        env_index: The sub-env it ran in.
        start: Episode step of the piece's first step.
        steps: Number of its steps the update uses.
        finished: Whether the episode had ended.
    """

    text: str
    episode_return: float
    env_id: str = ""
    episode_index: int = -1
    env_index: int = 0
    start: int = 0
    steps: int = 0
    finished: bool = True


@dataclass(frozen=True)
class Decision:
    """The verdict on a piece and what its rewards may sum to for the learner."""

    piece: Piece
    verdict: Verdict
    released: float

    @property
    def approved(self) -> bool:
        """Whether the piece may be learned from as it happened."""
        return self.verdict.approved


@dataclass
class JudgeCall:
    """What one :func:`decide` call saw (kept when ``ConsentStats(history=True)``).

    Attributes:
        timestep: :attr:`ConsentStats.timestep` at the call (the caller's clock).
        n: Pieces judged.
        vetoed: Pieces not approved (failures included).
        failed: Pieces whose verdict failed.
        flagged: Pieces flagged for a person (panel disagreement).
        seconds: Wall time of the judge call.
        cache_hits: Pieces answered from the judge's cache (``None`` if unknown).
    """

    timestep: int
    n: int
    vetoed: int
    failed: int
    flagged: int
    seconds: float
    cache_hits: int | None = None


@dataclass
class ConsentStats:
    """Counts of what the decision step did; every consumer and report reads these.

    ``last_*`` fields describe the latest judge call; the others are totals since the
    object was made. With ``history=True`` every call is also kept as a
    :class:`JudgeCall` (for curves) and every distinct text with its first verdict and
    count in :attr:`seen`.
    """

    history: bool = False
    timestep: int = 0
    judged: int = 0
    vetoed: int = 0
    failed: int = 0
    flagged: int = 0
    judge_calls: int = 0
    judge_seconds: float = 0.0
    prefetched: int = 0
    vetoed_steps: int = 0
    used_steps: int = 0
    skipped_updates: int = 0
    dropped_unjudged_steps: int = 0
    last_judged: int = 0
    last_vetoed: int = 0
    last_latency_s: float = 0.0
    last_prefetched: int = 0
    last_vetoed_steps: int = 0
    last_steps: int = 0
    cache_start: tuple[float, float] | None = None
    cache_now: tuple[float, float] | None = None
    calls: list[JudgeCall] = field(default_factory=list)
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def veto_rate(self) -> float:
        """Vetoed (failed included) over judged pieces, since the start; nan if none."""
        return self.vetoed / self.judged if self.judged else math.nan

    @property
    def cache_hit_rate(self) -> float | None:
        """Hits over lookups of the judge's cache since these stats started, if known."""
        if self.cache_now is None:
            return None
        hits, total = self.cache_now
        if self.cache_start is not None:
            hits, total = hits - self.cache_start[0], total - self.cache_start[1]
        return hits / total if total > 0 else None

    def record(
        self, pieces: Sequence[Piece], verdicts: Sequence[Verdict], seconds: float,
        judge: object, prefetched: int = 0,
    ) -> None:
        """Count one judge call over ``pieces`` (called by :func:`decide`); ``prefetched``
        of the verdicts came from the pipeline, ``seconds`` includes waiting for them."""
        before = self.cache_now if self.cache_now is not None else self.cache_start
        hits_before = before[0] if before is not None else None
        self.cache_now = read_cache_stats(judge)
        n = len(verdicts)
        vetoed = failed = flagged = steps = vetoed_steps = 0
        for piece, verdict in zip(pieces, verdicts, strict=True):  # one pass: every episode
            steps += piece.steps
            if not verdict.approved:
                vetoed += 1
                vetoed_steps += piece.steps
            failed += verdict.failed
            flagged += verdict.flagged
        if n:
            self.judge_calls += 1
            self.judge_seconds += seconds
        self.judged += n
        self.prefetched += prefetched
        self.last_prefetched = prefetched
        self.vetoed += vetoed
        self.failed += failed
        self.flagged += flagged
        self.used_steps += steps
        self.vetoed_steps += vetoed_steps
        self.last_judged, self.last_vetoed, self.last_latency_s = n, vetoed, seconds
        self.last_steps, self.last_vetoed_steps = steps, vetoed_steps
        if not self.history or not n:
            return
        hits = None
        if hits_before is not None and self.cache_now is not None:
            hits = int(self.cache_now[0] - hits_before)
        self.calls.append(JudgeCall(self.timestep, n, vetoed, failed, flagged, seconds, hits))
        for piece, verdict in zip(pieces, verdicts, strict=True):
            entry = self.seen.get(piece.text)
            if entry is None:
                self.seen[piece.text] = {"text": piece.text, "count": 1, **verdict.to_dict()}
            else:
                entry["count"] += 1

    def totals(self) -> dict[str, Any]:
        """Pieces judged (and distinct texts), calls, vetoes, failures, flags, cache hits,
        judge seconds and veto rate, as one JSON-ready dict."""
        known = [c.cache_hits for c in self.calls]
        return {
            "texts": self.judged,
            "distinct_texts": len(self.seen),
            "batches": self.judge_calls,
            "vetoed": self.vetoed,
            "failed": self.failed,
            "flagged": self.flagged,
            "cache_hits": None if not known or None in known else sum(h or 0 for h in known),
            "prefetched": self.prefetched,
            "seconds": self.judge_seconds,
            "veto_rate": self.veto_rate,
        }

    def flag_timesteps(self) -> list[int]:
        """The timestep of every flagged verdict, one entry per flag (needs history)."""
        return [c.timestep for c in self.calls for _ in range(c.flagged)]

    def __getstate__(self) -> dict[str, Any]:
        # Saved with a model's buffer kwargs: counts travel, the per-text record does not.
        state = self.__dict__.copy()
        state["calls"], state["seen"] = [], {}
        return state


def decide(
    settings: ConsentSettings,
    pieces: Sequence[Piece],
    *,
    stats: ConsentStats | None = None,
    learner: str = "",
) -> list[Decision]:
    """Judge ``pieces`` in ONE fail-closed call, log and fsync, count; one decision each.

    With a pipeline (``settings.pipeline``), the verdicts it computed ahead are taken
    (waiting for those in flight); the other pieces, and any whose prefetch failed or timed
    out, are judged here in one call; when every verdict came from the pipeline the cheap
    frozen check (``verify_frozen(judge, full=False)``) still runs. Every verdict used gets
    its audit line, with ``"prefetched"`` saying where it came from.

    Args:
        settings: The judge, mode, penalty, failure policy and audit log.
        pieces: What the update is about to use; an empty list returns ``[]`` and asks
            nothing.
        stats: Where the call is counted.
        learner: Who asked (written into each audit line), e.g. ``"wrapper"``.

    Raises:
        RuntimeError: the settings have no judge (it is never pickled), naming the fix.
        consent_gym.judges.FrozenJudgeError: the judge's weights changed (never a vote).

    Example:
        >>> from consent_gym.judges import RuleJudge
        >>> settings = ConsentSettings(RuleJudge(lambda t: "harm" not in t, name="x"))
        >>> [d.released for d in decide(settings, [Piece("fine", 3.0), Piece("harm", 3.0)])]
        [3.0, 0.0]
    """
    if not pieces:
        return []
    judge = settings.judge
    if judge is None:
        raise RuntimeError(
            "no judge to decide with (judges are never pickled): give one, e.g. load an SB3 "
            "model with PPO.load(path, env, custom_objects=consent_kwargs(judge, mode=...)), "
            "or set settings.judge = judge."
        )
    if stats is not None and stats.cache_start is None:
        stats.cache_start = read_cache_stats(judge)
    texts = [p.text for p in pieces]
    pipeline = settings.pipeline
    start = time.perf_counter()
    if pipeline is None:
        verdicts = judge_texts(judge, texts, on_judge_error=settings.on_judge_error)
        ahead = [False] * len(pieces)
    else:
        taken = pipeline.take(judge, texts)
        ahead = [v is not None for v in taken]
        rest = [i for i, v in enumerate(taken) if v is None]
        with pipeline.calling(judge):
            if rest:
                fresh = judge_texts(judge, [texts[i] for i in rest],
                                    on_judge_error=settings.on_judge_error)
                for i, verdict in zip(rest, fresh, strict=True):
                    taken[i] = verdict
            else:  # no call reached the judge: its frozen check runs all the same
                verify_frozen(judge, full=False)
        verdicts = [v for v in taken if v is not None]
        assert len(verdicts) == len(pieces)
    seconds = time.perf_counter() - start
    decisions = [
        Decision(piece, verdict, settings.released(verdict.approved, piece.episode_return))
        for piece, verdict in zip(pieces, verdicts, strict=True)
    ]
    if stats is not None:
        stats.record(pieces, verdicts, seconds, judge, prefetched=sum(ahead))
    log = settings.audit_log
    if log is not None:
        for d, was_ahead in zip(decisions, ahead, strict=True):
            p = d.piece
            extra: dict[str, Any] = {
                "learner": learner,
                "mode": settings.mode,
                "env_index": p.env_index,
                "fragment_start": p.start,
                "steps_used": p.steps,
                "episode_finished": p.finished,
                "reward_released": d.released,
            }
            if pipeline is not None:
                extra["prefetched"] = was_ahead
            log.record(
                d.verdict,
                text=p.text,
                env_id=p.env_id,
                episode_index=p.episode_index,
                extra=extra,
            )
        log.sync()  # durable before any learner uses the verdicts
    return decisions


def submit_to_pipeline(settings: ConsentSettings, texts: Sequence[str]) -> int:
    """Send finished episodes' ``texts`` ahead to the settings' pipeline, if it has one
    (and a judge); returns how many were queued. The verdicts are used only by a later
    :func:`decide` on the same texts, which logs them.

    Example:
        >>> from consent_gym.judges import RuleJudge
        >>> judge = RuleJudge(lambda text: "harm" not in text, name="x")
        >>> settings = ConsentSettings(judge, pipeline=True)
        >>> submit_to_pipeline(settings, ["fine", "harm"])
        2
        >>> decisions = decide(settings, [Piece("fine", 3.0), Piece("harm", 3.0)])
        >>> [d.released for d in decisions], settings.pipeline.used
        ([3.0, 0.0], 2)
        >>> settings.close()
        >>> submit_to_pipeline(ConsentSettings(judge), ["fine"])  # no pipeline: nothing
        0
    """
    pipeline, judge = settings.pipeline, settings.judge
    if pipeline is None or judge is None or not texts:
        return 0
    return pipeline.submit(judge, texts)


def judge_trajectories(
    judge: Judge,
    trajectories: Sequence[Trajectory],
    renderer: Renderer | None = None,
    *,
    audit_log: AuditLog | None = None,
) -> list[Verdict]:
    """Judge recorded episodes directly, without a wrapper or a learner, in one batch.

    Each trajectory is rendered (a :class:`~consent_gym.judges.JudgePanel` reads it once
    per distinct member renderer, :class:`~consent_gym.render.views.PanelRenderer`, with
    ``renderer`` as the shared view), judged through :func:`decide` and, with
    ``audit_log``, recorded (a flagged panel verdict with the views text: what each member
    saw).

    Args:
        judge: Any judge; a panel sees each episode through its members' renderers.
        trajectories: The episodes.
        renderer: How to render them (for a panel: the view of members without their own).
        audit_log: An :class:`~consent_gym.audit.AuditLog`.

    Returns:
        One verdict per trajectory, in order.

    Example:
        >>> from consent_gym import Step, Trajectory
        >>> from consent_gym.judges import JudgePanel, RuleJudge
        >>> class Informed:
        ...     perception = "informed"
        ...     def render(self, trajectory):
        ...         return "The car hit a box with a person inside."
        >>> no_people = RuleJudge(lambda t: "person" not in t, name="no-people")
        >>> panel = JudgePanel([no_people], renderers=[Informed()])
        >>> episode = Trajectory("Boxes-v0", steps=[Step(0, None, 0, -1.0, True)])
        >>> judge_trajectories(panel, [episode])[0].outcome
        'vetoed'
    """
    if audit_log is not None and not isinstance(audit_log, AuditLog):
        raise TypeError(
            f"audit_log must be a consent_gym.AuditLog, got {type(audit_log).__name__}; "
            f"open one with AuditLog('audit.jsonl')."
        )
    trajectories = list(trajectories)
    for i, trajectory in enumerate(trajectories):
        if not isinstance(trajectory, Trajectory):
            raise TypeError(
                f"trajectories[{i}] is a {type(trajectory).__name__}, expected a "
                f"consent_gym.Trajectory; for texts use judge.judge_batch(texts)."
            )
    if isinstance(judge, JudgePanel):
        renderer = PanelRenderer(judge, renderer)
    elif renderer is None:
        raise ValueError("judge_trajectories needs a renderer= for a judge that is no panel.")
    check_renderer(renderer)
    settings = ConsentSettings(judge, audit_log=audit_log)
    pieces = [Piece(renderer.render(t), t.total_reward, t.env_id, t.episode_index,
                    steps=len(t), finished=t.finished) for t in trajectories]
    return [d.verdict for d in decide(settings, pieces, learner="judge_trajectories")]


def vetoed_rewards(rewards: np.ndarray, mode: Mode, penalty: float) -> np.ndarray:
    """The per-step rewards a vetoed piece contributes to an update.

    ``"zero"`` and ``"block"``: all zero (block also masks the steps out, so the values
    only matter for logging). ``"penalty"``: zero, except the last step, which carries
    ``penalty``. Callers also treat the piece's last step as terminal, so no value
    bootstrap survives.

    Example:
        >>> vetoed_rewards(np.array([1.0, 2.0, 3.5]), "penalty", -10.0).tolist()
        [0.0, 0.0, -10.0]
        >>> vetoed_rewards(np.array([1.0, 2.0]), "zero", -10.0).tolist()
        [0.0, 0.0]
    """
    out = np.zeros_like(rewards)
    if mode == "penalty" and len(out):
        out[-1] = penalty
    return out
