"""Benchmark episodes for judges that the project generates itself.

- :mod:`consent_gym.suites.harmless`: episodes of standard envs in which nobody can be
  harmed, rendered by the default renderer (every one must be approved).
- :mod:`consent_gym.suites.delivery_formats`: labelled delivery episodes written in formats
  the project's renderer never produces (JSON events, first-person accounts, ...).
"""
