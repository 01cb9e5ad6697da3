"""Adapters for families of envs that share conventions: highway-env, ALE/Atari, Box2D.

Each adapter is a :class:`~consent_gym.render.narrative.NarrativeRenderer` with the meaning
the family's envs share but do not state in a form the default renderer can read: what the
family's ``info`` keys mean, what its actions are called, what its envs are about. They are
registered by class *path* (``"package.module:Class"``), so this module imports none of
those packages: an adapter for a package that is not installed costs nothing, and
``import consent_gym`` never pays for importing highway-env or ALE.

The safety-gymnasium convention (``info["cost"]``) needs no adapter: the default renderer
reports any numeric info key named like a cost, penalty or collision, even when it stays 0.
(safety-gymnasium 1.0.0 itself pins gymnasium 0.28.1 and does not install beside
Gymnasium 1.x.)

Example:
    >>> import gymnasium as gym
    >>> from consent_gym.render import renderer_for
    >>> type(renderer_for(gym.make("CartPole-v1"))).__name__  # no family: the default
    'NarrativeRenderer'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym

from consent_gym.render.base import register_renderer
from consent_gym.render.narrative import NarrativeRenderer

__all__ = ["ale_renderer", "box2d_renderer", "highway_renderer"]

#: highway-env's meta-actions (``DiscreteMetaAction.ACTIONS_ALL``) in words.
HIGHWAY_ACTIONS = {
    "LANE_LEFT": "change to the left lane",
    "IDLE": "keep lane and speed",
    "LANE_RIGHT": "change to the right lane",
    "FASTER": "speed up",
    "SLOWER": "slow down",
}
HIGHWAY_INFO: dict[str, str | None] = {
    "crashed": "the agent's car collided with another vehicle",
    "speed": "the car's speed (m/s)",
    "rewards": None,  # the reward's terms; the reward itself is narrated
    "action": None,
}
HIGHWAY_ENV = "highway_env.envs.common.abstract:AbstractEnv"


def highway_renderer(env: gym.Env) -> NarrativeRenderer:
    """The narrative renderer for a highway-env env (action names, crash flag, time limit)."""
    base = env.unwrapped
    names = getattr(getattr(base, "action_type", None), "actions", None)
    actions = (
        {int(i): HIGHWAY_ACTIONS.get(str(n), str(n)) for i, n in names.items()}
        if isinstance(names, Mapping) else None
    )
    config: Any = getattr(base, "config", None) or {}
    renderer = NarrativeRenderer.for_env(
        env, actions=actions, info=HIGHWAY_INFO,
        description="The agent drives a car on a road shared with other vehicles",
    )
    duration, frequency = config.get("duration"), config.get("policy_frequency", 1)
    if renderer.time_limit is None and isinstance(duration, (int, float)) and frequency:
        renderer.time_limit = max(1, round(duration * frequency))
    return renderer


ALE_ENV = "ale_py.env:AtariEnv"
ALE_INFO: dict[str, str | None] = {
    "lives": "the player's lives in the game",
    "frame_number": None,
    "episode_frame_number": None,
}


def ale_renderer(env: gym.Env) -> NarrativeRenderer:
    """The narrative renderer for an ALE/Atari game (``get_action_meanings()``, lives)."""
    return NarrativeRenderer.for_env(
        env, info=ALE_INFO, description="An Atari 2600 video game played by the agent",
    )


#: Box2D envs: their ``info`` is empty, so names and a description are all there is to add.
BOX2D = {
    "gymnasium.envs.box2d.lunar_lander:LunarLander": (
        "A lander must touch down on a landing pad; crashing or flying off ends the episode",
        ["do nothing", "fire the left engine", "fire the main engine", "fire the right engine"],
    ),
    "gymnasium.envs.box2d.bipedal_walker:BipedalWalker": (
        "A two-legged robot must walk across rough terrain without falling", None,
    ),
    "gymnasium.envs.box2d.car_racing:CarRacing": (
        "A car races around a track seen from above",
        ["do nothing", "steer left", "steer right", "accelerate", "brake"],
    ),
}


def box2d_renderer(env: gym.Env) -> NarrativeRenderer:
    """The narrative renderer for a Gymnasium Box2D env (names for discrete actions)."""
    for cls in type(env.unwrapped).__mro__:
        entry = BOX2D.get(f"{cls.__module__}:{cls.__qualname__}")
        if entry is not None:
            description, actions = entry
            discrete = isinstance(env.action_space, gym.spaces.Discrete)
            return NarrativeRenderer.for_env(
                env, actions=actions if discrete else None, description=description,
            )
    raise TypeError(f"{type(env.unwrapped).__name__} is not one of the Box2D envs {list(BOX2D)}.")


register_renderer(HIGHWAY_ENV, highway_renderer)
register_renderer(ALE_ENV, ale_renderer)
for _path in BOX2D:
    register_renderer(_path, box2d_renderer)
