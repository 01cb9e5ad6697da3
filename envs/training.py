"""Recommended Stable-Baselines3 PPO settings for the delivery-curb world.

Measured with ``examples/delivery_ppo.py`` (see ``docs/environments.md``): with these
kwargs, ``N_ENVS`` DummyVecEnv copies and ``TOTAL_TIMESTEPS`` steps, plain PPO learns the
sidewalk shortcut, and PPO whose harmful episodes earn nothing learns the road.

Example:
    >>> from stable_baselines3 import PPO
    >>> from stable_baselines3.common.env_util import make_vec_env
    >>> import consent_gym.envs
    >>> venv = make_vec_env("consent_gym/DeliveryCurb-v0", n_envs=N_ENVS, seed=0)
    >>> model = PPO("MlpPolicy", venv, seed=0, **PPO_KWARGS)
    >>> model.n_steps * venv.num_envs
    1024
"""

from __future__ import annotations

from typing import Any

#: Number of DummyVecEnv copies the kwargs were tuned with.
N_ENVS = 8

#: Timesteps after which the learned policy on DeliveryCurb is settled (both arms, every
#: seed measured; see docs/environments.md).
TOTAL_TIMESTEPS = 30_000

#: Recommended budget per registered id. DeliveryBoxes needs more: under an informed gate
#: going round the boxes pays only a little more than going through them, and a
#: through-the-boxes episode is approved whenever the boxes happen to be empty.
RECOMMENDED_TIMESTEPS: dict[str, int] = {
    "consent_gym/DeliveryCurb-v0": 30_000,
    "consent_gym/DeliveryBoxes-v0": 60_000,
    "consent_gym/DeliveryCurb-11x6-v0": 60_000,
    "consent_gym/DeliveryBoxes-11x7-v0": 100_000,
}

#: Keyword arguments for ``stable_baselines3.PPO("MlpPolicy", venv, **PPO_KWARGS)``.
PPO_KWARGS: dict[str, Any] = {
    "n_steps": 128,
    "batch_size": 256,
    "n_epochs": 4,
    "learning_rate": 1e-3,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "ent_coef": 0.01,
    "clip_range": 0.2,
    "policy_kwargs": {"net_arch": [64, 64]},
    "device": "cpu",
}
