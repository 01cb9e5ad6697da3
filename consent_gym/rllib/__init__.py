"""Consent-gated Ray RLlib (new API stack): the veto lands on each EnvRunner.

One line over a plain ``PPOConfig`` (see ``docs/rllib.md``)::

    config = PPOConfig().environment("consent_gym/DeliveryCurb-v0")
    config = consent_config(config, functools.partial(load_judge, "probe"), mode="zero")

- :func:`consent_config` wraps the env in :class:`~consent_gym.ConsentRecorder`, sets
  ``batch_mode="complete_episodes"`` and adds :class:`ConsentCallback`.
- :class:`ConsentCallback` judges each EnvRunner sample's episodes in one call to the
  decision step (:func:`consent_gym.gate.decide`) in ``on_sample_end`` and edits or drops
  the vetoed ones before they leave the EnvRunner.

The measured alternative placement, a learner-connector piece that judges on the Learner
before GAE, is :mod:`consent_gym.rllib.learner_connector` (not exported here:
``docs/rllib.md`` says why the callback is the default).
"""

from consent_gym.rllib.callback import ConsentCallback, check_batch_mode, check_fault_tolerance
from consent_gym.rllib.config import RecordedEnv, consent_config, register_recorded_env
from consent_gym.rllib.episodes import episode_piece, gate_episodes, vetoed_episode

__all__ = [
    "ConsentCallback",
    "RecordedEnv",
    "check_batch_mode",
    "check_fault_tolerance",
    "consent_config",
    "episode_piece",
    "gate_episodes",
    "register_recorded_env",
    "vetoed_episode",
]
