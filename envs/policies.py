"""Scripted reference policies for the delivery-curb world, and a helper to run them.

Each policy is a deterministic callable ``policy(obs, env) -> action`` that reads the car's
position from ``env.unwrapped`` (so it works with either observation mode and under any
wrapper). They are the fixed points tests, docs and judge evaluations compare against:

- :func:`shortcut_policy` mounts the curb and drives along the sidewalk (fast, harms);
- :func:`through_boxes_policy` takes the road's inner lane, through any boxes in it;
- :func:`road_policy` takes the road and goes round boxes by the outer lane (never harms).

Example:
    >>> from consent_gym.envs.delivery import DeliveryBoxesEnv
    >>> env = DeliveryBoxesEnv()
    >>> result = run_episode(env, road_policy, seed=0)
    >>> result.delivered, result.steps, result.harm, round(result.total_reward, 2)
    (True, 14, 0, 0.72)
    >>> run_episode(env, shortcut_policy, seed=0).steps
    6
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym
from consent_gym.envs.delivery import DeliveryEnv, DriveActions
from consent_gym.envs.metrics import EpisodeStats, play_episode

Policy = Callable[[Any, gym.Env], int]


class EpisodeResult(NamedTuple):
    """What :func:`run_episode` saw.

    Attributes:
        total_reward: The undiscounted return.
        events: ``info["events"]`` of every step, in order (one list per step).
        harm: ``info["harm"]`` at the end: people harmed in the episode.
        delivered: Whether the episode terminated with the parcel delivered.
        steps: The number of steps taken.
    """

    total_reward: float
    events: list[list[dict[str, Any]]]
    harm: int
    delivered: bool
    steps: int


def _car(env: gym.Env) -> tuple[DeliveryEnv, int, int]:
    base = env.unwrapped
    if not isinstance(base, DeliveryEnv):
        raise TypeError(f"expected a delivery env, got {type(base).__name__}.")
    return base, int(base.agent_pos[0]), int(base.agent_pos[1])


def _lane_route(env: gym.Env, lane_y: int) -> int:
    """Down the left road to ``lane_y``, east along it, up the right road to the customer."""
    base, x, y = _car(env)
    if x == base.width - 2:
        return int(DriveActions.north)
    if y < lane_y and x == 1:
        return int(DriveActions.south)
    if y > lane_y:
        return int(DriveActions.north)
    return int(DriveActions.east)


def road_policy(obs: Any, env: gym.Env) -> int:
    """Drive round the block; take the outer lane when boxes stand in the inner one."""
    base = env.unwrapped
    assert isinstance(base, DeliveryEnv)
    lane = base.outer_lane_y if base.box_slots else base.inner_lane_y
    return _lane_route(env, lane)


def through_boxes_policy(obs: Any, env: gym.Env) -> int:
    """Drive round the block by the inner lane, straight through any boxes standing there."""
    base = env.unwrapped
    assert isinstance(base, DeliveryEnv)
    return _lane_route(env, base.inner_lane_y)


def shortcut_policy(obs: Any, env: gym.Env) -> int:
    """Mount the curb and drive along the sidewalk straight to the customer."""
    base, x, y = _car(env)
    if y > 1 and x == 1:
        return int(DriveActions.north)
    return int(DriveActions.east) if y == 1 else _lane_route(env, base.inner_lane_y)


REFERENCE_POLICIES: dict[str, Policy] = {
    "road": road_policy,
    "through_boxes": through_boxes_policy,
    "shortcut": shortcut_policy,
}


def run_episode(
    env: gym.Env, policy: Policy, seed: int | None = None, max_steps: int = 10_000
) -> EpisodeResult:
    """Run one episode of ``policy`` in ``env`` from ``env.reset(seed=seed)``.

    The ground truth (harm, delivery, length) is counted by
    :class:`~consent_gym.envs.metrics.EpisodeStats`, as in the reproductions.

    Args:
        env: A delivery env (possibly wrapped).
        policy: ``policy(obs, env) -> action``.
        seed: The reset seed.
        max_steps: A safety limit on top of the env's own time limit.

    Returns:
        The episode's :class:`EpisodeResult`.
    """
    stats = EpisodeStats()
    rewards: list[float] = []
    events: list[list[dict[str, Any]]] = []
    for reward, info in play_episode(env, lambda obs: policy(obs, env), seed, max_steps):
        stats.add_step(reward, info)
        rewards.append(reward)
        events.append(list(info.get("events", [])))
    return EpisodeResult(math.fsum(rewards), events, stats.harm, stats.delivered, stats.length)
