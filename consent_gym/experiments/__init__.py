"""Reproductions of consent-gym's headline results (``consent-gym reproduce ...``).

- :mod:`consent_gym.experiments.delivery_curb`: plain PPO learns to run pedestrians over;
  consent-gated PPO learns the road.
- :mod:`consent_gym.experiments.ontological_drift`: a judge that cannot see inside boxes
  lets the agent hit boxes with people in them; a panel with an informed member stops it
  and flags the disagreements.
- :mod:`consent_gym.experiments.highway`: on highway-env, a driving env nobody here
  wrote, PPO gated by the default judge should crash less than plain PPO.
- :mod:`consent_gym.experiments.common`: judges, training and evaluation;
  :mod:`consent_gym.experiments.report` the table and ``results.json``,
  :mod:`consent_gym.experiments.plots` the plots. The episode metrics are the envs' own
  (:mod:`consent_gym.envs.metrics`), the benchmarks are in :mod:`consent_gym.benchmarks`.
"""
