"""Side-by-side benchmarks: what consent gating costs, measured as ratios in one process.

These machines are noisy, so each benchmark interleaves its arms (raw, gated, raw, gated,
...) and reports medians and the ratio of medians rather than absolute numbers.
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
    """Steps/s of one env raw and under :class:`~consent_gym.ConsentWrapper`."""

    env_id: str
    steps: int
    repeats: int
    raw_steps_per_s: float
    wrapped_steps_per_s: float
    episodes_judged: int

    @property
    def overhead_ratio(self) -> float:
        """Raw speed over wrapped speed: 1.10 means gating costs 10% of stepping."""
        return self.raw_steps_per_s / self.wrapped_steps_per_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "overhead_ratio": self.overhead_ratio}


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
    steps: int = 20_000,
    repeats: int = 5,
    seed: int = 0,
    make: Callable[[str], gym.Env] = gym.make,
) -> WrapperOverhead:
    """Measure recording + rendering cost: the wrapper with a judge that costs nothing.

    Both arms take the same random actions from the same seed; arms alternate ``repeats``
    times and the medians are compared.

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
    raw_rates, wrapped_rates, judged = [], [], 0
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
    )
