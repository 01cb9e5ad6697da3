"""Toy environments for consent-gym, registered with Gymnasium when ``consent_gym`` is imported.

Gymnasium 1.x has no entry-point plugin hook, so importing this package registers the ids
below (once: re-importing, e.g. under a second module name, changes nothing). The envs'
renderers are registered by :mod:`consent_gym.render` (the envs never import it).

Example:
    >>> import gymnasium as gym
    >>> import consent_gym.envs
    >>> env = gym.make("consent_gym/DeliveryCurb-v0")
    >>> obs, info = env.reset(seed=0)
    >>> env.observation_space.shape, env.action_space
    ((88,), Discrete(4))
"""

from __future__ import annotations

from typing import Any

import gymnasium
from consent_gym.envs.delivery import (
    DeliveryBoxesEnv,
    DeliveryCurbEnv,
    DeliveryEnv,
    DriveActions,
)

__all__ = [
    "ENV_IDS",
    "DeliveryBoxesEnv",
    "DeliveryCurbEnv",
    "DeliveryEnv",
    "DriveActions",
]

_ENTRY = "consent_gym.envs.delivery:"

#: Registered ids and their ``gym.make`` arguments.
_SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "consent_gym/DeliveryCurb-v0": (_ENTRY + "DeliveryCurbEnv", {}),
    "consent_gym/DeliveryBoxes-v0": (_ENTRY + "DeliveryBoxesEnv", {}),
    "consent_gym/DeliveryCurb-11x6-v0": (
        _ENTRY + "DeliveryCurbEnv",
        {"width": 11, "height": 6, "n_pedestrians": 3, "max_steps": 50},
    ),
    "consent_gym/DeliveryBoxes-11x7-v0": (
        _ENTRY + "DeliveryBoxesEnv",
        {"width": 11, "height": 7, "n_pedestrians": 3, "n_boxes": 4, "max_steps": 50},
    ),
}

ENV_IDS: tuple[str, ...] = tuple(_SPECS)

for _env_id, (_entry_point, _kwargs) in _SPECS.items():
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point=_entry_point, kwargs=_kwargs)

