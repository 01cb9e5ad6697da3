"""Side-by-side benchmarks: what consent gating costs, measured as ratios in one process.

These machines are noisy, so each benchmark interleaves its arms (raw, gated, raw, gated,
...) and reports medians and the ratio of medians rather than absolute numbers. One module
per thing measured (``consent-gym bench <what>`` runs each):

- :mod:`consent_gym.benchmarks.wrapper`: recording and rendering (env steps/s raw vs under
  :class:`~consent_gym.ConsentWrapper`);
- :mod:`consent_gym.benchmarks.judge`: an LLM judge's speed and its fraction of the CPU's
  matmul rate;
- :mod:`consent_gym.benchmarks.train`: gated vs ungated PPO wall time.
"""
