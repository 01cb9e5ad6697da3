"""What the SB3 buffers share: the settings, the veto arithmetic, one batched judge call.

The buffers in :mod:`consent_gym.sb3` call :func:`judge_pieces` once per rollout with every
episode (or episode fragment) the coming update will use, and :func:`vetoed_rewards` to
turn a vetoed piece's rewards into what the update sees.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from consent_gym.audit import AuditLog
from consent_gym.judges.base import (
    Judge,
    OnJudgeError,
    Verdict,
    check_judge,
    check_on_judge_error,
    judge_texts,
)

Mode = Literal["zero", "penalty", "block"]
MODES: tuple[str, ...] = ("zero", "penalty", "block")

WRAP_HINT = (
    "wrap every sub-env with consent_gym.ConsentWrapper(env, defer_rewards=False), e.g. "
    "consent_gym.sb3.make_consent_vec_env(env_id, n_envs) or SB3's make_vec_env(env_id, "
    "wrapper_class=ConsentWrapper, wrapper_kwargs={'defer_rewards': False})"
)


class ConsentSettings:
    """How a consent buffer judges and vetoes; built by :func:`~consent_gym.sb3.consent_kwargs`.

    The judge is *not* pickled (SB3 saves ``rollout_buffer_kwargs`` with the model, and a
    frozen LLM judge does not belong in every checkpoint): an unpickled settings object
    has ``judge=None`` and its buffer refuses to judge until given one, e.g. by loading
    with ``PPO.load(path, env, custom_objects=consent_kwargs(judge, mode="block"))``.

    Args:
        judge: Any :class:`~consent_gym.judges.Judge`.
        mode: ``"zero"`` (default), ``"penalty"`` or ``"block"`` (see ``docs/sb3.md``).
        penalty: The reward of a vetoed piece's last step in ``"penalty"`` mode.
        audit_log: A path or :class:`~consent_gym.audit.AuditLog`; every verdict is
            appended and synced before the update uses it.
        on_judge_error: ``"veto"`` (default), ``"raise"`` or ``"approve"`` (unsafe).
        info_key: The ``info`` key :class:`~consent_gym.ConsentWrapper` writes.

    Example:
        >>> import pickle
        >>> from consent_gym.judges import RuleJudge
        >>> settings = ConsentSettings(RuleJudge(lambda t: True, name="ok"), mode="zero")
        >>> settings.mode, pickle.loads(pickle.dumps(settings)).judge is None
        ('zero', True)
    """

    def __init__(
        self,
        judge: Judge | None,
        mode: Mode = "zero",
        penalty: float = -100.0,
        audit_log: AuditLog | str | os.PathLike[str] | None = None,
        on_judge_error: OnJudgeError = "veto",
        info_key: str = "consent",
    ) -> None:
        if judge is not None:
            check_judge(judge)
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not supported; use one of {MODES}.")
        if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not (
            math.isfinite(penalty)
        ):
            raise ValueError(f"penalty must be a finite number, got {penalty!r}.")
        check_on_judge_error(on_judge_error)
        if not isinstance(info_key, str) or not info_key:
            raise ValueError("info_key must be a non-empty string.")
        if audit_log is not None and not isinstance(audit_log, (AuditLog, str, os.PathLike)):
            raise TypeError(
                f"audit_log must be a path or an AuditLog, got {type(audit_log).__name__}."
            )
        self.judge = judge
        self.mode: Mode = mode
        self.penalty = float(penalty)
        self.audit_log: AuditLog | None = (
            audit_log if isinstance(audit_log, AuditLog) or audit_log is None
            else AuditLog(audit_log)
        )
        self.on_judge_error: OnJudgeError = on_judge_error
        self.info_key = info_key

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["judge"] = None  # never serialise a (possibly huge) judge into a checkpoint
        return state

    def __repr__(self) -> str:
        return (
            f"ConsentSettings(judge={self.judge!r}, mode={self.mode!r}, "
            f"penalty={self.penalty}, audit_log={self.audit_log!r})"
        )


def as_settings(consent: ConsentSettings | None, **kwargs: Any) -> ConsentSettings:
    """``consent`` itself, or settings built from the buffer's keyword arguments."""
    if consent is not None:
        if not isinstance(consent, ConsentSettings):
            raise TypeError(
                f"consent must be a ConsentSettings, got {type(consent).__name__}; build the "
                f"kwargs with consent_gym.sb3.consent_kwargs(judge, mode=...)."
            )
        if any(v is not None for v in kwargs.values()):
            raise TypeError("pass either consent=ConsentSettings(...) or judge=..., not both.")
        return consent
    return ConsentSettings(**{k: v for k, v in kwargs.items() if v is not None})


def vetoed_rewards(rewards: np.ndarray, mode: Mode, penalty: float) -> np.ndarray:
    """The rewards a vetoed piece (an episode or its fragment) contributes to the update.

    ``"zero"`` and ``"block"``: all zero (block also masks the steps out, so the values
    only matter for logging). ``"penalty"``: zero, except the last step, which carries
    ``penalty``. In every mode the piece's last step is also treated as terminal by the
    caller, so no value bootstrap (SB3's ``gamma * V(terminal_obs)`` for truncations, or
    the rollout-end bootstrap) survives.

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


def read_cache_stats(judge: object) -> tuple[float, float] | None:
    """``(hits, lookups)`` from a judge's cache counters, if it exposes something usable.

    Reads ``judge.cache_stats`` (a mapping or an object with ``hits`` and ``misses`` or
    ``lookups``, or a method returning one), else ``judge.cache`` (e.g. the LLM judge's
    :class:`~consent_gym.judges.cache.VerdictCache`, which counts ``hits`` and
    ``misses``); anything else gives ``None`` (no cache).

    Example:
        >>> class Cached:
        ...     cache_stats = {"hits": 3, "misses": 1}
        >>> read_cache_stats(Cached()), read_cache_stats(object())
        ((3.0, 4.0), None)
    """
    try:
        stats = getattr(judge, "cache_stats", None)
        if callable(stats):
            stats = stats()
        if stats is None:
            stats = getattr(judge, "cache", None)
        if stats is None:
            return None

        def get(name: str) -> Any:
            if isinstance(stats, Mapping):
                return stats.get(name)
            return getattr(stats, name, None)

        hits = get("hits")
        misses, lookups = get("misses"), get("lookups")
        if hits is None or (misses is None and lookups is None):
            return None
        total = float(lookups) if lookups is not None else float(hits) + float(misses)
        return float(hits), total
    except Exception:  # statistics must never break training
        return None


@dataclass
class Piece:
    """One episode, or the fragment of one, that an update is about to use.

    Attributes:
        env_index: The sub-env it ran in.
        text: What the judge reads.
        episode_index: The wrapper's episode counter (``-1`` if unknown).
        start: Episode step of the piece's first step in the update.
        steps: Number of its steps the update uses.
        finished: Whether the episode has ended (else it runs on into the next rollout).
    """

    env_index: int
    text: str
    episode_index: int
    start: int
    steps: int
    finished: bool


@dataclass
class ConsentStats:
    """Running counts a consent buffer keeps for :class:`~consent_gym.sb3.ConsentCallback`.

    ``last_*`` fields describe the latest judge call (one per rollout); the others are
    totals since the buffer was built.
    """

    judged: int = 0
    vetoed: int = 0
    failed: int = 0
    flagged: int = 0
    judge_calls: int = 0
    judge_seconds: float = 0.0
    vetoed_steps: int = 0
    used_steps: int = 0
    skipped_updates: int = 0
    dropped_unjudged_steps: int = 0
    last_judged: int = 0
    last_vetoed: int = 0
    last_latency_s: float = 0.0
    last_vetoed_steps: int = 0
    last_steps: int = 0
    cache_start: tuple[float, float] | None = None
    cache_now: tuple[float, float] | None = None

    @property
    def veto_rate(self) -> float:
        """Vetoed (failed included) over judged pieces, since the start; nan if none."""
        return self.vetoed / self.judged if self.judged else math.nan

    @property
    def cache_hit_rate(self) -> float | None:
        """Hits over lookups of the judge's cache since this buffer started, if known."""
        if self.cache_now is None:
            return None
        hits, total = self.cache_now
        if self.cache_start is not None:
            hits, total = hits - self.cache_start[0], total - self.cache_start[1]
        return hits / total if total > 0 else None


def judge_pieces(
    settings: ConsentSettings,
    pieces: Sequence[Piece],
    stats: ConsentStats,
    *,
    env_id: str | Sequence[str] = "",
    learner: str = "sb3",
) -> list[Verdict]:
    """Judge all ``pieces`` in ONE fail-closed call, log them, and update ``stats``.

    Verdicts are appended to the settings' audit log and synced before returning, i.e.
    before any update can use them.
    """
    judge = settings.judge
    if judge is None:
        raise RuntimeError(
            "this consent buffer has no judge (judges are not saved with a model): load "
            "with PPO.load(path, env, custom_objects=consent_kwargs(judge, mode=...)), or "
            "set model.rollout_buffer.consent.judge = judge (replay_buffer for DQN/SAC)."
        )
    if stats.cache_start is None:
        stats.cache_start = read_cache_stats(judge)
    texts = [p.text for p in pieces]
    t0 = time.perf_counter()
    verdicts = judge_texts(judge, texts, on_judge_error=settings.on_judge_error) if texts else []
    latency = time.perf_counter() - t0
    vetoed = sum(not v.approved for v in verdicts)
    steps = sum(p.steps for p in pieces)
    vetoed_steps = sum(p.steps for p, v in zip(pieces, verdicts, strict=True) if not v.approved)
    if texts:
        stats.judge_calls += 1
        stats.judge_seconds += latency
    stats.judged += len(texts)
    stats.vetoed += vetoed
    stats.failed += sum(v.failed for v in verdicts)
    stats.flagged += sum(v.flagged for v in verdicts)
    stats.used_steps += steps
    stats.vetoed_steps += vetoed_steps
    stats.last_judged, stats.last_vetoed, stats.last_latency_s = len(texts), vetoed, latency
    stats.last_steps, stats.last_vetoed_steps = steps, vetoed_steps
    stats.cache_now = read_cache_stats(judge)
    log = settings.audit_log
    if log is not None and texts:
        for piece, verdict in zip(pieces, verdicts, strict=True):
            eid = env_id if isinstance(env_id, str) else env_id[piece.env_index]
            log.record(
                verdict,
                text=piece.text,
                env_id=eid,
                episode_index=piece.episode_index,
                extra={
                    "learner": learner,
                    "mode": settings.mode,
                    "env_index": piece.env_index,
                    "fragment_start": piece.start,
                    "steps_used": piece.steps,
                    "episode_finished": piece.finished,
                },
            )
        log.sync()  # durable before the update uses the verdicts
    return verdicts


def consent_record(info: Mapping[str, Any], key: str, env_index: int) -> Mapping[str, Any]:
    """The wrapper's pass-through record at episode end; a ``RuntimeError`` names the fix."""
    record = info.get(key)
    if not isinstance(record, Mapping) or "text" not in record:
        raise RuntimeError(
            f"sub-env {env_index} ended an episode without info[{key!r}]: {WRAP_HINT}. "
            f"ConsentWrapper must be the outermost wrapper that can end an episode (put "
            f"TimeLimit inside it, as gymnasium.make does)."
        )
    if not record.get("pending", False):
        raise RuntimeError(
            f"sub-env {env_index}: ConsentWrapper already judged this episode "
            f"(defer_rewards=True); with the SB3 consent buffers the learner judges: "
            f"use ConsentWrapper(env, defer_rewards=False) and no judge in the wrapper."
        )
    return record
