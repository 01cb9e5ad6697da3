"""Consent-gated Stable-Baselines3: learn only from episodes a frozen judge approves.

Three extra lines over plain SB3 (see ``docs/sb3.md``)::

    venv = make_consent_vec_env("consent_gym/DeliveryCurb-v0", n_envs=8)     # 1: record
    model = PPO("MlpPolicy", venv, **consent_kwargs(judge, mode="zero"))    # 2: gate
    model.learn(30_000, callback=ConsentCallback())                         # 3: pair

- :class:`ConsentRolloutBuffer` (PPO, A2C) judges each rollout's finished episodes in one
  batch before returns are computed; steps of running episodes wait for their verdict.
- :class:`ConsentReplayBuffer` (DQN, SAC, TD3) commits an episode's transitions only after
  it has been judged; vetoed ones never in ``"block"`` mode.
- :class:`ConsentCallback` feeds the buffers, skips updates with nothing approved, and logs
  ``consent/...`` values.
"""

from consent_gym.sb3.callback import ConsentCallback, gated_class, nothing_to_learn
from consent_gym.sb3.helpers import consent_kwargs, make_consent_vec_env, wrap_for_consent
from consent_gym.sb3.replay import ConsentDictReplayBuffer, ConsentReplayBuffer
from consent_gym.sb3.rollout import ConsentDictRolloutBuffer, ConsentRolloutBuffer

__all__ = [
    "ConsentCallback",
    "ConsentDictReplayBuffer",
    "ConsentDictRolloutBuffer",
    "ConsentReplayBuffer",
    "ConsentRolloutBuffer",
    "consent_kwargs",
    "gated_class",
    "make_consent_vec_env",
    "nothing_to_learn",
    "wrap_for_consent",
]
