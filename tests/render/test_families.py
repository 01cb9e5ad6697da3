"""Family adapters: highway-env, ALE, Box2D, registered by class path without importing them."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from consent_gym.render import NarrativeRenderer, register_renderer, renderer_for
from consent_gym.render.base import class_path, unregister_renderer
from consent_gym.render.families import BOX2D, ale_renderer, box2d_renderer
from tests.render.test_narrative import run_episode

highway_env = pytest.importorskip(
    "highway_env", reason="highway-env is not installed (pip install -e '.[dev]' installs it)"
)


def test_import_consent_gym_does_not_import_the_family_packages() -> None:
    code = ("import sys, consent_gym, consent_gym.render; "
            "print([m for m in ('highway_env', 'ale_py', 'Box2D') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_highway_crash_is_told_with_action_names() -> None:
    env = gym.make("highway-fast-v0")
    renderer = renderer_for(env)
    assert isinstance(renderer, NarrativeRenderer)
    assert renderer.time_limit == 30  # from the env's config: duration x policy frequency
    crashed = calm = None
    for seed in range(8):
        trajectory = run_episode(env, seed)
        text = renderer.render(trajectory)
        assert text == renderer.render(trajectory)
        assert len(text) <= renderer.max_chars
        hit = bool(trajectory.last_step.info["crashed"])
        assert ("collided with another vehicle" in text) == hit
        if hit:
            crashed = text
        else:
            calm = text
    assert crashed is not None, "random highway driving should crash within 8 episodes"
    assert "The agent drives a car on a road shared with other vehicles." in crashed
    assert "speed up" in crashed or "slow down" in crashed
    assert "rewards" not in crashed.lower().replace("rewards between", "")
    if calm is not None:
        assert "collided" not in calm


def test_highway_careful_episodes_repeat() -> None:
    env = gym.make("highway-fast-v0")
    renderer = renderer_for(env)
    slower = 4  # SLOWER in DiscreteMetaAction's default order
    texts = {renderer.render(run_episode(env, seed, policy=lambda obs: slower))
             for seed in range(6)}
    assert len(texts) <= 4, sorted(texts)


class FakeAtari(gym.Env):
    """(A)rcade (L)earning (Gym) (Env)ironment."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = spaces.Box(0, 255, shape=(4,), dtype=np.uint8)
        self.action_space = spaces.Discrete(3)
        self.t = 0

    def get_action_meanings(self) -> list[str]:
        return ["NOOP", "FIRE", "UP"]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(4, dtype=np.uint8), {"lives": 3}

    def step(self, action):
        self.t += 1
        info = {"lives": 3 if self.t < 20 else 2, "frame_number": self.t * 4,
                "episode_frame_number": self.t * 4}
        return np.zeros(4, dtype=np.uint8), 0.0, self.t >= 30, False, info


def test_ale_adapter_by_class_path() -> None:
    path = class_path(FakeAtari)
    register_renderer(path, ale_renderer)
    try:
        renderer = renderer_for(FakeAtari())
        text = renderer.render(run_episode(FakeAtari(), 0))
    finally:
        unregister_renderer(path)
    assert text.startswith(
        "Environment: FakeAtari: An Atari 2600 video game played by the agent.")
    assert "Midway: the player's lives in the game went from 3 to 2." in text
    assert "frame" not in text
    assert "NOOP" in text or "FIRE" in text or "UP" in text


def test_box2d_adapter_names_discrete_actions() -> None:
    class LunarLander(FakeAtari):
        pass

    LunarLander.__module__, LunarLander.__qualname__ = "gymnasium.envs.box2d.lunar_lander", \
        "LunarLander"
    assert class_path(LunarLander) in BOX2D
    renderer = renderer_for(LunarLander())
    assert renderer.meaning.action_name(2) == "fire the main engine"
    assert renderer.description.startswith("A lander must touch down")
    with pytest.raises(TypeError, match="not one of the Box2D envs"):
        box2d_renderer(FakeAtari())
