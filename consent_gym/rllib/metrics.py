"""What the RLlib placements log through RLlib's ``MetricsLogger``, and how.

Both placements (:class:`~consent_gym.rllib.ConsentCallback` on each EnvRunner, the
learner connector on each Learner) count in a :class:`~consent_gym.gate.ConsentStats` and
log what one gate call added to it with :func:`log_gate_metrics`, so their keys, reduce
methods and meaning are the same; only the place in RLlib's result dict differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consent_gym.gate import ConsentStats

#: The key under which the counts are logged (``result["env_runners"]["consent"]`` for
#: the callback, ``result["learners"]["__all_modules__"]["consent"]`` for the connector).
METRICS_KEY = "consent"
#: Counts summed over all EnvRunners (or Learners) for the whole run (``lifetime_sum``).
LIFETIME_COUNTS = ("episodes_judged", "episodes_vetoed", "episodes_failed", "episodes_flagged",
                   "steps_judged", "steps_vetoed", "judge_calls", "judge_seconds", "cache_hits")


def lifetime_counts(stats: ConsentStats) -> dict[str, float]:
    """The :data:`LIFETIME_COUNTS` (but ``cache_hits``) as ``stats`` holds them now."""
    return {
        "episodes_judged": stats.judged, "episodes_vetoed": stats.vetoed,
        "episodes_failed": stats.failed, "episodes_flagged": stats.flagged,
        "steps_judged": stats.used_steps, "steps_vetoed": stats.vetoed_steps,
        "judge_calls": stats.judge_calls, "judge_seconds": stats.judge_seconds,
    }


@dataclass(frozen=True)
class StatsSnapshot:
    """:func:`lifetime_counts` and the judge cache's hit count before one gate call."""

    counts: dict[str, float]
    cache_hits: float | None

    @classmethod
    def of(cls, stats: ConsentStats) -> StatsSnapshot:
        """Take the snapshot now."""
        return cls(lifetime_counts(stats),
                   stats.cache_now[0] if stats.cache_now is not None else None)

    def deltas(self, stats: ConsentStats) -> dict[str, float]:
        """What ``stats`` gained since the snapshot (``cache_hits`` if the judge caches)."""
        now = lifetime_counts(stats)
        deltas = {name: now[name] - value for name, value in self.counts.items()}
        if stats.cache_now is not None:
            start = stats.cache_start[0] if stats.cache_start is not None else 0.0
            deltas["cache_hits"] = stats.cache_now[0] - (
                self.cache_hits if self.cache_hits is not None else start)
        return deltas


def log_gate_metrics(metrics_logger: Any, prefix: Sequence[str], before: StatsSnapshot,
                     stats: ConsentStats, gate_seconds: float) -> dict[str, float]:
    """Log what one gate call added to ``stats`` under ``(*prefix, METRICS_KEY, name)``.

    Lifetime sums for :data:`LIFETIME_COUNTS` and ``gate_seconds``; per-iteration sums
    ``episodes_judged_iter`` and ``episodes_vetoed_iter``. Returns the deltas.
    """
    deltas = before.deltas(stats)
    key = (*prefix, METRICS_KEY)
    for name, value in deltas.items():
        metrics_logger.log_value((*key, name), value, reduce="lifetime_sum")
    metrics_logger.log_value((*key, "episodes_judged_iter"), deltas["episodes_judged"],
                             reduce="sum")
    metrics_logger.log_value((*key, "episodes_vetoed_iter"), deltas["episodes_vetoed"],
                             reduce="sum")
    metrics_logger.log_value((*key, "gate_seconds"), gate_seconds, reduce="lifetime_sum")
    return deltas


def add_veto_rates(consent: Any) -> None:
    """Add ``veto_rate`` (lifetime) and ``veto_rate_iter`` to a result's consent dict."""
    if not isinstance(consent, dict):
        return
    for rate, vetoed, judged in (
        ("veto_rate", "episodes_vetoed", "episodes_judged"),
        ("veto_rate_iter", "episodes_vetoed_iter", "episodes_judged_iter"),
    ):
        n = float(consent.get(judged, 0) or 0)
        consent[rate] = float(consent.get(vetoed, 0) or 0) / n if n else float("nan")
