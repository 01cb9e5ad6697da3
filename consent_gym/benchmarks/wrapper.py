"""What recording and rendering cost: env steps/s raw and under ``ConsentWrapper``.

``consent-gym bench wrapper``. The arms alternate (raw, wrapped, raw, wrapped, ...) and the
headline is the median of the per-pair speed ratios (see :mod:`consent_gym.benchmarks`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from consent_gym.judges.rule import RuleJudge
from consent_gym.wrapper import ConsentWrapper


@dataclass(frozen=True)
class WrapperOverhead:
    """Steps/s of one env raw and under :class:`~consent_gym.ConsentWrapper`.

    Attributes:
        raw_steps_per_s: Median over the repetitions, raw env.
        wrapped_steps_per_s: Median over the repetitions, wrapped env.
        pair_ratios: Per repetition, raw speed over the wrapped speed measured right after
            it (both arms of a pair see about the same machine load).
    """

    env_id: str
    steps: int
    repeats: int
    raw_steps_per_s: float
    wrapped_steps_per_s: float
    episodes_judged: int
    pair_ratios: tuple[float, ...] = ()

    @property
    def overhead_ratio(self) -> float:
        """Raw speed over wrapped speed (the median of the paired ratios): 1.10 means
        recording and rendering cost 10% of stepping."""
        if self.pair_ratios:
            return statistics.median(self.pair_ratios)
        return self.raw_steps_per_s / self.wrapped_steps_per_s

    @property
    def ratio_of_medians(self) -> float:
        """The median raw speed over the median wrapped speed (noisier on a busy machine)."""
        return self.raw_steps_per_s / self.wrapped_steps_per_s

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "pair_ratios": list(self.pair_ratios),
            "overhead_ratio": self.overhead_ratio,
            "ratio_of_medians": self.ratio_of_medians,
        }


def steps_per_second(env: gym.Env, actions: np.ndarray, seed: int) -> tuple[float, int]:
    """Step ``env`` through ``actions`` (resetting at episode ends); returns (steps/s, episodes)."""
    env.reset(seed=seed)
    episodes = 0
    step = env.step
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = step(action)
        if terminated or truncated:
            episodes += 1
            env.reset()
    return len(actions) / (time.perf_counter() - start), episodes


def bench_wrapper(
    env_id: str,
    steps: int = 5_000,
    repeats: int = 21,
    seed: int = 0,
    make: Callable[[str], gym.Env] = gym.make,
) -> WrapperOverhead:
    """Measure recording + rendering cost: the wrapper with a judge that costs nothing.

    Both arms take the same random actions from the same seed; arms alternate ``repeats``
    times (raw, wrapped, raw, wrapped, ...) and the headline is the median of the per-pair
    speed ratios: on a shared machine many short pairs, each measured under about the same
    load, give a steadier ratio than a few long runs compared by their medians.

    Example:
        >>> result = bench_wrapper("CartPole-v1", steps=500, repeats=1)
        >>> result.episodes_judged > 0 and result.overhead_ratio > 0
        True
    """
    if steps < 1 or repeats < 1:
        raise ValueError(f"steps and repeats must be >= 1, got steps={steps}, repeats={repeats}.")
    free_judge = RuleJudge(lambda text: True, name="free")
    raw = make(env_id)
    wrapped = ConsentWrapper(make(env_id), judge=free_judge)
    raw.action_space.seed(seed)
    actions = np.array([raw.action_space.sample() for _ in range(steps)])
    # The Python scalar type the env expects, so neither arm pays for conversions.
    action_list = actions.tolist() if actions.ndim == 1 else list(actions)
    raw_rates: list[float] = []
    wrapped_rates: list[float] = []
    judged = 0
    steps_per_second(raw, np.asarray(action_list[:100]), seed)  # warm-up both arms
    steps_per_second(wrapped, np.asarray(action_list[:100]), seed)
    for _ in range(repeats):
        raw_rates.append(steps_per_second(raw, action_list, seed)[0])  # type: ignore[arg-type]
        rate, episodes = steps_per_second(wrapped, action_list, seed)  # type: ignore[arg-type]
        wrapped_rates.append(rate)
        judged += episodes
    raw.close()
    wrapped.close()
    return WrapperOverhead(
        env_id=env_id,
        steps=steps,
        repeats=repeats,
        raw_steps_per_s=statistics.median(raw_rates),
        wrapped_steps_per_s=statistics.median(wrapped_rates),
        episodes_judged=judged,
        pair_ratios=tuple(r / w for r, w in zip(raw_rates, wrapped_rates, strict=True)),
    )
