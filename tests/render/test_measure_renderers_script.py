"""scripts/measure_renderers.py collects the same episodes for the same seed, also from an
env that rebuilds its action space on every reset (highway-env's envs do)."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from measure_renderers import collect


class _RebuildsItsSpaces(gym.Env):
    """A walk on a line whose action space is a new object after every reset."""

    observation_space = gym.spaces.Box(-100.0, 100.0, (1,), np.float32)

    def __init__(self) -> None:
        self.action_space = gym.spaces.Discrete(5)
        self.x = 0.0
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.action_space = gym.spaces.Discrete(5)  # unseeded, as highway-env's define_spaces
        self.x, self.t = 0.0, 0
        return np.array([self.x], np.float32), {}

    def step(self, action):
        self.x += float(action) - 2.0
        self.t += 1
        return np.array([self.x], np.float32), 0.0, False, self.t >= 12, {}


def test_random_episodes_repeat_for_the_same_seed_though_reset_rebuilds_the_action_space():
    gym.register("consent_gym_test/RebuildsItsSpaces-v0", entry_point=_RebuildsItsSpaces)
    try:
        first = collect("consent_gym_test/RebuildsItsSpaces-v0", 6, 0, None)
        again = collect("consent_gym_test/RebuildsItsSpaces-v0", 6, 0, None)
        other = collect("consent_gym_test/RebuildsItsSpaces-v0", 6, 1, None)
    finally:
        del gym.registry["consent_gym_test/RebuildsItsSpaces-v0"]
    assert [r["text"] for r in first] == [r["text"] for r in again]
    assert [r["text"] for r in first] != [r["text"] for r in other]
    assert {r["policy"] for r in first} == {"careful", "random"}
